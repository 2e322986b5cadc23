import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  createCrl,
  identifyClient,
  issueCertificate,
  loadTlsMaterial,
  type TlsServerMaterial,
} from '../../src/auth/index.js';
import { isSealbusError } from '../../src/errors/index.js';
import { latch, withDeadline } from './helpers/deadline.js';
import { createPki, tempDir, type Pki } from './helpers/pki.js';
import { outcome, startTlsHarness, type TlsHarness } from './helpers/tls-harness.js';

interface Setup {
  pki: Pki;
  material: TlsServerMaterial;
  harness: TlsHarness;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<Setup> {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  const pki = await createPki(dir.path);
  const material = await loadTlsMaterial({ ...pki.files, watchDebounceMs: 20 });
  const harness = await startTlsHarness(material, pki.ca.certPem);
  cleanups.push(() => harness.close());
  return { pki, material, harness };
}

async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    return isSealbusError(err) ? err.code : String(err);
  }
}

describe('reloading certificates and CRLs without a restart', () => {
  it('rejects a live connection whose certificate was revoked after it connected', async () => {
    const { pki, material, harness } = await setup();
    const mallory = await pki.client('mallory');
    const connection = await harness.connect(mallory);
    const identity = identifyClient(connection.serverSocket, material);
    expect(material.isRevoked(identity)).toBe(false);

    await pki.revoke(mallory);
    expect(await material.reload()).toBe(true);

    expect(material.isRevoked(identity)).toBe(true);
    expect(outcome(connection, material)).toBe('SEALBUS_ERR_AUTH_CERT_REVOKED');
  });

  it('rejects a revoked certificate on a new handshake even before the server swaps its TLS context', async () => {
    const { pki, material, harness } = await setup();
    const mallory = await pki.client('mallory');
    await pki.revoke(mallory);
    await material.reload();
    // The listening socket still holds the old CRL, so OpenSSL accepts; identifyClient must not.
    const connection = await harness.connect(mallory);
    expect(connection.serverSocket.authorized).toBe(true);
    expect(outcome(connection, material)).toBe('SEALBUS_ERR_AUTH_CERT_REVOKED');
  });

  it('picks up a new CRL through watch() and tells the server', async () => {
    const { pki, material, harness } = await setup();
    const mallory = await pki.client('mallory');
    const connection = await harness.connect(mallory);
    expect(outcome(connection, material)).toBe('ok:mallory');
    const changed = latch();
    const errors: unknown[] = [];
    const stop = material.watch(changed.signal, (err) => errors.push(err));
    cleanups.push(async () => stop());

    const next = changed.wait();
    await pki.revoke(mallory);
    await withDeadline(next, 5_000, 'the reload after the CRL changed');

    expect(errors).toEqual([]);
    expect(outcome(connection, material)).toBe('SEALBUS_ERR_AUTH_CERT_REVOKED');
    harness.refreshSecureContext();
    expect(outcome(await harness.connect(mallory), material)).toBe('SEALBUS_ERR_AUTH_CERT_REVOKED');
  });

  it('keeps the current material when the new files are bad, and reports it', async () => {
    const { pki, material, harness } = await setup();
    const alice = await pki.client('alice');
    const generation = material.generation;
    const refused = latch<unknown>();
    const stop = material.watch(() => undefined, refused.signal);
    cleanups.push(async () => stop());

    const next = refused.wait();
    await writeFile(pki.files.crlFile, '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
    const err = await withDeadline(next, 5_000, 'the refusal of the corrupt CRL');

    expect(isSealbusError(err, 'SEALBUS_ERR_AUTH_MATERIAL_INVALID')).toBe(true);
    expect(String((err as Error).message)).toContain(pki.files.crlFile);
    expect(material.generation).toBe(generation);
    expect(await rejectionCode(material.reload())).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    expect(outcome(await harness.connect(alice), material)).toBe('ok:alice');
  });

  it('refuses a CRL signed by another CA, keeping the old one', async () => {
    const { pki, material } = await setup();
    const other = await createCertificateAuthority({ commonName: 'Test CA' });
    await writeFile(pki.files.crlFile, await createCrl({ ca: other, revoked: [] }));
    expect(await rejectionCode(material.reload())).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
  });

  it('swaps a rotated server certificate only once its key matches', async () => {
    const { pki, material } = await setup();
    const rotated = await issueCertificate({ ca: pki.ca, commonName: 'broker', server: { hosts: ['127.0.0.1'] } });
    const before = material.serverOptions().cert;
    await writeFile(pki.files.certFile, rotated.certPem);
    expect(await rejectionCode(material.reload())).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    expect(material.serverOptions().cert).toBe(before);
    await writeFile(pki.files.keyFile, rotated.keyPem);
    expect(await material.reload()).toBe(true);
    expect(material.serverOptions().cert).toBe(rotated.certPem);
  });

  it('rejects live connections of a CA removed from the bundle', async () => {
    const { pki, material, harness } = await setup();
    const connection = await harness.connect(await pki.client('alice'));
    expect(outcome(connection, material)).toBe('ok:alice');

    const replacement = await createCertificateAuthority({ commonName: 'New CA' });
    await writeFile(pki.files.caFile, replacement.certPem);
    await writeFile(pki.files.crlFile, await createCrl({ ca: replacement, revoked: [] }));
    expect(await material.reload()).toBe(true);

    expect(outcome(connection, material)).toBe('SEALBUS_ERR_AUTH_CERT_UNTRUSTED');
  });

  it('does not start a new generation when the files did not change', async () => {
    const { material } = await setup();
    const generation = material.generation;
    expect(await material.reload()).toBe(false);
    expect(material.generation).toBe(generation);
  });
});
