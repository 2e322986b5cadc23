/**
 * The audit event: a CloudEvents 1.0 event in structured JSON mode, with two sealbus extension
 * attributes that chain it into the log (`sealbusseq`, `sealbusprev`). Events are built here and
 * nowhere else, so every event in the log is bounded, free of control characters and free of
 * anything that looks like a secret.
 */
import { randomUUID as nodeRandomUUID } from 'node:crypto';
import { SealbusError } from '../errors/index.js';
import { canonicalBytes, sha256Hex } from './canonical-json.js';
import { assertNoSecrets } from './secrets.js';

/** Every kind of event the audit log records. */
export const AUDIT_EVENT_TYPES = [
  'sealbus.auth.success',
  'sealbus.auth.failure',
  'sealbus.authz.decision',
  'sealbus.data.produce',
  'sealbus.data.consume',
  'sealbus.admin.topic.create',
  'sealbus.admin.topic.delete',
  'sealbus.admin.group.reset',
  'sealbus.admin.group.delete',
  'sealbus.admin.schema.register',
  'sealbus.admin.schema.settings',
  'sealbus.policy.reload',
  'sealbus.token.issue',
  'sealbus.token.revoke',
  'sealbus.keys.rotate',
  'sealbus.keys.register',
  'sealbus.keys.revoke',
  'sealbus.broker.start',
  'sealbus.broker.stop',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** The `data` fields an event of each type must have; the others are optional. */
export const AUDIT_REQUIRED_DATA: { readonly [type in AuditEventType]: readonly string[] } = {
  'sealbus.auth.success': ['principal'],
  'sealbus.auth.failure': ['code'],
  'sealbus.authz.decision': ['principal', 'action', 'resource', 'decision'],
  'sealbus.data.produce': ['principal', 'resource'],
  'sealbus.data.consume': ['principal', 'resource'],
  'sealbus.admin.topic.create': ['principal', 'resource'],
  'sealbus.admin.topic.delete': ['principal', 'resource'],
  'sealbus.admin.group.reset': ['principal', 'resource'],
  'sealbus.admin.group.delete': ['principal', 'resource'],
  'sealbus.admin.schema.register': ['principal', 'resource'],
  'sealbus.admin.schema.settings': ['principal', 'resource'],
  'sealbus.policy.reload': [],
  'sealbus.token.issue': ['principal', 'tokenId'],
  'sealbus.token.revoke': ['principal'],
  'sealbus.keys.rotate': ['principal', 'keyId'],
  'sealbus.keys.register': ['principal', 'keyId'],
  'sealbus.keys.revoke': ['principal', 'keyId'],
  'sealbus.broker.start': [],
  'sealbus.broker.stop': [],
};

export const MAX_AUDIT_STRING_LENGTH = 1024;
/** `data` is depth 1, an object or array inside it depth 2, and so on. */
export const MAX_AUDIT_DATA_DEPTH = 4;
/** Canonical bytes of a whole event, chain attributes included. */
export const MAX_AUDIT_EVENT_BYTES = 16 * 1024;
/** Room kept for `sealbusseq` and `sealbusprev`, which are added after the body is checked. */
const CHAIN_ATTRIBUTES_BYTES = 128;
/**
 * The body's attribute names, quotes, colons, commas and braces around the values (`specversion`
 * and `datacontenttype` included with theirs): 160 bytes, rounded up.
 */
const BODY_ATTRIBUTES_BYTES = 192;

export type AuditValue = string | number | boolean | null | readonly AuditValue[] | { readonly [field: string]: AuditValue };

/**
 * What an event says. The named fields are checked for their type; other fields (names of
 * letters, digits and `_`, at most 64 characters) may hold any bounded JSON value.
 */
export interface AuditEventData {
  /** Who acted: the principal name (`spiffe://...`, `user:alice`, ...). */
  readonly principal?: string;
  /** The client certificate that authenticated: subject and base64url SHA-256 thumbprint (`x5t#S256`). */
  readonly certificate?: { readonly subject?: string; readonly thumbprint?: string };
  /** The `jti` of the token presented or issued; never the token. */
  readonly tokenId?: string;
  readonly sourceIp?: string;
  readonly sessionId?: string;
  /** The request that caused the event (`x-request-id`, the `reqId` of the broker's log lines). */
  readonly requestId?: string;
  /** The policy action (`produce`, `consume`, `create-topic`, ...). */
  readonly action?: string;
  /** The resource acted on (`topic:orders`, `group:billing`, `cluster`). */
  readonly resource?: string;
  readonly decision?: 'allow' | 'deny';
  /** The id of the policy rule that decided, or the default deny. */
  readonly rule?: string;
  /** A `SEALBUS_ERR_*` code: why authentication or an operation failed. */
  readonly code?: string;
  readonly reason?: string;
  /** Data plane: partition, number of records and bytes, and the offset range of a batch. */
  readonly partition?: number;
  readonly records?: number;
  readonly bytes?: number;
  readonly firstOffset?: number;
  readonly lastOffset?: number;
  /** Key rotation: the new key's id (RFC 7638 thumbprint). */
  readonly keyId?: string;
  readonly [field: string]: AuditValue | undefined;
}

/** An event before it is chained: what `buildEvent` returns and `AuditChain.append` takes. */
export interface AuditEventBody {
  readonly specversion: '1.0';
  /** A UUID. */
  readonly id: string;
  /** The broker that wrote the event, `sealbus://<broker-id>`. */
  readonly source: string;
  readonly type: AuditEventType;
  /** RFC 3339, UTC. */
  readonly time: string;
  readonly datacontenttype: 'application/json';
  /** The resource the event is about, e.g. `topic:orders`. */
  readonly subject?: string;
  readonly data: AuditEventData;
}

/** An event of the log. Its hash is SHA-256 over its canonical JSON, chain attributes included. */
export interface AuditEvent extends AuditEventBody {
  /** 0-based position of the event in the chain (CloudEvents extension attribute). */
  readonly sealbusseq: number;
  /** Hex SHA-256 of the previous event's canonical bytes; 64 zeros for the first event. */
  readonly sealbusprev: string;
}

export interface AuditEventInput {
  readonly type: AuditEventType;
  readonly source: string;
  readonly subject?: string;
  readonly data?: AuditEventData;
  /** Defaults to a random UUID. */
  readonly id?: string;
  /** Defaults to the clock's now. */
  readonly time?: Date | string;
}

/** What events depend on besides their input, injected so that tests are deterministic. */
export interface AuditEventEnvironment {
  readonly now?: () => Date;
  readonly randomUUID?: () => string;
}

const BODY_FIELDS = new Set(['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'subject', 'data']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
// C0 and C1 controls, and the invisible bidirectional formatting characters that make a line
// read differently from what it holds (CVE-2021-42574).
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const STRING_FIELDS = ['principal', 'tokenId', 'sourceIp', 'sessionId', 'requestId', 'action', 'resource', 'rule', 'code', 'reason', 'keyId'];
const COUNT_FIELDS = ['partition', 'records', 'bytes', 'firstOffset', 'lastOffset'];
const AUDIT_TYPE_SET: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);

export function isAuditEventType(type: unknown): type is AuditEventType {
  return typeof type === 'string' && AUDIT_TYPE_SET.has(type);
}

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUDIT_INVALID', { reason });
}

/** What is wrong with a non-empty text field, or null. */
function textProblem(value: string): string | null {
  if (value.length > MAX_AUDIT_STRING_LENGTH) return `is longer than ${MAX_AUDIT_STRING_LENGTH} characters`;
  if (CONTROL.test(value)) return 'contains a control character';
  return null;
}

function checkText(value: unknown, path: string): string {
  if (typeof value !== 'string') throw invalid(`${path} must be a string`);
  if (value.length === 0) throw invalid(`${path} must not be empty`);
  const problem = textProblem(value);
  if (problem !== null) throw invalid(`${path} ${problem}`);
  return value;
}

/**
 * The path of a field for an error: `parent` and the step to it (a key, an array index, or '' for
 * `parent` itself). Built only when an error names it: every event's fields pass through copyValue.
 */
function pathOf(parent: string, step: string | number): string {
  if (typeof step === 'number') return `${parent}[${step}]`;
  return step === '' ? parent : `${parent}.${step}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** What `copyValue` counts: `left` falls by at least, `worst` rises by at most, each part's canonical bytes. */
interface Budget {
  left: number;
  worst: number;
}

/**
 * The most UTF-8 bytes a JSON string of `length` UTF-16 units can take, quotes included: each unit
 * is at most 6 bytes (an escape `\uXXXX`, or up to 3 bytes unescaped).
 */
function worstStringBytes(length: number): number {
  return 6 * length + 2;
}

/** The longest JSON form of a finite number (`-2.2250738585072014e-308`), with room to spare. */
const WORST_NUMBER_BYTES = 25;

/**
 * Copies `value` into fresh plain data, checking every bound on the way. `budget.left` counts at
 * least the bytes each part will take in canonical form, so a huge input stops early without
 * refusing an event that fits; `budget.worst` counts at most, so that an event clearly within the
 * limit needs no exact measure (the exact size is checked on the canonical bytes otherwise).
 */
function copyValue(value: unknown, parent: string, step: string | number, depth: number, budget: Budget): AuditValue {
  budget.left -= 1;
  budget.worst += 1; // the comma or colon before it
  if (budget.left < 0) throw invalid(`the event is larger than ${MAX_AUDIT_EVENT_BYTES} bytes`);
  if (value === null || typeof value === 'boolean') {
    budget.worst += 5;
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(`${pathOf(parent, step)} must be a finite number`);
    budget.worst += WORST_NUMBER_BYTES;
    return value;
  }
  if (typeof value === 'string') {
    budget.left -= value.length + 2;
    budget.worst += worstStringBytes(value.length);
    const problem = value.length === 0 ? null : textProblem(value);
    if (problem !== null) throw invalid(`${pathOf(parent, step)} ${problem}`);
    return value;
  }
  const path = pathOf(parent, step);
  if (depth >= MAX_AUDIT_DATA_DEPTH) throw invalid(`${path} is nested deeper than ${MAX_AUDIT_DATA_DEPTH} levels`);
  budget.worst += 2;
  if (Array.isArray(value)) return value.map((item: unknown, index) => copyValue(item, path, index, depth + 1, budget));
  if (!isPlainObject(value)) throw invalid(`${path} must be a string, a number, a boolean, null, an array or a plain object`);
  const copy: Record<string, AuditValue> = {};
  // for-in over own keys: no array of keys (or of [key, value] pairs) per object; every event passes here.
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = value[key];
    if (item === undefined) continue;
    if (!FIELD_NAME.test(key)) throw invalid(`${path} has a field name that is not letters, digits and _ (at most 64): ${JSON.stringify(key.slice(0, 64))}`);
    budget.left -= key.length + 3;
    budget.worst += key.length + 3; // field names are ASCII letters, digits and _
    copy[key] = copyValue(item, path, key, depth + 1, budget);
  }
  return copy;
}

function checkKnownFields(data: Record<string, AuditValue>, type: AuditEventType): void {
  for (const field of STRING_FIELDS) {
    const value = data[field];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) throw invalid(`data.${field} must be a non-empty string`);
  }
  for (const field of COUNT_FIELDS) {
    const value = data[field];
    if (value !== undefined && !(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) {
      throw invalid(`data.${field} must be a non-negative integer`);
    }
  }
  if ('decision' in data && data['decision'] !== 'allow' && data['decision'] !== 'deny') throw invalid('data.decision must be "allow" or "deny"');
  const certificate = data['certificate'];
  if (certificate !== undefined) {
    if (!isPlainObject(certificate)) throw invalid('data.certificate must be an object');
    for (const [key, value] of Object.entries(certificate)) {
      if (key !== 'subject' && key !== 'thumbprint') throw invalid(`data.certificate.${key} is not a field of a certificate (subject, thumbprint)`);
      if (typeof value !== 'string') throw invalid(`data.certificate.${key} must be a string`);
    }
  }
  for (const field of AUDIT_REQUIRED_DATA[type]) {
    if (!(field in data)) throw invalid(`data.${field} is required for ${type}`);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    for (const key in record) deepFreeze(record[key]);
    Object.freeze(value);
  }
  return value;
}

/**
 * Checks an event body from anywhere (built here or handed to `AuditChain.append`) and returns a
 * frozen copy, or throws SEALBUS_ERR_AUDIT_INVALID naming the first problem.
 */
export function parseAuditEventBody(value: unknown): AuditEventBody {
  if (!isPlainObject(value)) throw invalid('an event must be a plain object');
  for (const key in value) {
    if (Object.hasOwn(value, key) && !BODY_FIELDS.has(key)) throw invalid(`${key} is not an attribute of an audit event body`);
  }
  if (value['specversion'] !== '1.0') throw invalid('specversion must be "1.0"');
  if (value['datacontenttype'] !== 'application/json') throw invalid('datacontenttype must be "application/json"');
  const type = value['type'];
  if (!isAuditEventType(type)) throw invalid(`type ${JSON.stringify(String(type).slice(0, 64))} is not an audit event type`);
  const id = checkText(value['id'], 'id');
  if (!UUID.test(id)) throw invalid('id must be a UUID');
  const time = checkText(value['time'], 'time');
  if (!RFC3339.test(time) || Number.isNaN(Date.parse(time))) throw invalid('time must be an RFC 3339 timestamp');
  const source = checkText(value['source'], 'source');
  if (/\s/.test(source)) throw invalid('source must be a URI without spaces');
  const subject = value['subject'] === undefined ? undefined : checkText(value['subject'], 'subject');
  if (!isPlainObject(value['data'])) throw invalid('data must be an object');
  const budget: Budget = { left: MAX_AUDIT_EVENT_BYTES, worst: 0 };
  const data = copyValue(value['data'], 'data', '', 0, budget) as Record<string, AuditValue>;
  checkKnownFields(data, type);
  const body: AuditEventBody = {
    specversion: '1.0',
    id,
    source,
    type,
    time,
    datacontenttype: 'application/json',
    ...(subject !== undefined && { subject }),
    data,
  };
  assertNoSecrets(body);
  // The attributes around data, at most: their names and punctuation, and their values.
  let worst = budget.worst + BODY_ATTRIBUTES_BYTES + CHAIN_ATTRIBUTES_BYTES;
  for (const text of [id, time, source, type, subject ?? '']) worst += worstStringBytes(text.length);
  if (worst > MAX_AUDIT_EVENT_BYTES) {
    // Not clearly within the limit: measured. The canonical form differs from JSON.stringify's only in key order, not in length.
    const size = Buffer.byteLength(JSON.stringify(body), 'utf8') + CHAIN_ATTRIBUTES_BYTES;
    if (size > MAX_AUDIT_EVENT_BYTES) throw invalid(`the event is larger than ${MAX_AUDIT_EVENT_BYTES} bytes`);
  }
  return deepFreeze(body);
}

function timeOf(time: Date | string | undefined, now: () => Date): string {
  if (typeof time === 'string') return time;
  const date = time ?? now();
  if (Number.isNaN(date.getTime())) throw invalid('time must be a valid date');
  return date.toISOString();
}

/**
 * Builds a checked, frozen event body: id and time are filled from the environment when absent.
 * Throws SEALBUS_ERR_AUDIT_INVALID for an unknown type, a missing required field, a string over
 * 1024 characters or with a control character, data nested deeper than 4 levels, an event over
 * 16 KiB, or anything that looks like a secret.
 */
export function buildEvent(input: AuditEventInput, environment: AuditEventEnvironment = {}): AuditEventBody {
  return buildEventOf(input.source, input, environment);
}

/** buildEvent with the source given apart (a log's own), so that callers need not copy their input to add it. */
export function buildEventOf(source: string, input: Omit<AuditEventInput, 'source'>, environment: AuditEventEnvironment = {}): AuditEventBody {
  const now = environment.now ?? (() => new Date());
  const randomUUID = environment.randomUUID ?? nodeRandomUUID;
  return parseAuditEventBody({
    specversion: '1.0',
    id: input.id ?? randomUUID(),
    source,
    type: input.type,
    time: timeOf(input.time, now),
    datacontenttype: 'application/json',
    ...(input.subject !== undefined && { subject: input.subject }),
    data: input.data ?? {},
  });
}

/**
 * The checked body with its place in the chain, frozen. Written out rather than as
 * `{ ...body, sealbusseq, sealbusprev }`: on Node 20's V8 an object literal that starts with a
 * spread and adds properties survives young-generation collections until the next full one, and
 * this runs for every audited request (docs/benchmarks.md, "Where the time goes").
 */
export function chainedEvent(body: AuditEventBody, sealbusseq: number, sealbusprev: string): AuditEvent {
  return Object.freeze({
    specversion: body.specversion,
    id: body.id,
    source: body.source,
    type: body.type,
    time: body.time,
    datacontenttype: body.datacontenttype,
    ...(body.subject !== undefined && { subject: body.subject }),
    data: body.data,
    sealbusseq,
    sealbusprev,
  });
}

/** Hex SHA-256 of the event's canonical bytes: the value the next event's `sealbusprev` holds. */
export function hashEvent(event: AuditEvent): string {
  return sha256Hex(canonicalBytes(event));
}
