/**
 * What the broker's audit events say: who acted, on what, with which counts; text from clients made
 * fit for an event. When events are written is the AuditTrail's business (audit-trail.ts).
 *
 * Objects here are built as literals and assigned onto, never as `{ ...a, more }`: on Node 20's V8
 * an object literal that starts with a spread and then adds properties outlives every
 * young-generation collection until the next full one, and on the audited path that kept each
 * request's objects alive and made each scavenge copy megabytes (docs/benchmarks.md, "Where the
 * time goes"; test/source/leading-spread.test.ts).
 */
import type { AuditAppendInput, AuditEventData } from '../audit/index.js';
import type { Actor, Resource } from './access.js';

const MAX_TEXT = 1024;
// The characters AuditEvent refuses in strings (controls and bidirectional overrides).
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A batch of records produced or consumed. */
export interface DataAccess {
  readonly topic: string;
  readonly partition: number;
  readonly records: number;
  readonly bytes: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  /** The rule that allowed it. */
  readonly rule: string;
}

/**
 * Text from a client (a certificate subject, a principal name) made fit for an event: control
 * characters replaced, length bounded. Secrets are still refused by the event itself.
 */
export function auditText(value: string): string {
  const clean = value.replace(CONTROL, '\uFFFD');
  return clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT - 1)}…` : clean;
}

export function resourceName(resource: Resource): string {
  return resource.kind === 'cluster' ? 'cluster' : `${resource.kind}:${resource.name}`;
}

/** Who acted (principal, certificate, token id, address, connection), then `extra`. */
export function actorData(actor: Actor, extra?: AuditEventData): AuditEventData {
  const { certificate, token } = actor;
  const data: AuditEventData = {
    principal: auditText(actor.name),
    ...(certificate !== undefined && certificate !== null && { certificate: { subject: auditText(certificate.subject), thumbprint: certificate.fingerprint256 } }),
    ...(token?.jti !== undefined && token.jti !== null && { tokenId: auditText(token.jti) }),
    ...(actor.sourceIp !== undefined && actor.sourceIp !== null && { sourceIp: actor.sourceIp }),
    ...(actor.sessionId !== undefined && { sessionId: actor.sessionId }),
    ...(actor.requestId !== undefined && { requestId: actor.requestId }),
  };
  return extra === undefined ? data : Object.assign(data, extra);
}

/** A batch's data access: the same object as `{ ...where, records, ... }`, built without a leading spread (see actorData). */
export function accessOf(where: { readonly topic: string; readonly partition: number; readonly rule: string }, records: number, bytes: number, firstOffset: number, lastOffset: number): DataAccess {
  return { topic: where.topic, partition: where.partition, rule: where.rule, records, bytes, firstOffset, lastOffset };
}

/** The event of one batch produced or consumed (`batch` detail). */
export function dataEvent(kind: 'produce' | 'consume', actor: Actor, access: DataAccess): AuditAppendInput {
  const resource = auditText(`topic:${access.topic}`);
  return {
    type: kind === 'produce' ? 'sealbus.data.produce' : 'sealbus.data.consume',
    subject: resource,
    data: actorData(actor, {
      action: kind,
      resource,
      decision: 'allow',
      rule: auditText(access.rule),
      partition: access.partition,
      records: access.records,
      bytes: access.bytes,
      firstOffset: access.firstOffset,
      lastOffset: access.lastOffset,
    }),
  };
}

/** The event with every text field replaced, keeping its type, counts and decision. */
export function redacted(input: AuditAppendInput, reason: string): AuditAppendInput {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input.data ?? {})) {
    if (typeof value === 'number' || typeof value === 'boolean') data[key] = value;
    else if (key === 'decision') data[key] = value;
    else if (typeof value === 'string') data[key] = '[redacted]';
  }
  data['redacted'] = auditText(reason.replace(/eyJ[A-Za-z0-9_-]*/g, '[…]'));
  return { type: input.type, subject: '[redacted]', data: data as AuditEventData };
}
