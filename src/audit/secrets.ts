/**
 * The last line of defence against a secret in the audit log: the log is read by auditors,
 * exported, and kept for years, so a token, a key or a payload that reaches it has leaked. The
 * callers build events from names, ids and counts; this check catches the bug that passes a token
 * or a key anyway. It recognizes the shapes of sealbus' own secrets: compact JWS/JWE tokens, PEM
 * blocks and private JWKs.
 */
import { SealbusError } from '../errors/index.js';
import { MAX_CANONICAL_DEPTH } from './canonical-json.js';

// Three or more base64url parts joined by dots: a JWS (header.payload.signature, the signature
// may be empty for alg "none") or the first three parts of a JWE.
const DOTTED_PARTS = /[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const PEM_BOUNDARY = /-----\s*BEGIN/i;

function refuse(path: string, what: string): SealbusError {
  // The reason names where the secret is, never the secret itself.
  return new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason: `${path} ${what}; an audit event never carries a token, a key or a payload` });
}

function isJoseHeader(part: string): boolean {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return false;
  }
  return typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded) && Object.hasOwn(decoded, 'alg');
}

/** Whether `text` contains a compact JWT (JWS or JWE) anywhere, not only as the whole string. */
export function containsJwt(text: string): boolean {
  for (const match of text.matchAll(DOTTED_PARTS)) {
    const header = match[0].slice(0, match[0].indexOf('.'));
    // A JOSE header is a JSON object, so its base64url starts with "e" ("{" is 0x7B); trying
    // each "e" also finds a token glued to other base64url characters ("xeyJhbGciOi...").
    for (let start = header.indexOf('e'); start !== -1; start = header.indexOf('e', start + 1)) {
      if (isJoseHeader(header.slice(start))) return true;
    }
  }
  return false;
}

function checkString(text: string, path: string): void {
  if (PEM_BOUNDARY.test(text)) throw refuse(path, 'holds a PEM block');
  if (containsJwt(text)) throw refuse(path, 'looks like a JWT');
}

function walk(value: unknown, path: string, depth: number): void {
  if (typeof value === 'string') {
    checkString(value, path);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (depth >= MAX_CANONICAL_DEPTH) throw new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason: `${path} is nested too deeply` });
  if (Array.isArray(value)) {
    value.forEach((item: unknown, index) => walk(item, `${path}[${index}]`, depth + 1));
    return;
  }
  const record = value as Record<string, unknown>;
  // A JWK with "d" is a private key (OKP, EC, RSA), with "k" a symmetric one.
  if (typeof record['kty'] === 'string' && (Object.hasOwn(record, 'd') || Object.hasOwn(record, 'k'))) {
    throw refuse(path, 'is a private or secret JWK');
  }
  for (const [key, item] of Object.entries(record)) {
    checkString(key, `${path} (a field name)`);
    walk(item, `${path}.${key}`, depth + 1);
  }
}

/**
 * Throws SEALBUS_ERR_AUDIT_INVALID when any string of `value` (field names included) looks like
 * a JWT or holds a PEM block, or when an object of it is a private JWK. `path` names the value
 * in the reason.
 */
export function assertNoSecrets(value: unknown, path = 'event'): void {
  walk(value, path, 0);
}
