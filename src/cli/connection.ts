import type { Command } from 'commander';
import { connectionOptionsFromEnv, type ConnectionOptions } from '../client/index.js';

export interface ConnectionFlags {
  readonly url?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly certKey?: string;
  readonly tokenFile?: string;
}

/** Adds the connection flags every client verb shares; each falls back to its SEALBUS_* variable. */
export function withConnectionOptions(command: Command): Command {
  return command
    .option('--url <urls>', 'broker URL, https://host:port; several brokers of one cluster separated by commas, tried in turn (default $SEALBUS_URL)')
    .option('--ca <file>', 'CA certificate to trust (default $SEALBUS_CA)')
    .option('--cert <file>', 'client certificate (default $SEALBUS_CERT)')
    .option('--cert-key <file>', 'private key of the client certificate (default $SEALBUS_KEY)')
    .option('--token-file <file>', 'file holding the bearer token (default $SEALBUS_TOKEN or $SEALBUS_TOKEN_FILE)');
}

/**
 * Connection options from the flags, then the environment. A token is never taken as a flag:
 * command lines are visible to every user of the machine.
 */
export function connectionFrom(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ConnectionOptions {
  const merged: Record<string, string | undefined> = { ...env };
  if (flags.url !== undefined) merged.SEALBUS_URL = flags.url;
  if (flags.ca !== undefined) merged.SEALBUS_CA = flags.ca;
  if (flags.cert !== undefined) merged.SEALBUS_CERT = flags.cert;
  if (flags.certKey !== undefined) merged.SEALBUS_KEY = flags.certKey;
  if (flags.tokenFile !== undefined) {
    merged.SEALBUS_TOKEN_FILE = flags.tokenFile;
    delete merged.SEALBUS_TOKEN;
  }
  return connectionOptionsFromEnv(merged);
}
