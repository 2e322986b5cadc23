import { readFileSync } from 'node:fs';
import {
  connect,
  credsAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { SealbusError } from '../../errors/index.js';
import { reasonOf } from './nats-errors.js';

/** How a broker reaches NATS: the servers, TLS, and at most one way to authenticate. Files are paths, read at each (re)connect so they can rotate. */
export interface NatsConnectOptions {
  readonly servers: readonly string[];
  /** CA bundle to verify the servers, and a client certificate and key for mutual TLS. Setting it requires TLS. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** A NATS `.creds` file (user JWT and nkey seed). */
  readonly credentialsFile?: string;
  /** A file holding a NATS token. */
  readonly tokenFile?: string;
  /** A NATS user, with its password in `passwordFile`. */
  readonly user?: string;
  readonly passwordFile?: string;
  /** Shown by the server's monitoring, to tell brokers apart. */
  readonly name?: string;
  readonly timeoutMs?: number;
}

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason });
}

/** Reads a secret file; an error names the file, never its content. */
function secretFile(path: string, what: string): () => string {
  return () => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new SealbusError('SEALBUS_ERR_STORE_UNAVAILABLE', { what: 'NATS connection', reason: `cannot read the ${what} file ${path}` }, { cause: err });
    }
  };
}

function authenticator(options: NatsConnectOptions): Authenticator | undefined {
  const ways = [options.credentialsFile, options.tokenFile, options.user].filter((way) => way !== undefined);
  if (ways.length > 1) throw invalid('use one of credentialsFile, tokenFile or user + passwordFile');
  if (options.credentialsFile !== undefined) {
    const file = options.credentialsFile;
    secretFile(file, 'credentials')();
    return credsAuthenticator(() => new TextEncoder().encode(secretFile(file, 'credentials')()));
  }
  if (options.tokenFile !== undefined) {
    const read = secretFile(options.tokenFile, 'token');
    read();
    return tokenAuthenticator(read);
  }
  if (options.user !== undefined) {
    if (options.passwordFile === undefined) throw invalid('user needs passwordFile');
    const read = secretFile(options.passwordFile, 'password');
    read();
    return usernamePasswordAuthenticator(options.user, read);
  }
  if (options.passwordFile !== undefined) throw invalid('passwordFile needs user');
  return undefined;
}

function connectOptions(options: NatsConnectOptions): NodeConnectionOptions {
  if (!Array.isArray(options.servers) || options.servers.length === 0 || !options.servers.every((s) => typeof s === 'string' && s.length > 0)) {
    throw invalid('servers lists at least one NATS server URL');
  }
  // A URL with user:password@ would put a secret in logs and errors.
  if (options.servers.some((server) => server.includes('@'))) throw invalid('servers carry no credentials: use credentialsFile, tokenFile or user + passwordFile');
  const auth = authenticator(options);
  const tls = options.tls;
  if (tls !== undefined && (tls.cert === undefined) !== (tls.key === undefined)) throw invalid('tls.cert and tls.key go together');
  return {
    servers: [...options.servers],
    name: options.name ?? 'sealbus',
    timeout: options.timeoutMs ?? 5000,
    // A broker outlives NATS restarts and leader elections: reconnect for ever, buffering nothing unacknowledged.
    maxReconnectAttempts: -1,
    ...(auth !== undefined && { authenticator: auth }),
    ...(tls !== undefined && {
      tls: {
        ...(tls.ca !== undefined && { caFile: tls.ca }),
        ...(tls.cert !== undefined && { certFile: tls.cert }),
        ...(tls.key !== undefined && { keyFile: tls.key }),
      },
    }),
  };
}

export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  const settings = connectOptions(options);
  try {
    return await connect(settings);
  } catch (err) {
    throw new SealbusError('SEALBUS_ERR_STORE_UNAVAILABLE', { what: `NATS at ${options.servers.join(', ')}`, reason: reasonOf(err) }, { cause: err });
  }
}
