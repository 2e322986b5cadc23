import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, flattenedVerify, type JSONWebKeySet } from 'jose';
import { LocalIssuer, certificateThumbprint } from '../../auth/index.js';
import { PRIVATE_MODE, fileExists, writeNewFile } from '../../auth/private-files.js';
import type { IssuedToken, TokenInspection } from '../../client/index.js';
import { loadConfigFile } from '../../config/index.js';
import { SealbusError } from '../../errors/index.js';
import { printJson, withAdmin } from '../admin-client.js';
import { withConnectionOptions, type ConnectionFlags } from '../connection.js';
import { parseDuration, parseList, parseTime } from '../options.js';

const MAX_TOKEN_FILE_BYTES = 16_384;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function readBounded(file: string, what: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = file === '-' ? await readStdin() : await readFile(file);
  } catch (err) {
    throw new SealbusError('SEALBUS_ERR_TOKEN_REQUEST_INVALID', { reason: `cannot read ${what} ${file}: ${(err as Error).message}` });
  }
  if (bytes.length > MAX_TOKEN_FILE_BYTES) throw new SealbusError('SEALBUS_ERR_TOKEN_REQUEST_INVALID', { reason: `${what} ${file} is larger than ${MAX_TOKEN_FILE_BYTES} bytes` });
  return bytes.toString('utf8').trim();
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_TOKEN_FILE_BYTES) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

interface IssueFlags extends ConnectionFlags {
  sub: string;
  ttl?: number;
  groups: string[];
  scope: string[];
  bindCert?: string;
  aud?: string;
  out?: string;
  json?: boolean;
  config?: string;
}

/** Signs with the broker's own key folder: for operators bootstrapping the first administrator. */
async function issueLocally(flags: IssueFlags): Promise<IssuedToken> {
  const config = await loadConfigFile(flags.config!);
  const ttlSec = flags.ttl ?? config.auth.tokens.defaultTtlSec;
  if (ttlSec > config.auth.maxTokenAgeSec) {
    throw new SealbusError('SEALBUS_ERR_TOKEN_REQUEST_INVALID', {
      reason: `--ttl exceeds auth.maxTokenAgeSec (${config.auth.maxTokenAgeSec} s): the broker would refuse the token before it expires`,
    });
  }
  const thumbprint = flags.bindCert === undefined ? undefined : certificateThumbprint(await readBounded(flags.bindCert, 'certificate'));
  if (thumbprint === undefined && config.auth.localIssuer.requireBinding) {
    throw new SealbusError('SEALBUS_ERR_TOKEN_REQUEST_INVALID', {
      reason: 'tokens of this broker must be bound to a client certificate (auth.localIssuer.requireBinding): give --bind-cert',
    });
  }
  const issuer = await LocalIssuer.loadOrCreate(config.auth.localIssuer.keyDir!, { issuer: config.auth.localIssuer.issuer });
  const scopes = flags.scope.length === 0 ? null : flags.scope;
  const issued = await issuer.issueTokenWithClaims({
    sub: flags.sub,
    ttlSeconds: ttlSec,
    audience: flags.aud ?? config.auth.audience,
    ...(thumbprint !== undefined && { bindThumbprint: thumbprint }),
    ...(flags.groups.length > 0 && { groups: flags.groups }),
    ...(scopes !== null && { scopes }),
  });
  return { ...issued, sub: flags.sub, scopes, groups: flags.groups, bound: thumbprint !== undefined };
}

async function issueRemotely(flags: IssueFlags): Promise<IssuedToken> {
  if (flags.aud !== undefined) throw new SealbusError('SEALBUS_ERR_TOKEN_REQUEST_INVALID', { reason: '--aud needs --config: the API issues tokens for its own audience only' });
  const bindCertificate = flags.bindCert === undefined ? undefined : await readBounded(flags.bindCert, 'certificate');
  return withAdmin(flags, (admin) =>
    admin.issueToken({
      sub: flags.sub,
      ...(flags.ttl !== undefined && { ttlSec: flags.ttl }),
      ...(flags.groups.length > 0 && { groups: flags.groups }),
      ...(flags.scope.length > 0 && { scopes: flags.scope }),
      ...(bindCertificate !== undefined && { bindCertificate }),
    }),
  );
}

function describeIssued(issued: IssuedToken): string {
  const scopes = issued.scopes === null ? 'none (the policy alone decides)' : issued.scopes.join(' ');
  return [
    `jti       ${issued.jti}`,
    `subject   ${issued.sub}`,
    `expires   ${new Date(issued.expiresAt).toISOString()}`,
    `key       ${issued.kid}`,
    `scopes    ${scopes}`,
    `bound     ${issued.bound ? 'yes (cnf.x5t#S256)' : 'no'}`,
  ].join('\n');
}

function registerIssue(token: Command): void {
  withConnectionOptions(
    token
      .command('issue')
      .description('issue a token through the broker API (within your own rights), or with --config sign it with the broker key folder')
      .requiredOption('--sub <name>', 'the principal the token names')
      .option('--ttl <duration>', 'lifetime: 90s, 15m, 1h, 7d (default auth.tokens.defaultTtlSec)', parseDuration)
      .option('--groups <a,b>', 'groups the policy may match (comma-separated)', parseList, [])
      .option('--scope <scope>', 'narrow the token to action:pattern (repeatable), e.g. produce:orders.>', collect, [])
      .option('--bind-cert <file>', 'bind the token to this client certificate (RFC 8705)')
      .option('--aud <audience>', 'audience (with --config only; default auth.audience)')
      .option('--out <file>', 'write the token to this new file (mode 0600) instead of standard output')
      .option('--json', 'print a JSON object (with the token unless --out is given)')
      .option('--config <file>', 'sign locally with the key folder of this broker configuration (bootstrap)'),
  ).action(async (flags: IssueFlags) => {
    // Checked before issuing too, so that no token is minted only to be thrown away.
    if (flags.out !== undefined && (await fileExists(flags.out))) throw new SealbusError('SEALBUS_ERR_AUTH_FILE_EXISTS', { file: flags.out });
    const issued = flags.config !== undefined ? await issueLocally(flags) : await issueRemotely(flags);
    if (flags.out !== undefined) await writeNewFile(flags.out, `${issued.token}\n`, PRIVATE_MODE);
    if (flags.json === true) {
      const { token, ...rest } = issued;
      printJson(flags.out === undefined ? issued : { ...rest, file: flags.out });
      return void token;
    }
    if (flags.out === undefined) {
      // The token alone on standard output, so `$(sealbus token issue ...)` works; the rest on stderr.
      process.stdout.write(`${issued.token}\n`);
      process.stderr.write(`${describeIssued(issued)}\n`);
    } else {
      process.stdout.write(`${describeIssued(issued)}\nwritten   ${flags.out} (mode 0600)\n`);
    }
  });
}

function registerRevoke(token: Command): void {
  withConnectionOptions(
    token
      .command('revoke')
      .description('revoke one token (--jti) or every token of a principal issued before a time (--sub); durable, applies at once')
      .option('--jti <id>', 'the token id (jti) to revoke')
      .option('--issuer <iss>', 'with --jti: the issuer of the token (default: this broker)')
      .option('--sub <name>', 'revoke every token of this principal')
      .option('--before <time>', 'with --sub: issued before this time (now, ISO 8601 or ms; default now)', parseTime)
      .option('--reason <text>', 'why, kept with the revocation')
      .option('--json', 'print the revocation as JSON'),
  ).action(async (flags: ConnectionFlags & { jti?: string; issuer?: string; sub?: string; before?: number; reason?: string; json?: boolean }, command: Command) => {
    if ((flags.jti === undefined) === (flags.sub === undefined)) command.error('give exactly one of --jti or --sub');
    if (flags.jti === undefined && flags.issuer !== undefined) command.error('--issuer goes with --jti');
    if (flags.sub === undefined && flags.before !== undefined) command.error('--before goes with --sub');
    const reason = flags.reason === undefined ? {} : { reason: flags.reason };
    const result = await withAdmin(flags, (admin) =>
      admin.revokeToken(
        flags.jti !== undefined
          ? { jti: flags.jti, ...(flags.issuer !== undefined && { issuer: flags.issuer }), ...reason }
          : { sub: flags.sub!, ...(flags.before !== undefined && { before: flags.before }), ...reason },
      ),
    );
    if (flags.json === true) return printJson(result);
    const { entry } = result;
    const what = entry.kind === 'token' ? `token ${entry.jti} of ${entry.issuer}` : `every token of ${entry.principal} issued before ${new Date(entry.before).toISOString()}`;
    process.stdout.write(`${result.added ? 'revoked' : 'already revoked'}: ${what}\n`);
  });
}

function registerList(token: Command): void {
  withConnectionOptions(token.command('revocations').description('list the revocations in force').option('--json', 'print JSON')).action(
    async (flags: ConnectionFlags & { json?: boolean }) => {
      const list = await withAdmin(flags, (admin) => admin.listRevocations());
      if (flags.json === true) return printJson(list);
      for (const entry of list) {
        const what = entry.kind === 'token' ? `jti ${entry.jti} (${entry.issuer})` : `sub ${entry.principal} before ${new Date(entry.before).toISOString()}`;
        process.stdout.write(`${what}  revoked ${new Date(entry.revokedAt).toISOString()} by ${entry.by ?? '?'}${entry.reason === null ? '' : `: ${entry.reason}`}\n`);
      }
      if (list.length === 0) process.stdout.write('no revocations in force\n');
    },
  );
}

/** Local checks first (shape, key in the broker's JWKS, signature), then the broker's own verdict. */
async function inspect(file: string, flags: ConnectionFlags & { checkCert?: string; json?: boolean }): Promise<TokenInspection & { signature: string }> {
  const token = await readBounded(file, 'token file');
  try {
    decodeProtectedHeader(token);
    decodeJwt(token);
  } catch {
    throw new SealbusError('SEALBUS_ERR_AUTH_TOKEN_MALFORMED', { reason: `${file} does not hold a JWT (header.payload.signature)` });
  }
  const thumbprint = flags.checkCert === undefined ? undefined : certificateThumbprint(await readBounded(flags.checkCert, 'certificate'));
  return withAdmin(flags, async (admin) => {
    const [jwks, verdict] = await Promise.all([admin.jwks(), admin.inspectToken(token, thumbprint)]);
    let signature: string;
    const [header, payload, sig] = token.split('.');
    try {
      await flattenedVerify({ protected: header!, payload: payload!, signature: sig! }, createLocalJWKSet(jwks as JSONWebKeySet));
      signature = 'verifies with a key of the broker JWKS';
    } catch {
      signature = 'does not verify with any key the broker publishes now (a retired key, another issuer, or altered)';
    }
    return { ...verdict, signature };
  });
}

function registerInspect(token: Command): void {
  withConnectionOptions(
    token
      .command('inspect')
      .argument('<file>', 'file holding the token ("-": standard input)')
      .description('decode a token and check it against the broker: exits 0 when it would be accepted, 3 when not (and says why)')
      .option('--check-cert <file>', 'check the binding against this client certificate (default: the one the token names)')
      .option('--json', 'print JSON'),
  ).action(async (file: string, flags: ConnectionFlags & { checkCert?: string; json?: boolean }) => {
    const result = await inspect(file, flags);
    if (!result.valid) process.exitCode = 3;
    if (flags.json === true) return printJson(result);
    const out = (line: string): void => void process.stdout.write(`${line}\n`);
    out(`header     ${JSON.stringify(result.header)}`);
    out(`claims     ${JSON.stringify(result.claims)}`);
    const claims = result.claims ?? {};
    if (typeof claims.exp === 'number') out(`expires    ${new Date(claims.exp * 1000).toISOString()}`);
    if (result.key !== null) out(`key        ${result.key.kid} (${result.key.status})`);
    out(`signature  ${result.signature}`);
    out(result.valid ? 'verdict    accepted by the broker' : `verdict    rejected: ${result.code}: ${result.message}`);
  });
}

/** `sealbus token issue|revoke|revocations|inspect`. */
export function register(program: Command): void {
  const token = program.command('token').description('issue, revoke and inspect client tokens');
  registerIssue(token);
  registerRevoke(token);
  registerList(token);
  registerInspect(token);
}
