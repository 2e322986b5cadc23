import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_EVENT_TYPES,
  AUDIT_REQUIRED_DATA,
  type AuditEventInput,
  MAX_AUDIT_EVENT_BYTES,
  assertNoSecrets,
  buildEvent,
  canonicalBytes,
} from '../../src/audit/index.js';
import { isSealbusError, type SealbusError } from '../../src/errors/index.js';
import { SOURCE, T0, testEnvironment } from './helpers.js';

function errorOf(work: () => unknown): SealbusError {
  try {
    work();
  } catch (err) {
    if (isSealbusError(err)) return err;
    throw err;
  }
  throw new Error('expected a SealbusError, it was accepted');
}

/** Untyped data on purpose: these tests hand buildEvent what the type system would stop. */
function build(input: Omit<Partial<AuditEventInput>, 'data'> & { data?: Record<string, unknown> }): ReturnType<typeof buildEvent> {
  return buildEvent({ type: 'sealbus.policy.reload', source: SOURCE, ...input } as AuditEventInput, testEnvironment());
}

const invalid = (reason: string): { code: string; message: string } => ({ code: 'SEALBUS_ERR_AUDIT_INVALID', message: `The audit event is invalid: ${reason}` });

async function realJwt(): Promise<string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return new SignJWT({ sub: 'alice', scope: 'produce:orders' })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'sealbus+jwt' })
    .setIssuer('sealbus-local')
    .setAudience('sealbus')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);
}

describe('buildEvent', () => {
  it('builds a CloudEvents 1.0 event with the injected id and time, frozen', () => {
    const event = buildEvent(
      { type: 'sealbus.authz.decision', source: SOURCE, subject: 'topic:orders', data: { principal: 'user:alice', action: 'produce', resource: 'topic:orders', decision: 'deny', rule: 'default-deny' } },
      testEnvironment(),
    );
    expect(event).toEqual({
      specversion: '1.0',
      id: '00000000-0000-4000-8000-000000000000',
      source: SOURCE,
      type: 'sealbus.authz.decision',
      time: new Date(T0).toISOString(),
      datacontenttype: 'application/json',
      subject: 'topic:orders',
      data: { principal: 'user:alice', action: 'produce', resource: 'topic:orders', decision: 'deny', rule: 'default-deny' },
    });
    expect(Object.isFrozen(event) && Object.isFrozen(event.data)).toBe(true);
  });

  it('copies its input: changing the input afterwards does not change the event', () => {
    const data = { principal: 'user:alice', certificate: { subject: 'CN=alice' } };
    const event = build({ type: 'sealbus.auth.success', data });
    data.certificate.subject = 'CN=mallory';
    expect(event.data.certificate?.subject).toBe('CN=alice');
  });

  it('knows every listed type and what each requires', () => {
    for (const type of AUDIT_EVENT_TYPES) {
      const required = AUDIT_REQUIRED_DATA[type];
      const data = Object.fromEntries(required.map((field) => [field, field === 'decision' ? 'allow' : 'x']));
      expect(build({ type, data }).type).toBe(type);
      if (required.length > 0) expect(errorOf(() => build({ type, data: {} }))).toMatchObject(invalid(`data.${required[0]} is required for ${type}`));
    }
    expect(errorOf(() => build({ type: 'sealbus.audit.checkpoint' as never }))).toMatchObject({ code: 'SEALBUS_ERR_AUDIT_INVALID' });
  });

  it('checks the fields it knows', () => {
    expect(errorOf(() => build({ type: 'sealbus.authz.decision', data: { principal: 'a', action: 'b', resource: 'c', decision: 'maybe' } }))).toMatchObject(
      invalid('data.decision must be "allow" or "deny"'),
    );
    expect(errorOf(() => build({ data: { records: -1 } }))).toMatchObject(invalid('data.records must be a non-negative integer'));
    expect(errorOf(() => build({ data: { principal: 7 } }))).toMatchObject(invalid('data.principal must be a non-empty string'));
    expect(errorOf(() => build({ data: { certificate: { pem: 'x' } } }))).toMatchObject(invalid('data.certificate.pem is not a field of a certificate (subject, thumbprint)'));
    expect(errorOf(() => build({ id: 'not-a-uuid' }))).toMatchObject(invalid('id must be a UUID'));
    expect(errorOf(() => build({ time: 'yesterday' }))).toMatchObject(invalid('time must be an RFC 3339 timestamp'));
    expect(errorOf(() => build({ source: 'sealbus:// broker' }))).toMatchObject(invalid('source must be a URI without spaces'));
  });

  it('bounds strings to 1024 characters', () => {
    expect(build({ data: { reason: 'r'.repeat(1024) } }).data.reason).toHaveLength(1024);
    expect(errorOf(() => build({ data: { reason: 'r'.repeat(1025) } }))).toMatchObject(invalid('data.reason is longer than 1024 characters'));
    expect(errorOf(() => build({ subject: 's'.repeat(1025) }))).toMatchObject(invalid('subject is longer than 1024 characters'));
  });

  it('refuses control characters and invisible bidirectional overrides', () => {
    expect(errorOf(() => build({ data: { reason: 'ok\nFORGED LINE' } }))).toMatchObject(invalid('data.reason contains a control character'));
    expect(errorOf(() => build({ data: { list: ['a', 'b\u0000'] } }))).toMatchObject(invalid('data.list[1] contains a control character'));
    expect(errorOf(() => build({ subject: 'topic:\u202Eredro' }))).toMatchObject(invalid('subject contains a control character'));
  });

  it('bounds data to 4 levels', () => {
    // data (1) > a (2) > b (3) > c (4): the deepest object allowed.
    expect(build({ data: { a: { b: { c: { d: 'deep enough' } } } } }).data).toEqual({ a: { b: { c: { d: 'deep enough' } } } });
    expect(errorOf(() => build({ data: { a: { b: { c: { d: { e: 'too deep' } } } } } }))).toMatchObject(invalid('data.a.b.c.d is nested deeper than 4 levels'));
    expect(errorOf(() => build({ data: { a: [[[['x']]]] } }))).toMatchObject(invalid('data.a[0][0][0] is nested deeper than 4 levels'));
  });

  it('bounds the whole event to 16 KiB, chain attributes included', () => {
    const fields = (n: number, size: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, 'x'.repeat(size)]));
    const fits = build({ data: fields(15, 1000) });
    expect(canonicalBytes(fits).length + 128).toBeLessThanOrEqual(MAX_AUDIT_EVENT_BYTES);
    expect(errorOf(() => build({ data: fields(17, 1000) }))).toMatchObject(invalid('the event is larger than 16384 bytes'));
    // A huge array is refused early, not walked to its end.
    expect(errorOf(() => build({ data: { list: new Array(5_000_000).fill(0) } }))).toMatchObject(invalid('the event is larger than 16384 bytes'));
  });

  it('measures the bytes as written: escapes and multi-byte characters count, and a large event within the limit is kept', () => {
    const fields = (n: number, text: string): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, text]));
    // Few characters but many bytes: 9 KB of characters, over 16 KiB once escaped or encoded.
    expect(errorOf(() => build({ data: fields(15, '"'.repeat(600)) }))).toMatchObject(invalid('the event is larger than 16384 bytes'));
    expect(errorOf(() => build({ data: fields(9, 'é'.repeat(1000)) }))).toMatchObject(invalid('the event is larger than 16384 bytes'));
    // Could be over the limit at worst (6 bytes a character), is not: measured and kept.
    const kept = build({ data: fields(7, 'é'.repeat(1000)) });
    expect(canonicalBytes(kept).length + 128).toBeLessThanOrEqual(MAX_AUDIT_EVENT_BYTES);
  });

  it('refuses values that are not plain data and field names that are not identifiers', () => {
    expect(errorOf(() => build({ data: { when: new Date() } }))).toMatchObject(invalid('data.when must be a string, a number, a boolean, null, an array or a plain object'));
    expect(errorOf(() => build({ data: { 'bad key': 1 } }))).toMatchObject({ code: 'SEALBUS_ERR_AUDIT_INVALID' });
    expect(errorOf(() => build({ data: JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown> }))).toMatchObject({ code: 'SEALBUS_ERR_AUDIT_INVALID' });
  });
});

describe('no secret in an event', () => {
  it('refuses a real JWT, alone, after "Bearer ", or deep in data, and never repeats it', async () => {
    const jwt = await realJwt();
    for (const data of [{ reason: jwt }, { reason: `Authorization: Bearer ${jwt}` }, { nested: { list: ['ok', `x${jwt}`] } }]) {
      const err = errorOf(() => build({ data }));
      expect(err.code).toBe('SEALBUS_ERR_AUDIT_INVALID');
      expect(err.message).toContain('looks like a JWT');
      expect(err.message).not.toContain(jwt.slice(0, 20));
    }
    expect(errorOf(() => build({ subject: jwt })).message).toBe(
      'The audit event is invalid: event.subject looks like a JWT; an audit event never carries a token, a key or a payload',
    );
  });

  it('refuses an unsigned token (alg none) and a JWE header', () => {
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"a"}').toString('base64url')}.`;
    const jwe = `${Buffer.from('{"alg":"RSA-OAEP","enc":"A256GCM"}').toString('base64url')}.abc.def.ghi.jkl`;
    expect(errorOf(() => build({ data: { reason: none } })).message).toContain('looks like a JWT');
    expect(errorOf(() => build({ data: { reason: jwe } })).message).toContain('looks like a JWT');
  });

  it('refuses a PEM key and a private JWK', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().replace(/\n/g, ' ');
    expect(errorOf(() => build({ data: { reason: pem.slice(0, 1000) } }))).toMatchObject(
      invalid('event.data.reason holds a PEM block; an audit event never carries a token, a key or a payload'),
    );
    const jwk = privateKey.export({ format: 'jwk' });
    expect(errorOf(() => build({ data: { key: { kty: String(jwk.kty), crv: String(jwk.crv), x: String(jwk.x), d: String(jwk.d) } } }))).toMatchObject(
      invalid('event.data.key is a private or secret JWK; an audit event never carries a token, a key or a payload'),
    );
  });

  it('lets dotted names through: topics, versions, hosts, public JWKs', () => {
    const event = build({
      data: { topic: 'orders.eu.west', version: '1.2.3', host: 'broker-1.sealbus.example.com', key: { kty: 'OKP', crv: 'Ed25519', x: 'abc' }, b64: 'eyJ.eyJ.x' },
    });
    expect(event.data['topic']).toBe('orders.eu.west');
    expect(() => assertNoSecrets({ text: 'aaaa.bbbb.cccc dddd.eeee' })).not.toThrow();
  });
});
