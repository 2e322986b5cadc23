import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditChain, buildEvent, canonicalJson, hashEvent } from '../../src/audit/index.js';
import { codeOfThrow } from '../helpers/error-code.js';
import { SOURCE, testEnvironment } from './helpers.js';

/** RFC 8785 for JSON data, written plainly: what canonicalJson's faster path must reproduce. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${reference(record[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

describe('canonicalJson', () => {
  it('sorts keys at every level, whatever order they were written in, without whitespace', () => {
    const a = { b: 1, a: [3, { z: true, y: null }], c: { e: 'x', d: -0.5 } };
    const b = { c: { d: -0.5, e: 'x' }, a: [3, { y: null, z: true }], b: 1 };
    expect(canonicalJson(a)).toBe('{"a":[3,{"y":null,"z":true}],"b":1,"c":{"d":-0.5,"e":"x"}}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
  });

  it('orders keys by UTF-16 code units and escapes as JSON.stringify does (RFC 8785)', () => {
    // "é" (U+00E9) sorts after "z"; "\u{1F600}" (a surrogate pair) before "\uFFFD".
    expect(canonicalJson({ é: 1, z: 2, '\uFFFD': 3, '\u{1F600}': 4, A: 5 })).toBe('{"A":5,"z":2,"é":1,"\u{1F600}":4,"\uFFFD":3}');
    expect(canonicalJson('a"b\\c\n\u0001')).toBe('"a\\"b\\\\c\\n\\u0001"');
    expect(canonicalJson([1e21, 0.1, -0, 100])).toBe('[1e+21,0.1,0,100]');
  });

  it('orders keys that are array indexes and keeps a __proto__ key, which insertion order alone would not', () => {
    // V8 enumerates array-index keys first, in numeric order; "01" and 2^32-1 are not indexes.
    const value = JSON.parse('{"b":1,"10":2,"9":3,"01":4,"4294967295":5,"4294967294":6,"__proto__":{"x":{"2":0,"1":[{"0":true}]}},"a":0}') as unknown;
    expect(canonicalJson(value)).toBe(
      '{"01":4,"10":2,"4294967294":6,"4294967295":5,"9":3,"__proto__":{"x":{"1":[{"0":true}],"2":0}},"a":0,"b":1}',
    );
    expect(canonicalJson(value)).toBe(reference(value));
  });

  it('writes what the plain RFC 8785 reference writes, for any JSON value', () => {
    // Keys drawn to include array indexes, near-indexes and __proto__, where the fast path must step aside.
    const key = fc.oneof(fc.string(), fc.constantFrom('0', '1', '10', '9', '01', '-1', '4294967295', '4294967294', '__proto__', 'constructor'));
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 5 }),
      object: fc.dictionary(key, tie('value'), { maxKeys: 6 }),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        // Through JSON.parse, so that __proto__ is an own key, as in data read from anywhere.
        const parsed = JSON.parse(JSON.stringify(value)) as unknown;
        expect(canonicalJson(parsed)).toBe(reference(parsed));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses what JSON cannot hold, so two values never share one form', () => {
    expect(codeOfThrow(() => canonicalJson({ a: undefined }))).toBe('SEALBUS_ERR_AUDIT_INVALID');
    expect(codeOfThrow(() => canonicalJson([Number.NaN]))).toBe('SEALBUS_ERR_AUDIT_INVALID');
    expect(codeOfThrow(() => canonicalJson({ when: new Date(0) }))).toBe('SEALBUS_ERR_AUDIT_INVALID');
    expect(codeOfThrow(() => canonicalJson(10n))).toBe('SEALBUS_ERR_AUDIT_INVALID');
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(codeOfThrow(() => canonicalJson(deep))).toBe('SEALBUS_ERR_AUDIT_INVALID');
  });

  it('gives an event a hash that changes when any attribute or data field changes', () => {
    const environment = testEnvironment();
    const chain = new AuditChain();
    chain.append(buildEvent({ type: 'sealbus.broker.start', source: SOURCE }, environment));
    const event = chain.append(
      buildEvent(
        {
          type: 'sealbus.authz.decision',
          source: SOURCE,
          subject: 'topic:orders',
          data: { principal: 'user:alice', action: 'consume', resource: 'topic:orders', decision: 'allow', rule: 'r1', certificate: { subject: 'CN=alice', thumbprint: 'abc' } },
        },
        environment,
      ),
    );
    const original = hashEvent(event);
    const copy = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
    expect(hashEvent(copy as never)).toBe(original);
    const edits: [string, (e: Record<string, any>) => void][] = [
      ['id', (e) => (e['id'] = '00000000-0000-4000-8000-ffffffffffff')],
      ['time', (e) => (e['time'] = '2025-01-02T03:04:07.000Z')],
      ['source', (e) => (e['source'] = 'sealbus://broker-2')],
      ['subject', (e) => (e['subject'] = 'topic:orderz')],
      ['type', (e) => (e['type'] = 'sealbus.auth.success')],
      ['sealbusseq', (e) => (e['sealbusseq'] = 2)],
      ['sealbusprev', (e) => (e['sealbusprev'] = '1'.repeat(64))],
      ['decision', (e) => (e['data']['decision'] = 'deny')],
      ['nested', (e) => (e['data']['certificate']['thumbprint'] = 'abd')],
      ['added field', (e) => (e['data']['note'] = '')],
      ['removed field', (e) => delete e['data']['rule']],
    ];
    for (const [name, edit] of edits) {
      const edited = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
      edit(edited);
      expect(hashEvent(edited as never), name).not.toBe(original);
    }
  });
});
