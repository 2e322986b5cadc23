/**
 * The messages brokers exchange about consumer groups, as JSON over the message bus. Brokers
 * trust each other (the NATS back end is private to them), but what arrives is still parsed with
 * the safe JSON parser under limits and checked for shape before anything reads it; the
 * coordinator then checks the values as it checks a client's.
 */
import { SealbusError, type WireError } from '../../../errors/index.js';
import { parseJson, type JsonLimits } from '../../../json/safe-json.js';
import type { CommitEntry, MemberAssignment, ResetTarget } from '../types.js';

/** Where a forwarded member lives: its broker, that broker's current run, and the client session there. */
export interface Origin {
  readonly broker: string;
  readonly instance: string;
  readonly session: string;
}

export type CoordinatorRequest =
  | {
      readonly op: 'join';
      readonly from: Origin;
      readonly group: string;
      readonly topics: readonly string[];
      readonly strategy: string;
      readonly sessionTimeoutMs?: number;
      readonly rebalanceTimeoutMs?: number;
      readonly principal: string;
      readonly clientAddress: string | null;
    }
  | { readonly op: 'heartbeat'; readonly from: Origin; readonly group: string; readonly memberId: string; readonly generation: number }
  | { readonly op: 'commit'; readonly from: Origin; readonly group: string; readonly memberId: string; readonly generation: number; readonly offsets: readonly CommitEntry[] }
  | { readonly op: 'leave'; readonly from: Origin; readonly group: string; readonly memberId: string }
  | { readonly op: 'leaveAll'; readonly from: Origin }
  | { readonly op: 'describe'; readonly group: string }
  | { readonly op: 'list' }
  | { readonly op: 'reset'; readonly group: string; readonly to: ResetTarget; readonly topics?: readonly string[] }
  | { readonly op: 'delete'; readonly group: string };

export type MemberPush =
  | { readonly op: 'assign'; readonly session: string; readonly assignment: MemberAssignment }
  | { readonly op: 'removed'; readonly session: string; readonly group: string; readonly memberId: string; readonly error: WireError };

/** A coordinator's answer; `gone` answers a push whose session or member the broker no longer has. */
export type Reply = { readonly ok: true; readonly value?: unknown } | { readonly ok: false; readonly error?: WireError; readonly gone?: boolean };

/** Far above any legitimate message: 10,000 offsets per commit, 1,000 members per group. */
const LIMITS: Partial<JsonLimits> = { maxDepth: 8, maxStringBytes: 64 * 1024, maxKeys: 64, maxArrayItems: 20_000 };

export function encode(message: CoordinatorRequest | MemberPush | Reply): Uint8Array {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

function malformed(what: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_REQUEST_INVALID', { reason: `malformed ${what} from another broker: ${reason}` });
}

type Json = Record<string, unknown>;

function objectOf(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(what, 'not an object');
  return value as Json;
}

function str(o: Json, key: string, what: string): string {
  const value = o[key];
  if (typeof value !== 'string') throw malformed(what, `${key} is not a string`);
  return value;
}

function int(o: Json, key: string, what: string): number {
  const value = o[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw malformed(what, `${key} is not an integer`);
  return value;
}

function optionalInt(o: Json, key: string, what: string): number | undefined {
  return o[key] === undefined ? undefined : int(o, key, what);
}

function strings(o: Json, key: string, what: string): string[] {
  const value = o[key];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw malformed(what, `${key} is not a list of strings`);
  return value as string[];
}

function origin(o: Json, what: string): Origin {
  const from = objectOf(o['from'], what);
  return { broker: str(from, 'broker', what), instance: str(from, 'instance', what), session: str(from, 'session', what) };
}

function offsets(o: Json, what: string): CommitEntry[] {
  const value = o['offsets'];
  if (!Array.isArray(value)) throw malformed(what, 'offsets is not a list');
  return value.map((item) => {
    const entry = objectOf(item, what);
    const metadata = entry['metadata'];
    if (metadata !== undefined && typeof metadata !== 'string') throw malformed(what, 'metadata is not a string');
    return { topic: str(entry, 'topic', what), partition: int(entry, 'partition', what), offset: int(entry, 'offset', what), ...(metadata !== undefined && { metadata }) };
  });
}

function resetTarget(value: unknown, what: string): ResetTarget {
  const to = objectOf(value, what);
  if (to['kind'] === 'earliest' || to['kind'] === 'latest') return { kind: to['kind'] };
  if (to['kind'] === 'timestamp') return { kind: 'timestamp', timestamp: int(to, 'timestamp', what) };
  throw malformed(what, 'unknown reset target');
}

function parse(data: Uint8Array, what: string, maxBytes: number): Json {
  return objectOf(parseJson(Buffer.from(data.buffer, data.byteOffset, data.byteLength), what, { ...LIMITS, maxTotalBytes: maxBytes }), what);
}

export function parseRequest(data: Uint8Array, maxBytes: number): CoordinatorRequest {
  const what = 'group request';
  const o = parse(data, what, maxBytes);
  switch (o['op']) {
    case 'join': {
      const clientAddress = o['clientAddress'];
      if (clientAddress !== null && typeof clientAddress !== 'string') throw malformed(what, 'clientAddress is not a string');
      const sessionTimeoutMs = optionalInt(o, 'sessionTimeoutMs', what);
      const rebalanceTimeoutMs = optionalInt(o, 'rebalanceTimeoutMs', what);
      return {
        op: 'join',
        from: origin(o, what),
        group: str(o, 'group', what),
        topics: strings(o, 'topics', what),
        strategy: str(o, 'strategy', what),
        ...(sessionTimeoutMs !== undefined && { sessionTimeoutMs }),
        ...(rebalanceTimeoutMs !== undefined && { rebalanceTimeoutMs }),
        principal: str(o, 'principal', what),
        clientAddress,
      };
    }
    case 'heartbeat':
      return { op: 'heartbeat', from: origin(o, what), group: str(o, 'group', what), memberId: str(o, 'memberId', what), generation: int(o, 'generation', what) };
    case 'commit':
      return {
        op: 'commit',
        from: origin(o, what),
        group: str(o, 'group', what),
        memberId: str(o, 'memberId', what),
        generation: int(o, 'generation', what),
        offsets: offsets(o, what),
      };
    case 'leave':
      return { op: 'leave', from: origin(o, what), group: str(o, 'group', what), memberId: str(o, 'memberId', what) };
    case 'leaveAll':
      return { op: 'leaveAll', from: origin(o, what) };
    case 'describe':
      return { op: 'describe', group: str(o, 'group', what) };
    case 'list':
      return { op: 'list' };
    case 'reset': {
      const topics = o['topics'] === undefined ? undefined : strings(o, 'topics', what);
      return { op: 'reset', group: str(o, 'group', what), to: resetTarget(o['to'], what), ...(topics !== undefined && { topics }) };
    }
    case 'delete':
      return { op: 'delete', group: str(o, 'group', what) };
    default:
      throw malformed(what, 'unknown op');
  }
}

export function parseAssignment(value: unknown, what: string): MemberAssignment {
  const o = objectOf(value, what);
  const partitions = o['partitions'];
  if (!Array.isArray(partitions)) throw malformed(what, 'partitions is not a list');
  return {
    group: str(o, 'group', what),
    memberId: str(o, 'memberId', what),
    generation: int(o, 'generation', what),
    partitions: partitions.map((item) => {
      const p = objectOf(item, what);
      const committed = p['committedOffset'];
      if (committed !== null && (typeof committed !== 'number' || !Number.isSafeInteger(committed))) throw malformed(what, 'committedOffset is not an integer');
      return { topic: str(p, 'topic', what), partition: int(p, 'partition', what), committedOffset: committed };
    }),
  };
}

function wireError(value: unknown, what: string): WireError {
  const o = objectOf(value, what);
  const details = o['details'];
  return { code: str(o, 'code', what), message: str(o, 'message', what), ...(details !== undefined && { details: objectOf(details, what) }) };
}

export function parsePush(data: Uint8Array, maxBytes: number): MemberPush {
  const what = 'group push';
  const o = parse(data, what, maxBytes);
  if (o['op'] === 'assign') return { op: 'assign', session: str(o, 'session', what), assignment: parseAssignment(o['assignment'], what) };
  if (o['op'] === 'removed') {
    return { op: 'removed', session: str(o, 'session', what), group: str(o, 'group', what), memberId: str(o, 'memberId', what), error: wireError(o['error'], what) };
  }
  throw malformed(what, 'unknown op');
}

export function parseReply(data: Uint8Array, maxBytes: number, what = 'group reply'): Reply {
  const o = parse(data, what, maxBytes);
  if (o['ok'] === true) return { ok: true, value: o['value'] };
  if (o['ok'] !== false) throw malformed(what, 'ok is not a boolean');
  return { ok: false, ...(o['error'] !== undefined && { error: wireError(o['error'], what) }), ...(o['gone'] === true && { gone: true }) };
}

/** The error a reply carries, rebuilt with its code (an unknown code becomes SEALBUS_ERR_INTERNAL). */
export function replyError(reply: Reply, requestId = 'group forwarding'): SealbusError {
  if (reply.ok || reply.error === undefined) return new SealbusError('SEALBUS_ERR_INTERNAL', { requestId });
  return SealbusError.fromWire(reply.error);
}
