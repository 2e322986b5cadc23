import type { Command } from 'commander';
import { LocalIssuer } from '../../auth/index.js';
import type { SigningKey } from '../../client/index.js';
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

/** `sealbus keys rotate|list`: the local issuer's signing keys. */
export function register(program: Command): void {
  const keys = program.command('keys').description("rotate and list the broker's token signing keys");
  withConnectionOptions(
    keys
      .command('rotate')
      .description('add a signing key: new tokens use it, both are published, the old one is retired after the overlap')
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
      .description('the signing keys, newest first, with their state (active, previous, retired)')
      .option('--config <file>', 'read the key folder of this configuration instead of asking the API')
      .option('--json', 'print JSON'),
  ).action(async (flags: KeysFlags) => {
    const listed = flags.config !== undefined ? await localIssuer(flags.config).then(({ issuer }) => ({ issuer: issuer.issuer, keys: issuer.keyring.list() })) : await withAdmin(flags, (admin) => admin.listKeys());
    if (flags.json === true) return printJson(listed);
    printKeys(listed.issuer, listed.keys);
  });
}
