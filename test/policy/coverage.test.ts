import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  coverageOfAll,
  matchesName,
  parseScope,
  parseSegmentPattern,
  Policy,
  scopeCoverage,
  scopeCovers,
  unrestrictedScopes,
  type Action,
  type NamePattern,
  type ParsedScope,
  type PolicyContext,
  type PolicySubject,
} from '../../src/policy/index.js';
import { patternsIntersect, prefixPattern } from '../../src/policy/name-pattern.js';
import { group, policyOf, request, subject, topic } from './helpers.js';

const alice = subject('alice');

/** A policy of one allow rule for alice; `extra` is appended to the rule (conditions). */
function allowAlice(resource: string, actions: string, extra = ''): Policy {
  return policyOf(`
    version: 1
    rules:
      - id: alice-allow
        effect: allow
        principals: [{ name: alice }]
        resources: [${resource}]
        actions: [${actions}]
        ${extra}
  `);
}

const coverage = (policy: Policy, scope: string, who: PolicySubject = alice) => scopeCoverage(policy, who, parseScope(scope));
const covered = (policy: Policy, scope: string, who: PolicySubject = alice) => coverage(policy, scope, who).covered;

function compile(text: string): NamePattern {
  const pattern = parseSegmentPattern(text);
  if ('invalid' in pattern) throw new Error(`invalid pattern ${text}`);
  return pattern;
}

describe('patternsIntersect', () => {
  it.each([
    ['orders.eu', 'orders.*', true],
    ['orders.eu', 'orders.>', true],
    ['orders', 'orders.>', false],
    ['orders.*', 'orders.payments.>', false],
    ['orders.*', 'orders.>', true],
    ['*.eu', 'orders.*', true],
    ['*.eu', 'orders.us', false],
    ['*.eu.>', 'orders.*', false],
    ['>', 'a.b.c', true],
    ['a.*.c', 'a.b.*', true],
    ['a.*.c', 'a.b.d', false],
  ])('%s and %s: %s', (a, b, expected) => {
    expect(patternsIntersect(compile(a), compile(b))).toBe(expected);
    expect(patternsIntersect(compile(b), compile(a))).toBe(expected);
  });

  it.each([
    ['orders.', 'orders.*', true],
    ['orders.pay', 'orders.*', true],
    ['orders.pay', 'orders.eu', false],
    ['orders.pay', 'orders.payments', true],
    ['orders.eu.', 'orders.*', false],
    ['orders..', 'orders.>', false],
    ['ord', '*.x', true],
    ['x', 'orders.>', false],
    ['billing.eu', 'orders.>', false],
    ['a.b.', '*.c.>', false],
    ['a.b.c.', 'a.>', true],
  ])('prefix %s and %s: %s', (prefix, pattern, expected) => {
    expect(patternsIntersect(prefixPattern(prefix), compile(pattern))).toBe(expected);
    expect(patternsIntersect(compile(pattern), prefixPattern(prefix))).toBe(expected);
  });

  it('two prefixes meet when one starts with the other', () => {
    expect(patternsIntersect(prefixPattern('orders.'), prefixPattern('orders.eu'))).toBe(true);
    expect(patternsIntersect(prefixPattern('orders.eu'), prefixPattern('orders.'))).toBe(true);
    expect(patternsIntersect(prefixPattern('orders.eu'), prefixPattern('orders.us'))).toBe(false);
  });

  it('never says false when a name matches both (property)', () => {
    const chars = fc.constantFrom('a', 'b', '.');
    const literalSegment = fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 1, maxLength: 2 });
    const segmentPattern = fc
      .tuple(fc.array(fc.oneof(literalSegment, fc.constant('*')), { maxLength: 4 }), fc.boolean())
      .filter(([segments, tail]) => segments.length > 0 || tail)
      .map(([segments, tail]) => compile([...segments, ...(tail ? ['>'] : [])].join('.')));
    const anyPattern = fc.oneof(segmentPattern, fc.string({ unit: chars, minLength: 1, maxLength: 5 }).map(prefixPattern));
    const name = fc.string({ unit: chars, minLength: 1, maxLength: 10 });
    let both = 0;
    fc.assert(
      fc.property(anyPattern, anyPattern, fc.array(literalSegment, { minLength: 1, maxLength: 4 }), name, (a, b, fill, random) => {
        for (const candidate of [instanceOf(a, fill), instanceOf(b, fill), random]) {
          if (!matchesName(a, candidate) || !matchesName(b, candidate)) continue;
          both += 1;
          expect(patternsIntersect(a, b), `${a.text} ∩ ${b.text} holds ${candidate}`).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
    expect(both).toBeGreaterThan(500);
  });
});

/** A name of `pattern` with its wildcards filled from `fill` (a prefix gets `fill` appended). */
function instanceOf(pattern: NamePattern, fill: readonly string[]): string {
  if (pattern.type === 'literal') return pattern.text;
  if (pattern.type === 'prefix') return `${pattern.text}${fill.join('.')}`;
  const parts = pattern.segments.map((segment, i) => (segment === '*' ? fill[i % fill.length]! : segment));
  return [...parts, ...(pattern.tail ? fill.slice(0, 1 + (fill.length % 3)) : [])].join('.');
}

describe('scopeCovers', () => {
  it('needs the same action, the same kind and a covering pattern', () => {
    const covers = (outer: string, inner: string) => scopeCovers(parseScope(outer), parseScope(inner));
    expect(covers('produce:orders.>', 'produce:orders.eu.*')).toBe(true);
    expect(covers('produce:orders.>', 'produce:orders')).toBe(false);
    expect(covers('produce:orders.*', 'produce:orders.>')).toBe(false);
    expect(covers('produce:orders.>', 'consume:orders.eu')).toBe(false);
    expect(covers('consume:orders.>', 'consume:group:orders.eu')).toBe(false);
    expect(covers('consume:group:>', 'consume:group:billing.*')).toBe(true);
    expect(covers('read-audit', 'read-audit')).toBe(true);
    expect(covers('read-audit', 'issue-token')).toBe(false);
    expect(covers('describe', 'describe:>')).toBe(false);
  });
});

describe('scopeCoverage: the allow rule', () => {
  it('a literal rule covers that topic only', () => {
    const policy = allowAlice('{ topic: orders.eu }', 'produce');
    expect(covered(policy, 'produce:orders.eu')).toBe(true);
    expect(covered(policy, 'produce:orders.*')).toBe(false);
    expect(covered(policy, 'produce:orders.eu.>')).toBe(false);
    expect(covered(policy, 'consume:orders.eu')).toBe(false);
  });

  it('a "*" rule covers one segment, not more', () => {
    const policy = allowAlice('{ topic: orders.* }', 'produce');
    expect(covered(policy, 'produce:orders.eu')).toBe(true);
    expect(covered(policy, 'produce:orders.*')).toBe(true);
    expect(covered(policy, 'produce:orders')).toBe(false);
    expect(coverage(policy, 'produce:orders.>')).toEqual({
      covered: false,
      reason: 'no unconditional allow rule grants produce on every topic matching "orders.>"',
    });
  });

  it('a ">" rule covers everything beneath, not the parent nor a sibling', () => {
    const policy = allowAlice('{ topic: orders.> }', 'produce');
    for (const scope of ['produce:orders.>', 'produce:orders.eu.*', 'produce:orders.*.retail', 'produce:orders.eu']) {
      expect(covered(policy, scope), scope).toBe(true);
    }
    for (const scope of ['produce:>', 'produce:*.eu', 'produce:orders', 'produce:ordersx.eu']) {
      expect(covered(policy, scope), scope).toBe(false);
    }
  });

  it('prefix rules (topicPrefix) cover the patterns all of whose names start with the prefix', () => {
    const dotted = allowAlice('{ topicPrefix: orders. }', 'produce');
    expect(covered(dotted, 'produce:orders.>')).toBe(true);
    expect(covered(dotted, 'produce:orders.*')).toBe(true);
    expect(covered(dotted, 'produce:orders.eu')).toBe(true);
    expect(covered(dotted, 'produce:orders')).toBe(false);
    expect(covered(dotted, 'produce:*.eu')).toBe(false);
    const partial = allowAlice('{ topicPrefix: orders.eu }', 'produce');
    expect(covered(partial, 'produce:orders.eu.>')).toBe(true);
    expect(covered(partial, 'produce:orders.europe')).toBe(true);
    expect(covered(partial, 'produce:orders.*')).toBe(false);
    expect(covered(partial, 'produce:orders.>')).toBe(false);
  });

  it('group scopes need a group resource; a topic rule of the same pattern does not count', () => {
    const topics = allowAlice('{ topic: ">" }', 'commit-offset');
    expect(covered(topics, 'commit-offset:group:billing.*')).toBe(false);
    expect(covered(topics, 'commit-offset:billing.*')).toBe(true);
    const groups = allowAlice('{ groupPrefix: billing. }', 'commit-offset');
    expect(covered(groups, 'commit-offset:group:billing.*')).toBe(true);
    expect(coverage(groups, 'commit-offset:group:>')).toEqual({
      covered: false,
      reason: 'no unconditional allow rule grants commit-offset on every group matching ">"',
    });
  });

  it('rules for other principals, and no rules at all, cover nothing', () => {
    expect(covered(allowAlice('{ topic: ">" }', 'produce'), 'produce:orders.eu', subject('bob'))).toBe(false);
    expect(covered(Policy.empty(), 'produce:orders.eu')).toBe(false);
  });

  it('two rules that cover a pattern only together do not count (conservative)', () => {
    const split = policyOf(`
      version: 1
      rules:
        - { id: one, effect: allow, principals: [{ name: alice }], resources: [{ topic: orders.* }], actions: [produce] }
        - { id: more, effect: allow, principals: [{ name: alice }], resources: [{ topic: orders.*.> }], actions: [produce] }
    `);
    expect(covered(split, 'produce:orders.*')).toBe(true);
    expect(covered(split, 'produce:orders.>')).toBe(false);
  });

  it.each([
    ['sourceIp', 'conditions: { sourceIp: [10.0.0.0/8] }'],
    ['encrypted', 'conditions: { encrypted: true }'],
    ['tokenBound', 'conditions: { tokenBound: true }'],
    ['tokenBound: false', 'conditions: { tokenBound: false }'],
  ])('a conditional allow rule (%s) does not count, even when its condition holds now', (_name, conditions) => {
    const unconditional = allowAlice('{ topic: orders.> }', 'produce');
    expect(covered(unconditional, 'produce:orders.eu')).toBe(true);
    const conditional = allowAlice('{ topic: orders.> }', 'produce', conditions);
    expect(coverage(conditional, 'produce:orders.eu')).toEqual({
      covered: false,
      reason: 'no unconditional allow rule grants produce on every topic matching "orders.eu"',
    });
    // A subject for which tokenBound: false holds today is still refused.
    expect(covered(conditional, 'produce:orders.eu', subject('alice', { tokenBound: false }))).toBe(false);
  });

  it('group-based principals match through subject.groups', () => {
    const policy = policyOf(`
      version: 1
      rules:
        - { id: ops-write, effect: allow, principals: [{ group: ops }], resources: [{ topic: orders.> }], actions: [produce] }
        - { id: contractors-no-payments, effect: deny, principals: [{ group: contractors }], resources: [{ topic: orders.payments }], actions: [produce] }
    `);
    expect(covered(policy, 'produce:orders.>', subject('carol', { groups: ['ops'] }))).toBe(true);
    expect(covered(policy, 'produce:orders.>', subject('carol', { groups: ['dev'] }))).toBe(false);
    expect(covered(policy, 'produce:orders.>', subject('ops'))).toBe(false);
    expect(coverage(policy, 'produce:orders.>', subject('carol', { groups: ['ops', 'contractors'] }))).toEqual({
      covered: false,
      reason: 'rule "contractors-no-payments" (test.yaml:4) denies produce on topics matching "orders.>"',
    });
    expect(covered(policy, 'produce:orders.eu.>', subject('carol', { groups: ['ops', 'contractors'] }))).toBe(true);
  });

  it('an action on a kind it does not apply to never counts', () => {
    const policy = allowAlice('{ cluster: true }, { topic: ">" }', 'produce, issue-token');
    const handMade: ParsedScope = { text: 'produce', action: 'produce', resource: { kind: 'cluster' } };
    expect(scopeCoverage(policy, alice, handMade)).toEqual({ covered: false, reason: '"produce" does not apply to a cluster' });
    expect(covered(policy, 'issue-token')).toBe(true);
    // issue-token on a topic grants nothing, so a topic-only rule does not cover the cluster action.
    expect(covered(allowAlice('{ topic: ">" }', 'issue-token'), 'issue-token')).toBe(false);
  });
});

describe('scopeCoverage: deny rules', () => {
  const carved = policyOf(`
    version: 1
    rules:
      - id: orders
        effect: allow
        principals: [{ name: alice }]
        resources: [{ topic: orders.> }]
        actions: [produce, consume]
      - id: deny-payments
        effect: deny
        principals: [{ any: true }]
        resources: [{ topic: orders.payments.> }]
        actions: [produce]
  `, 'file.yaml');

  it('a deny carving out a sub-pattern makes the broad scope uncovered', () => {
    expect(coverage(carved, 'produce:orders.>')).toEqual({
      covered: false,
      reason: 'rule "deny-payments" (file.yaml:8) denies produce on topics matching "orders.>"',
    });
    expect(covered(carved, 'produce:orders.payments.cards')).toBe(false);
    expect(covered(carved, 'produce:orders.*.cards')).toBe(false);
  });

  it('narrower scopes disjoint from the deny stay covered', () => {
    expect(covered(carved, 'produce:orders.eu.>')).toBe(true);
    // orders.* is exactly two segments; orders.payments.> needs three or more.
    expect(covered(carved, 'produce:orders.*')).toBe(true);
    expect(covered(carved, 'produce:orders.payments')).toBe(true);
    // The deny is about produce only.
    expect(covered(carved, 'consume:orders.>')).toBe(true);
  });

  it('a prefix deny is matched by string prefix', () => {
    const policy = policyOf(`
      version: 1
      rules:
        - { id: orders, effect: allow, principals: [{ name: alice }], resources: [{ topic: orders.> }], actions: [produce] }
        - { id: no-pay, effect: deny, principals: [{ name: alice }], resources: [{ topicPrefix: orders.pay }], actions: [produce] }
    `);
    expect(covered(policy, 'produce:orders.*')).toBe(false);
    expect(covered(policy, 'produce:orders.paypal')).toBe(false);
    expect(covered(policy, 'produce:orders.eu.>')).toBe(true);
  });

  it.each([
    ['encrypted: false', 'conditions: { encrypted: false }'],
    ['sourceIp', 'conditions: { sourceIp: [192.0.2.0/24] }'],
    ['tokenBound: false (fails for a bound token today)', 'conditions: { tokenBound: false }'],
  ])('a deny rule with conditions (%s) counts', (_name, conditions) => {
    const policy = policyOf(`
      version: 1
      rules:
        - { id: orders, effect: allow, principals: [{ name: alice }], resources: [{ topic: orders.> }], actions: [produce] }
        - id: deny-conditional
          effect: deny
          principals: [{ any: true }]
          resources: [{ topic: orders.payments.> }]
          actions: [produce]
          ${conditions}
    `);
    const bound = subject('alice', { tokenBound: true });
    expect(coverage(policy, 'produce:orders.>', bound)).toEqual({
      covered: false,
      reason: 'rule "deny-conditional" (test.yaml:4) denies produce on topics matching "orders.>"',
    });
    expect(covered(policy, 'produce:orders.eu.>', bound)).toBe(true);
  });

  it('a deny on the cluster removes a cluster action', () => {
    const policy = policyOf(`
      version: 1
      rules:
        - { id: admin, effect: allow, principals: [{ name: alice }], resources: [{ cluster: true }], actions: [issue-token, read-audit] }
        - { id: no-audit, effect: deny, principals: [{ name: alice }], resources: [{ cluster: true }], actions: [read-audit] }
    `);
    expect(covered(policy, 'issue-token')).toBe(true);
    expect(coverage(policy, 'read-audit')).toEqual({ covered: false, reason: 'rule "no-audit" (test.yaml:4) denies read-audit on the cluster' });
    expect(coverage(policy, 'manage-keys')).toEqual({ covered: false, reason: 'no unconditional allow rule grants manage-keys on the cluster' });
  });
});

describe("scopeCoverage: the requester's own scopes", () => {
  const everything = allowAlice('{ topic: ">" }, { group: ">" }, { cluster: true }', 'produce, consume, read-audit, issue-token');
  const scoped = (...scopes: string[]) => subject('alice', { scopes });

  it('a scoped requester cannot hand out a wider scope than its own', () => {
    const who = scoped('produce:orders.eu.>');
    expect(covered(everything, 'produce:orders.eu.>', who)).toBe(true);
    expect(covered(everything, 'produce:orders.eu.retail', who)).toBe(true);
    expect(coverage(everything, 'produce:orders.>', who)).toEqual({
      covered: false,
      reason: 'your own token\'s scopes do not include "produce:orders.>"',
    });
    expect(covered(everything, 'consume:orders.eu.retail', who)).toBe(false);
    expect(covered(everything, 'read-audit', who)).toBe(false);
    expect(covered(everything, 'read-audit', scoped('produce:orders.>', 'read-audit'))).toBe(true);
    // The same requester unscoped holds them all.
    expect(covered(everything, 'produce:orders.>')).toBe(true);
  });

  it('invalid own scopes, and an empty list, cover nothing', () => {
    expect(covered(everything, 'produce:orders.eu', scoped())).toBe(false);
    expect(covered(everything, 'produce:orders.eu', scoped('produce:orders..eu', 'produce:orders*', 'everything'))).toBe(false);
    expect(covered(everything, 'consume:group:billing', scoped('consume:billing'))).toBe(false);
  });

  it('own scopes never add to the policy', () => {
    expect(covered(allowAlice('{ topic: orders.eu }', 'produce'), 'produce:orders.>', scoped('produce:>'))).toBe(false);
  });
});

describe('unrestrictedScopes and coverageOfAll', () => {
  const ALL_ACTIONS = 'produce, consume, describe, create, delete, alter, commit-offset, issue-token, manage-keys, read-audit, manage-schemas';

  it('lists every action on every kind it applies to, with the widest pattern', () => {
    const texts = unrestrictedScopes().map((scope) => scope.text);
    expect(texts).toHaveLength(19);
    expect(texts).toEqual(expect.arrayContaining(['produce:>', 'consume:>', 'consume:group:>', 'describe', 'create', 'read-audit', 'issue-token']));
    expect(texts).not.toContain('produce');
    expect(texts).not.toContain('issue-token:>');
  });

  it('an admin allowed every action on every topic, group and the cluster may issue an unscoped token', () => {
    const admin = allowAlice('{ topic: ">" }, { group: ">" }, { cluster: true }', ALL_ACTIONS);
    expect(coverageOfAll(admin, alice, unrestrictedScopes())).toEqual({ covered: true });
  });

  it('one missing action, kind or a deny anywhere makes it uncovered, naming the first scope', () => {
    const noSchemas = allowAlice('{ topic: ">" }, { group: ">" }, { cluster: true }', ALL_ACTIONS.replace(', manage-schemas', ''));
    const first = coverageOfAll(noSchemas, alice, unrestrictedScopes());
    expect(first).toMatchObject({ covered: false, reason: 'no unconditional allow rule grants manage-schemas on every topic matching ">"' });
    expect(!first.covered && first.scope.text).toBe('manage-schemas:>');

    const noGroups = allowAlice('{ topic: ">" }, { cluster: true }', ALL_ACTIONS);
    const groups = coverageOfAll(noGroups, alice, unrestrictedScopes());
    expect(!groups.covered && groups.scope.text).toBe('consume:group:>');

    const denied = policyOf(`
      version: 1
      rules:
        - { id: admin, effect: allow, principals: [{ name: alice }], resources: [{ topic: ">" }, { group: ">" }, { cluster: true }], actions: [${ALL_ACTIONS}] }
        - { id: no-audit-deletes, effect: deny, principals: [{ any: true }], resources: [{ topic: __audit }], actions: [delete] }
    `);
    expect(coverageOfAll(denied, alice, unrestrictedScopes())).toMatchObject({
      covered: false,
      scope: { text: 'delete:>' },
      reason: 'rule "no-audit-deletes" (test.yaml:4) denies delete on topics matching ">"',
    });
  });

  it('a scoped admin may not issue an unscoped token', () => {
    const admin = allowAlice('{ topic: ">" }, { group: ">" }, { cluster: true }', ALL_ACTIONS);
    const result = coverageOfAll(admin, subject('alice', { scopes: ['produce:>'] }), unrestrictedScopes());
    expect(result).toMatchObject({ covered: false, scope: { text: 'consume:>' } });
  });
});

describe('scopeCoverage is sound (property)', () => {
  // Valid topic-name characters only, so that every generated name is one the log accepts.
  const literalSegment = fc.constantFrom('a', 'b', 'ab');
  const segmentText = fc
    .tuple(fc.array(fc.oneof(literalSegment, fc.constant('*')), { maxLength: 3 }), fc.boolean())
    .filter(([segments, tail]) => segments.length > 0 || tail)
    .map(([segments, tail]) => [...segments, ...(tail ? ['>'] : [])].join('.'));
  // Broad patterns are frequent, so that many requested scopes are covered and checked.
  const broadText = fc.oneof({ arbitrary: fc.constantFrom('>', 'a.>', '*.>', 'a.*'), weight: 1 }, { arbitrary: segmentText, weight: 1 });
  const prefixText = fc.string({ unit: fc.constantFrom('a', 'b', '.'), minLength: 1, maxLength: 3 });
  const kind = fc.constantFrom('topic' as const, 'group' as const);
  const resource = fc.oneof(
    { arbitrary: fc.tuple(kind, broadText).map(([k, text]) => ({ [k]: text })), weight: 3 },
    { arbitrary: fc.tuple(kind, prefixText).map(([k, text]) => ({ [`${k}Prefix`]: text })), weight: 1 },
  );
  const conditions = fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 3 },
    {
      arbitrary: fc.constantFrom({ sourceIp: ['10.0.0.0/8'] }, { encrypted: true }, { encrypted: false }, { tokenBound: true }, { tokenBound: false }),
      weight: 2,
    },
  );
  const rule = fc.record({
    effect: fc.constantFrom('allow', 'allow', 'allow', 'deny'),
    principals: fc.constantFrom([{ name: 'alice' }], [{ name: 'alice' }], [{ group: 'ops' }], [{ any: true }], [{ name: 'bob' }]),
    resources: fc.array(resource, { minLength: 1, maxLength: 2 }),
    actions: fc.subarray(['produce', 'consume'] as Action[], { minLength: 1 }),
    conditions,
  });
  const policy = fc.array(rule, { maxLength: 5 }).map((rules) =>
    Policy.compile([
      {
        file: 'generated.yaml',
        text: JSON.stringify({
          version: 1,
          rules: rules.map(({ conditions: when, ...rest }, i) => ({ id: `r${i}`, ...rest, ...(when === undefined ? {} : { conditions: when }) })),
        }),
      },
    ]),
  );
  const scopeOf = (pattern: fc.Arbitrary<string>) =>
    fc
      .tuple(fc.constantFrom<Action>('produce', 'consume'), kind, pattern)
      .map(([action, k, text]) => (k === 'group' ? `consume:group:${text}` : `${action}:${text}`));
  const who = fc.record({
    groups: fc.subarray(['ops']),
    tokenBound: fc.boolean(),
    scopes: fc.oneof({ arbitrary: fc.constant(null), weight: 2 }, { arbitrary: fc.array(scopeOf(broadText), { maxLength: 3 }), weight: 1 }),
  });
  const context = fc.record({
    sourceIp: fc.oneof(fc.constantFrom(null, '10.1.2.3', '::ffff:10.0.0.1', 'not-an-address'), fc.ipV4(), fc.ipV6()),
    encrypted: fc.constantFrom(undefined, true, false),
  });

  it('whenever a scope is covered, every name it matches is allowed in every context', () => {
    let checked = 0;
    fc.assert(
      fc.property(
        policy,
        who,
        scopeOf(fc.oneof(broadText, segmentText)),
        fc.array(literalSegment, { minLength: 1, maxLength: 4 }),
        fc.array(context, { minLength: 1, maxLength: 4 }),
        (compiled, fields, text, fill, contexts) => {
          const requester = subject('alice', fields);
          const requested = parseScope(text);
          if (!scopeCoverage(compiled, requester, requested).covered) return;
          const target = requested.resource;
          if (target.kind === 'cluster') throw new Error('generated a cluster scope');
          const name = instanceOf(target.pattern, fill);
          expect(matchesName(target.pattern, name)).toBe(true);
          checked += 1;
          for (const ctx of contexts) {
            const { encrypted, ...rest } = ctx;
            const full: PolicyContext = encrypted === undefined ? rest : { ...rest, encrypted };
            const resource = target.kind === 'topic' ? topic(name) : group(name);
            const decision = compiled.evaluate(request(requester, requested.action, resource, full));
            expect(decision.allowed, `${text} covered, but ${requested.action} on ${name}: ${decision.reason}`).toBe(true);
          }
        },
      ),
      { numRuns: 4000 },
    );
    expect(checked).toBeGreaterThan(100);
  });
});
