import type { Command } from 'commander';
import { LocalIssuer } from '../../auth/index.js';
import { PRIVATE_MODE, replaceFile } from '../../auth/private-files.js';
import type { ClientKeyInfo } from '../../client/admin-keys.js';
import type { SigningKey } from '../../client/index.js';
import { encodeKeyFile, generateClientKeys, publicKeysOf, readKeyFile, rotateEncryptionKey, writeKeyFile, type ClientKeys } from '../../payload/keys.js';
import { loadConfigFile } from '../../config/index.js';
import { printJson, withAdmin } from '../admin-client.js';
import { withConnectionOptions, type ConnectionFlags } from '../connection.js';
import { parseDuration } from '../options.js';

type KeysFlags = ConnectionFlags & { config?: string; json?: boolean };

async function localIssuer(configFile: string): Promise<{ issuer: LocalIssuer; overlapSec: number }> {
  const config = await loadConfigFile(configFile);
  const issuer = await LocalIssuer.loadOrCreate(config.auth.localIssuer.keyDir!, { issuer: config.auth.localIssuer.issuer });
  return { issuer, overlapSec: config.auth.localIssuer.rotationOverlapSec };
}

function printKeys(issuer: string, keys: readonly SigningKey[]): void {
  process.stdout.write(`issuer ${issuer}\n`);
  for (const key of keys) {
    const retire = key.retireAt === null ? '' : `  ${key.status === 'retired' ? 'retired' : 'retires'} ${new Date(key.retireAt).toISOString()}`;
    process.stdout.write(`${key.kid}  ${key.status.padEnd(8)}  created ${new Date(key.createdAt).toISOString()}${retire}\n`);
  }
}

function printClientKeys(keys: readonly ClientKeyInfo[]): void {
  for (const key of keys) {
    const revoked = key.revokedAt === undefined ? '' : `  revoked ${new Date(key.revokedAt).toISOString()} by ${key.revokedBy ?? '?'}${key.reason === undefined ? '' : ` (${key.reason})`}`;
    process.stdout.write(`${key.principal}  ${key.kind.padEnd(10)}  ${key.keyId}  ${key.status.padEnd(7)}  registered ${new Date(key.registeredAt).toISOString()}${revoked}\n`);
  }
}

/** `sealbus keys generate`: a new key file, or a rotation of the encryption key inside one. */
function registerGenerate(keys: Command): void {
  keys
    .command('generate')
    .description('create your end-to-end keys in a new file (mode 0600), or with --rotate replace the encryption key in one (the old one is kept to open older batches)')
    .option('--out <file>', 'the new key file; an existing file is never overwritten')
    .option('--principal <name>', 'the principal the keys are for, kept in the file (with --out)')
    .option('--rotate <file>', 'rotate the encryption key of this key file; register it again afterwards')
    .option('--json', 'print the public key ids as JSON')
    .action(async (flags: { out?: string; principal?: string; rotate?: string; json?: boolean }, command: Command) => {
      if ((flags.out === undefined) === (flags.rotate === undefined)) command.error('give exactly one of --out or --rotate');
      if (flags.rotate !== undefined && flags.principal !== undefined) command.error('--principal goes with --out');
      let file: string;
      let generated: ClientKeys;
      let previous: string | null = null;
      if (flags.out !== undefined) {
        file = flags.out;
        generated = generateClientKeys();
        await writeKeyFile(file, generated, flags.principal);
      } else {
        file = flags.rotate!;
        const { principal, ...current } = await readKeyFile(file);
        generated = rotateEncryptionKey(current);
        previous = publicKeysOf(current).encryption.keyId;
        // Atomic (rename), mode 0600: a crash leaves the old file or the new one, never half of one.
        await replaceFile(file, encodeKeyFile(generated, principal), PRIVATE_MODE);
      }
      const pub = publicKeysOf(generated);
      if (flags.json === true) return printJson({ file, encryptionKeyId: pub.encryption.keyId, signingKeyId: pub.signing.keyId, ...(previous !== null && { previousEncryptionKeyId: previous }) });
      process.stdout.write(`encryption key ${pub.encryption.keyId}\nsigning key    ${pub.signing.keyId}\n`);
      if (previous !== null) process.stdout.write(`previous encryption key ${previous} is kept in ${file} to open older batches\n`);
      process.stderr.write(`register the public keys with: sealbus keys register --keys ${file}\n`);
    });
}

/** `sealbus keys register|revoke`: the key directory of the broker. */
function registerDirectoryVerbs(keys: Command): void {
  withConnectionOptions(
    keys
      .command('register')
      .description('register the public halves of a key file for the principal you authenticate as (proving you hold the signing key)')
      .requiredOption('--keys <file>', 'the key file (sealbus keys generate)')
      .option('--json', 'print JSON'),
  ).action(async (flags: ConnectionFlags & { keys: string; json?: boolean }) => {
    const { principal, ...clientKeys } = await readKeyFile(flags.keys);
    const registered = await withAdmin(flags, (admin) => admin.registerClientKeys(clientKeys, principal));
    if (flags.json === true) return printJson(registered);
    process.stdout.write(`registered for ${registered.principal}\n`);
    printClientKeys([registered.encryption, registered.signing]);
  });
  withConnectionOptions(
    keys
      .command('revoke')
      .description('revoke a key: yours, or anyone\'s with manage-keys; a revoked signing key signs no new batch, a revoked encryption key gets no wrap')
      .argument('<keyId>', 'the key id (sealbus keys list); one that starts with "-" goes after "--": keys revoke -- -Xy...')
      .option('--reason <text>', 'why, kept with the revocation')
      .option('--json', 'print JSON'),
  ).action(async (keyId: string, flags: ConnectionFlags & { reason?: string; json?: boolean }) => {
    const result = await withAdmin(flags, (admin) => admin.revokeClientKey(keyId, flags.reason));
    if (flags.json === true) return printJson(result);
    process.stdout.write(result.revoked ? `revoked ${keyId}\n` : `${keyId} was already revoked\n`);
  });
}

/**
 * `sealbus keys`: clients' end-to-end keys (generate, register, list, revoke) and the broker's
 * token signing keys (rotate, list --issuer).
 */
export function register(program: Command): void {
  const keys = program.command('keys').description("end-to-end client keys (generate, register, list, revoke) and the broker's token signing keys (rotate, list --issuer)");
  registerGenerate(keys);
  registerDirectoryVerbs(keys);
  withConnectionOptions(
    keys
      .command('rotate')
      .description('add a token signing key: new tokens use it, both are published, the old one is retired after the overlap')
      .option('--overlap <duration>', 'how long the old key stays valid: 1h, 1d (default auth.localIssuer.rotationOverlapSec)', parseDuration)
      .option('--config <file>', 'rotate in the key folder of this configuration instead of through the API (running brokers notice within a second)')
      .option('--json', 'print JSON'),
  ).action(async (flags: KeysFlags & { overlap?: number }) => {
    let rotated: { kid: string; retiring: string; retireAt: number };
    if (flags.config !== undefined) {
      const { issuer, overlapSec } = await localIssuer(flags.config);
      rotated = await issuer.rotate((flags.overlap ?? overlapSec) * 1000);
    } else {
      rotated = await withAdmin(flags, (admin) => admin.rotateKeys(flags.overlap));
    }
    if (flags.json === true) return printJson(rotated);
    process.stdout.write(`new signing key ${rotated.kid}\nprevious key    ${rotated.retiring} is retired at ${new Date(rotated.retireAt).toISOString()}\n`);
  });
  withConnectionOptions(
    keys
      .command('list')
      .description('the key directory (client keys and their state: active, retired, revoked); with --issuer the token signing keys (active, previous, retired)')
      .option('--principal <name>', "only this principal's keys")
      .option('--issuer', "the broker's token signing keys instead, newest first")
      .option('--config <file>', 'with --issuer: read the key folder of this configuration instead of asking the API')
      .option('--json', 'print JSON'),
  ).action(async (flags: KeysFlags & { principal?: string; issuer?: boolean }, command: Command) => {
    if (flags.issuer === true) {
      if (flags.principal !== undefined) command.error('--principal lists client keys; it does not go with --issuer');
      const listed = flags.config !== undefined ? await localIssuer(flags.config).then(({ issuer }) => ({ issuer: issuer.issuer, keys: issuer.keyring.list() })) : await withAdmin(flags, (admin) => admin.listKeys());
      if (flags.json === true) return printJson(listed);
      printKeys(listed.issuer, listed.keys);
      return;
    }
    if (flags.config !== undefined) command.error('--config goes with --issuer (the token signing keys)');
    const listed = await withAdmin(flags, (admin) => admin.listClientKeys(flags.principal === undefined ? {} : { principal: flags.principal }));
    if (flags.json === true) return printJson({ keys: listed });
    printClientKeys(listed);
  });
}
