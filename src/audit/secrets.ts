/**
 * The last line of defence against a secret in the audit log: the log is read by auditors,
 * exported, and kept for years, so a token, a key or a payload that reaches it has leaked. The
 * callers build events from names, ids and counts; this check catches the bug that passes a token
 * or a key anyway. It recognizes the shapes of sealbus' own secrets: compact JWS/JWE tokens, PEM
 * blocks and private JWKs.
 */
import { SealbusError, isSealbusError } from '../errors/index.js';
import { parseJson } from '../json/safe-json.js';
import { MAX_CANONICAL_DEPTH } from './canonical-json.js';

// Three or more base64url parts joined by dots: a JWS (header.payload.signature, the signature
// may be empty for alg "none") or the first three parts of a JWE.
const DOTTED_PARTS = /[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const PEM_BOUNDARY = /-----\s*BEGIN/i;

function refuse(path: string, what: string): SealbusError {
  // The reason names where the secret is, never the secret itself.
  return new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason: `${path} ${what}; an audit event never carries a token, a key or a payload` });
}

/** The shortest JOSE header, `{"alg":""}`, is 14 base64url characters. */
const MIN_HEADER_CHARS = 14;

function isJoseHeader(part: string): boolean {
  if (part.length < MIN_HEADER_CHARS) return false;
  const text = Buffer.from(part, 'base64url').toString('utf8');
  // Only text that opens an object is worth parsing (a failed parse costs an exception).
  if (!text.trimStart().startsWith('{')) return false;
  let decoded: unknown;
  try {
    decoded = parseJson(text, 'JOSE header');
  } catch (err) {
    // JSON that a JOSE library would still read (a deep or huge-number header) counts as a
    // header: this check errs on the side of keeping a token out of the log.
    return isSealbusError(err, 'SEALBUS_ERR_JSON_LIMIT');
  }
  return typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded) && Object.hasOwn(decoded, 'alg');
}

/** Whether `text` contains a compact JWT (JWS or JWE) anywhere, not only as the whole string. */
export function containsJwt(text: string): boolean {
  // Cheap exits first: every event passes through here. A JWT has two dots and an "e".
  const dot = text.indexOf('.');
  if (dot === -1 || text.indexOf('.', dot + 1) === -1 || !text.includes('e')) return false;
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

/** What is wrong with `text`, or null. */
function stringProblem(text: string): string | null {
  if (text.includes('-----') && PEM_BOUNDARY.test(text)) return 'holds a PEM block';
  if (containsJwt(text)) return 'looks like a JWT';
  return null;
}

/**
 * Paths are built only on the way out of a refusal (`at` prepends each level's step), never for
 * the values that pass: this check runs on every event of the hot path.
 */
class Refusal {
  constructor(
    public path: string,
    readonly what: string,
  ) {}

  at(step: string): Refusal {
    this.path = step + this.path;
    return this;
  }
}

function walk(value: unknown, depth: number): Refusal | null {
  if (typeof value === 'string') {
    const problem = stringProblem(value);
    return problem === null ? null : new Refusal('', problem);
  }
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= MAX_CANONICAL_DEPTH) return new Refusal('', 'is nested too deeply');
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const refusal = walk(value[index], depth + 1);
      if (refusal !== null) return refusal.at(`[${index}]`);
    }
    return null;
  }
  const record = value as Record<string, unknown>;
  // A JWK with "d" is a private key (OKP, EC, RSA), with "k" a symmetric one.
  if (typeof record['kty'] === 'string' && (Object.hasOwn(record, 'd') || Object.hasOwn(record, 'k'))) {
    return new Refusal('', 'is a private or secret JWK');
  }
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const keyProblem = stringProblem(key);
    if (keyProblem !== null) return new Refusal(' (a field name)', keyProblem);
    const refusal = walk(record[key], depth + 1);
    if (refusal !== null) return refusal.at(`.${key}`);
  }
  return null;
}

/**
 * Throws SEALBUS_ERR_AUDIT_INVALID when any string of `value` (field names included) looks like
 * a JWT or holds a PEM block, or when an object of it is a private JWK. `path` names the value
 * in the reason.
 */
export function assertNoSecrets(value: unknown, path = 'event'): void {
  const refusal = walk(value, 0);
  if (refusal === null) return;
  const where = path + refusal.path;
  if (refusal.what === 'is nested too deeply') throw new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason: `${where} is nested too deeply` });
  throw refuse(where, refusal.what);
}
