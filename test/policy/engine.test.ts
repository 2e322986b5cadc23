import { describe, expect, it } from 'vitest';
import { PolicyEngine, decisionKey, type PolicyRequest } from '../../src/policy/index.js';
import { THUMBPRINT, group, policyOf, request, subject, topic } from './helpers.js';

const allowOrders = (id: string) =>
  policyOf(`
    version: 1
    rules:
      - id: ${id}
        effect: allow
        principals: [{ name: svc }]
        resources: [{ topic: orders }]
        actions: [produce]
  `);

describe('PolicyEngine', () => {
  it('answers repeated requests from the cache and counts hits and misses', () => {
    const engine = new PolicyEngine(allowOrders('first'));
    const ask = request(subject('svc'), 'produce', topic('orders'));
    const first = engine.decide(ask);
    expect(engine.decide(request(subject('svc'), 'produce', topic('orders')))).toBe(first);
    expect(engine.decide(ask)).toBe(first);
    expect(engine.cacheStats).toEqual({ hits: 2, misses: 1, size: 1 });
  });

  it('is bounded and evicts the least recently used decision', () => {
    const engine = new PolicyEngine(allowOrders('first'), { cacheSize: 3 });
    const ask = (name: string) => engine.decide(request(subject(name), 'produce', topic('orders')));
    ask('a');
    ask('b');
    ask('c');
    ask('a'); // a becomes the most recent; b is now the oldest
    ask('d');
    expect(engine.cacheStats.size).toBe(3);
    const before = engine.cacheStats;
    ask('a');
    ask('c');
    ask('d');
    expect(engine.cacheStats.hits - before.hits).toBe(3);
    ask('b');
    expect(engine.cacheStats.misses - before.misses).toBe(1);
    for (let i = 0; i < 100; i++) ask(`n${i}`);
    expect(engine.cacheStats.size).toBe(3);
  });

  it('does no caching with cacheSize 0', () => {
    const engine = new PolicyEngine(allowOrders('first'), { cacheSize: 0 });
    const ask = request(subject('svc'), 'produce', topic('orders'));
    engine.decide(ask);
    engine.decide(ask);
    expect(engine.cacheStats).toEqual({ hits: 0, misses: 2, size: 0 });
    expect(() => new PolicyEngine(allowOrders('x'), { cacheSize: -1 })).toThrow(RangeError);
  });

  it('replace swaps the policy and forgets every cached decision', () => {
    const engine = new PolicyEngine(allowOrders('first'));
    const ask = request(subject('svc'), 'produce', topic('orders'));
    expect(engine.decide(ask)).toMatchObject({ allowed: true, rule: 'first' });
    const denying = policyOf(`
      version: 1
      rules:
        - id: no-more
          effect: deny
          principals: [{ any: true }]
          resources: [{ topic: orders }]
          actions: [produce]
    `);
    engine.replace(denying);
    expect(engine.policy).toBe(denying);
    expect(engine.cacheStats.size).toBe(0);
    expect(engine.decide(ask)).toMatchObject({ allowed: false, rule: 'no-more' });
  });

  it('keys on every field that can change the answer', () => {
    const policy = policyOf(`
      version: 1
      rules:
        - id: by-name
          effect: allow
          principals: [{ name: svc }]
          resources: [{ topic: t }]
          actions: [produce]
        - id: by-group
          effect: allow
          principals: [{ group: g }]
          resources: [{ topic: t }]
          actions: [produce]
        - id: by-spiffe
          effect: allow
          principals: [{ spiffe: spiffe://example.org/a }]
          resources: [{ topic: t }]
          actions: [produce]
        - id: by-thumbprint
          effect: allow
          principals: [{ certificate: { thumbprint: ${THUMBPRINT} } }]
          resources: [{ topic: t }]
          actions: [produce]
        - id: by-subject
          effect: allow
          principals: [{ certificate: { subject: "CN=s" } }]
          resources: [{ topic: t }]
          actions: [produce]
        - id: bound-only
          effect: allow
          principals: [{ name: bound }]
          resources: [{ topic: t }]
          actions: [produce]
          conditions: { tokenBound: true }
        - id: from-lan
          effect: allow
          principals: [{ name: lan }]
          resources: [{ topic: t }]
          actions: [produce]
          conditions: { sourceIp: [10.0.0.0/8] }
        - id: sealed-only
          effect: allow
          principals: [{ name: sealed }]
          resources: [{ topic: t }]
          actions: [produce]
          conditions: { encrypted: true }
        - id: group-kind
          effect: allow
          principals: [{ name: kinds }]
          resources: [{ group: t }]
          actions: [consume]
    `);
    const base = request(subject('nobody'), 'produce', topic('t'));
    const pairs: Array<[string, PolicyRequest, PolicyRequest]> = [
      ['name', base, request(subject('svc'), 'produce', topic('t'))],
      ['groups', base, request(subject('nobody', { groups: ['g'] }), 'produce', topic('t'))],
      ['spiffe', base, request(subject('nobody', { spiffeId: 'spiffe://example.org/a/b' }), 'produce', topic('t'))],
      ['thumbprint', request(subject('nobody', { certificate: { subject: 'CN=x', thumbprint: 'b'.repeat(43) } }), 'produce', topic('t')), request(subject('nobody', { certificate: { subject: 'CN=x', thumbprint: THUMBPRINT } }), 'produce', topic('t'))],
      ['certificate subject', request(subject('nobody', { certificate: { subject: 'CN=x', thumbprint: 'b'.repeat(43) } }), 'produce', topic('t')), request(subject('nobody', { certificate: { subject: 'CN=s', thumbprint: 'b'.repeat(43) } }), 'produce', topic('t'))],
      ['bound', request(subject('bound'), 'produce', topic('t')), request(subject('bound', { tokenBound: true }), 'produce', topic('t'))],
      ['scopes', request(subject('svc', { scopes: ['consume:t'] }), 'produce', topic('t')), request(subject('svc', { scopes: ['produce:t'] }), 'produce', topic('t'))],
      ['scopes null', request(subject('svc', { scopes: [] }), 'produce', topic('t')), request(subject('svc'), 'produce', topic('t'))],
      ['source ip', request(subject('lan'), 'produce', topic('t'), { sourceIp: '192.168.0.1' }), request(subject('lan'), 'produce', topic('t'), { sourceIp: '10.0.0.1' })],
      ['encrypted', request(subject('sealed'), 'produce', topic('t'), { encrypted: false }), request(subject('sealed'), 'produce', topic('t'), { encrypted: true })],
      ['encrypted unknown', request(subject('sealed'), 'produce', topic('t')), request(subject('sealed'), 'produce', topic('t'), { encrypted: true })],
      ['action', request(subject('svc'), 'consume', topic('t')), request(subject('svc'), 'produce', topic('t'))],
      ['resource name', request(subject('svc'), 'produce', topic('u')), request(subject('svc'), 'produce', topic('t'))],
      ['resource kind', request(subject('kinds'), 'consume', topic('t')), request(subject('kinds'), 'consume', group('t'))],
    ];
    for (const [field, denied, allowed] of pairs) {
      const engine = new PolicyEngine(policy);
      expect(engine.decide(denied).allowed, `${field}: first`).toBe(false);
      expect(engine.decide(allowed).allowed, `${field}: second`).toBe(true);
      expect(decisionKey(denied), field).not.toBe(decisionKey(allowed));
      // And the other way round, with the allowed decision cached first.
      const reversed = new PolicyEngine(policy);
      expect(reversed.decide(allowed).allowed, field).toBe(true);
      expect(reversed.decide(denied).allowed, field).toBe(false);
      // And with one subject object changed in place between the two requests.
      const who = { ...denied.subject };
      const inPlace = new PolicyEngine(policy);
      expect(inPlace.decide({ ...denied, subject: who }).allowed, field).toBe(false);
      Object.assign(who, allowed.subject);
      expect(inPlace.decide({ ...allowed, subject: who }).allowed, field).toBe(true);
    }
  });

  it('never serves the decision of a subject that was changed in place', () => {
    const policy = policyOf(`
      version: 1
      rules:
        - id: members
          effect: allow
          principals: [{ group: writers }]
          resources: [{ topic: t }]
          actions: [produce]
    `);
    const engine = new PolicyEngine(policy);
    const who = subject('svc', { groups: ['writers'] });
    const ask = request(who, 'produce', topic('t'));
    expect(engine.decide(ask).allowed).toBe(true);
    (who.groups as string[]).pop();
    expect(engine.decide(ask).allowed).toBe(false);
    (who as { name: string }).name = 'other';
    (who.groups as string[]).push('writers');
    expect(engine.decide(ask).allowed).toBe(true);
    (who as { scopes: string[] | null }).scopes = ['consume:t'];
    expect(engine.decide(ask)).toMatchObject({ allowed: false, rule: 'scope' });
  });

  it('shares decisions between equal subjects in different objects', () => {
    const engine = new PolicyEngine(allowOrders('first'));
    engine.decide(request(subject('svc', { groups: ['a'] }), 'produce', topic('orders')));
    engine.decide(request(subject('svc', { groups: ['a'] }), 'produce', topic('orders')));
    expect(engine.cacheStats).toMatchObject({ hits: 1, misses: 1, size: 1 });
  });

  it('builds keys that cannot collide by concatenation', () => {
    const key = (groups: string[], scopes: string[] | null = null) => decisionKey(request(subject('a', { groups, scopes }), 'produce', topic('t')));
    expect(key(['ab', 'c'])).not.toBe(key(['a', 'bc']));
    expect(key(['a'], [])).not.toBe(key(['a'], null));
    expect(key([], ['x'])).not.toBe(key(['x'], []));
    const named = (name: string, topicName: string) => decisionKey(request(subject(name), 'produce', topic(topicName)));
    expect(named('a1:b', 't')).not.toBe(named('a', '1:bt'));
  });

  it('does not cache subjects whose key is huge, and still decides for them', () => {
    const engine = new PolicyEngine(allowOrders('first'));
    const groups = Array.from({ length: 2000 }, (_, i) => `group-number-${i}`);
    const ask = request(subject('svc', { groups }), 'produce', topic('orders'));
    expect(engine.decide(ask).allowed).toBe(true);
    expect(engine.decide(ask).allowed).toBe(true);
    expect(engine.cacheStats).toEqual({ hits: 0, misses: 2, size: 0 });
  });
});
