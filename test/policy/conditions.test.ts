import { describe, expect, it } from 'vitest';
import { parseScope, type PolicyContext, type PolicySubject } from '../../src/policy/index.js';
import { errorOf, group, policyOf, request, subject, topic } from './helpers.js';

const writer = subject('writer');

function decideProduce(policyText: string, context: Partial<PolicyContext>, who: PolicySubject = writer) {
  return policyOf(policyText).evaluate(request(who, 'produce', topic('orders'), context));
}

const allowWith = (conditions: string) => `
  version: 1
  rules:
    - id: conditional-allow
      effect: allow
      principals: [{ name: writer }]
      resources: [{ topic: orders }]
      actions: [produce]
      conditions: ${conditions}
`;

const allowAndDenyWith = (conditions: string) => `
  version: 1
  rules:
    - id: writer-allowed
      effect: allow
      principals: [{ name: writer }]
      resources: [{ topic: orders }]
      actions: [produce]
    - id: conditional-deny
      effect: deny
      principals: [{ any: true }]
      resources: [{ topic: orders }]
      actions: [produce]
      conditions: ${conditions}
`;

describe('deny overrides allow', () => {
  const policy = policyOf(`
    version: 1
    rules:
      - id: allow-a
        effect: allow
        principals: [{ name: writer }]
        resources: [{ topic: orders }]
        actions: [produce]
      - id: allow-b
        effect: allow
        principals: [{ any: true }]
        resources: [{ topic: ">" }]
        actions: [produce]
      - id: deny-a
        effect: deny
        principals: [{ name: writer }]
        resources: [{ topic: orders.> }]
        actions: [produce]
      - id: deny-b
        effect: deny
        principals: [{ any: true }]
        resources: [{ topicPrefix: orders.x }]
        actions: [produce]
  `);

  it('lists every matching deny rule, first one deciding', () => {
    const decision = policy.evaluate(request(writer, 'produce', topic('orders.x1')));
    expect(decision.allowed).toBe(false);
    expect(decision.rule).toBe('deny-a');
    expect(decision.deciding.map((ref) => [ref.id, ref.effect])).toEqual([
      ['deny-a', 'deny'],
      ['deny-b', 'deny'],
    ]);
  });

  it('lists every matching allow rule when nothing denies', () => {
    const decision = policy.evaluate(request(writer, 'produce', topic('orders')));
    expect(decision).toMatchObject({ allowed: true, rule: 'allow-a' });
    expect(decision.deciding.map((ref) => ref.id)).toEqual(['allow-a', 'allow-b']);
  });
});

describe('conditions', () => {
  it('sourceIp: IPv4 ranges, IPv4-mapped IPv6 addresses compared as IPv4, unknown fails closed', () => {
    const text = allowWith('{ sourceIp: [10.0.0.0/8, 192.168.1.7] }');
    expect(decideProduce(text, { sourceIp: '10.1.2.3' }).rule).toBe('conditional-allow');
    expect(decideProduce(text, { sourceIp: '::ffff:10.1.2.3' }).rule).toBe('conditional-allow');
    expect(decideProduce(text, { sourceIp: '192.168.1.7' }).rule).toBe('conditional-allow');
    for (const sourceIp of ['11.0.0.1', '::ffff:11.0.0.1', '192.168.1.8', '::1', null, 'not-an-ip', '10.1.2.3 ', '010.1.2.3']) {
      expect(decideProduce(text, { sourceIp }), String(sourceIp)).toMatchObject({ allowed: false, rule: 'default-deny' });
    }
  });

  it('sourceIp: IPv6 ranges', () => {
    const text = allowWith('{ sourceIp: ["fd00::/8", "::1/128"] }');
    for (const sourceIp of ['fd12:3456::1', '::1']) expect(decideProduce(text, { sourceIp }).allowed, sourceIp).toBe(true);
    for (const sourceIp of ['fe80::1', '::2', '10.0.0.1']) expect(decideProduce(text, { sourceIp }).allowed, sourceIp).toBe(false);
  });

  it('sourceIp on a deny rule: inside denies, outside does not, unknown denies', () => {
    const text = allowAndDenyWith('{ sourceIp: [192.168.0.0/16] }');
    expect(decideProduce(text, { sourceIp: '192.168.3.4' }).rule).toBe('conditional-deny');
    expect(decideProduce(text, { sourceIp: '::ffff:192.168.3.4' }).rule).toBe('conditional-deny');
    expect(decideProduce(text, { sourceIp: '10.0.0.1' }).rule).toBe('writer-allowed');
    expect(decideProduce(text, { sourceIp: null }).rule).toBe('conditional-deny');
  });

  it('encrypted on an allow rule: only a known envelope passes', () => {
    const text = allowWith('{ encrypted: true }');
    expect(decideProduce(text, { encrypted: true }).rule).toBe('conditional-allow');
    expect(decideProduce(text, { encrypted: false }).rule).toBe('default-deny');
    expect(decideProduce(text, {}).rule).toBe('default-deny');
  });

  it('encrypted on a deny rule: plaintext and unknown are denied', () => {
    const text = allowAndDenyWith('{ encrypted: false }');
    expect(decideProduce(text, { encrypted: false }).rule).toBe('conditional-deny');
    expect(decideProduce(text, {}).rule).toBe('conditional-deny');
    expect(decideProduce(text, { encrypted: true }).rule).toBe('writer-allowed');
  });

  it('tokenBound on allow and deny rules', () => {
    const bound = subject('writer', { tokenBound: true });
    expect(decideProduce(allowWith('{ tokenBound: true }'), {}, bound).rule).toBe('conditional-allow');
    expect(decideProduce(allowWith('{ tokenBound: true }'), {}, writer).rule).toBe('default-deny');
    expect(decideProduce(allowAndDenyWith('{ tokenBound: false }'), {}, writer).rule).toBe('conditional-deny');
    expect(decideProduce(allowAndDenyWith('{ tokenBound: false }'), {}, bound).rule).toBe('writer-allowed');
  });

  it('all conditions must hold for an allow; one failing condition lifts a deny even when another is unknown', () => {
    const allow = allowWith('{ sourceIp: [10.0.0.0/8], tokenBound: true }');
    const bound = subject('writer', { tokenBound: true });
    expect(decideProduce(allow, { sourceIp: '10.0.0.1' }, bound).allowed).toBe(true);
    expect(decideProduce(allow, { sourceIp: '10.0.0.1' }, writer).allowed).toBe(false);
    expect(decideProduce(allow, { sourceIp: '11.0.0.1' }, bound).allowed).toBe(false);
    const deny = allowAndDenyWith('{ sourceIp: [10.0.0.0/8], encrypted: false }');
    expect(decideProduce(deny, { sourceIp: '11.0.0.1' }).rule).toBe('writer-allowed'); // encrypted unknown, address outside
    expect(decideProduce(deny, { sourceIp: '10.0.0.1' }).rule).toBe('conditional-deny');
    expect(decideProduce(deny, { sourceIp: null, encrypted: true }).rule).toBe('writer-allowed');
  });
});

describe('token scopes', () => {
  const policy = policyOf(`
    version: 1
    rules:
      - id: producer
        effect: allow
        principals: [{ name: producer }]
        resources: [{ topic: orders.> }, { group: producers.> }, { cluster: true }]
        actions: [produce, describe, commit-offset, read-audit]
  `);
  const withScopes = (scopes: string[] | null) => subject('producer', { scopes });
  const decide = (scopes: string[] | null, action: Parameters<typeof request>[1], resource: Parameters<typeof request>[2]) =>
    policy.evaluate(request(withScopes(scopes), action, resource));

  it('narrow what the policy allows, never widen it', () => {
    expect(decide(null, 'produce', topic('orders.us')).rule).toBe('producer');
    expect(decide(['produce:orders.eu'], 'produce', topic('orders.eu')).rule).toBe('producer');
    expect(decide(['produce:orders.eu'], 'produce', topic('orders.us'))).toMatchObject({ allowed: false, rule: 'scope', deciding: [] });
    expect(decide(['produce:orders.eu'], 'describe', topic('orders.eu')).rule).toBe('scope');
    expect(decide(['produce:orders.*'], 'produce', topic('orders.eu.x')).rule).toBe('scope');
    expect(decide(['produce:orders.>'], 'produce', topic('orders.eu.x')).rule).toBe('producer');
    expect(decide([], 'produce', topic('orders.eu')).rule).toBe('scope');
    // The policy does not allow billing: a scope cannot add it.
    expect(decide(['produce:>'], 'produce', topic('billing')).rule).toBe('default-deny');
  });

  it('cover groups and the cluster by kind', () => {
    expect(decide(['commit-offset:group:producers.*'], 'commit-offset', group('producers.a')).rule).toBe('producer');
    expect(decide(['commit-offset:producers.*'], 'commit-offset', group('producers.a')).rule).toBe('scope');
    expect(decide(['read-audit'], 'read-audit', { kind: 'cluster' }).rule).toBe('producer');
    expect(decide(['describe'], 'describe', topic('orders.eu')).rule).toBe('scope');
  });

  it('an invalid scope matches nothing', () => {
    for (const scope of ['produce:orders*', 'produce', 'produce:', 'PRODUCE:orders.eu', 'produce:orders..eu', 'produce:orders.eu ']) {
      expect(decide([scope], 'produce', topic('orders.eu')).rule, scope).toBe('scope');
    }
  });

  it('parseScope accepts the three forms and refuses the rest with SEALBUS_ERR_POLICY_SCOPE_INVALID', () => {
    expect(parseScope('produce:orders.>')).toMatchObject({ action: 'produce', resource: { kind: 'topic', pattern: { type: 'segments', tail: true } } });
    expect(parseScope('commit-offset:group:billing.*')).toMatchObject({ action: 'commit-offset', resource: { kind: 'group' } });
    expect(parseScope('read-audit')).toMatchObject({ action: 'read-audit', resource: { kind: 'cluster' } });
    const cases: Record<string, RegExp> = {
      '': /1 to 512 characters/,
      produce: /needs a topic or group pattern/,
      'issue-token:orders': /does not apply to a topic/,
      'produce:group:x': /does not apply to a group/,
      'frobnicate:orders': /is not an action/,
      'produce:orders*': /can never match/,
      'produce:orders.>.x': /must be the last segment/,
      [`produce:${'a'.repeat(600)}`]: /1 to 512 characters/,
    };
    for (const [scope, reason] of Object.entries(cases)) {
      const error = errorOf(() => parseScope(scope));
      expect(error.code, scope).toBe('SEALBUS_ERR_POLICY_SCOPE_INVALID');
      expect(error.message, scope).toMatch(reason);
      expect(error.message.length).toBeLessThan(400);
    }
  });
});
