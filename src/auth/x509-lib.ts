// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect
// metadata API before the library is evaluated. Every file of src/auth imports the library through
// this module so that the order is guaranteed in one place.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// Pin the provider to Node's WebCrypto instead of whatever `globalThis.crypto` happens to be.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
