import { describe, expect, it } from 'vitest';
import type { Action, PolicySubject, Resource } from '../../src/policy/index.js';
import { CLUSTER, THUMBPRINT, group, policyOf, request, subject, topic } from './helpers.js';

const policy = policyOf(`
  version: 1
  rules:
    - id: producer-orders
      effect: allow
      principals: [{ name: orders-producer }]
      resources: [{ topic: orders.> }]
      actions: [produce, describe]
    - id: billing-workloads
      effect: allow
      principals: [{ spiffe: spiffe://example.org/ns/billing/ }]
      resources: [{ topic: billing.* }]
      actions: [consume, describe]
    - id: analysts
      effect: allow
      principals: [{ group: analysts }]
      resources: [{ topicPrefix: metrics- }, { group: analytics.> }]
      actions: [consume, describe, commit-offset]
    - id: ingest-certificates
      effect: allow
      principals:
        - certificate: { thumbprint: ${THUMBPRINT} }
        - certificate: { subject: "CN=ingest,O=acme" }
      resources: [{ topic: ingest }]
      actions: [produce]
    - id: public-topics
      effect: allow
      principals: [{ any: true }]
      resources: [{ topic: public.* }]
      actions: [consume, describe]
    - id: no-internal-orders
      effect: deny
      principals: [{ any: true }]
      resources: [{ topic: orders.internal.> }]
      actions: [produce, consume]
    - id: admin
      effect: allow
      principals: [{ name: admin }]
      resources: [{ topic: ">" }, { group: ">" }, { cluster: true }]
      actions: [produce, consume, describe, create, delete, alter, commit-offset, issue-token, manage-keys, read-audit, manage-schemas]
`);

const principals: Record<string, PolicySubject> = {
  producer: subject('orders-producer'),
  billing: subject('billing-reporter', { spiffeId: 'spiffe://example.org/ns/billing/reporter' }),
  analyst: subject('alice', { groups: ['staff', 'analysts'] }),
  ingestByThumbprint: subject('ingest-1', { certificate: { subject: 'CN=ingest-1', thumbprint: THUMBPRINT } }),
  ingestBySubject: subject('ingest-2', { certificate: { subject: 'CN=ingest,O=acme', thumbprint: 'x'.repeat(43) } }),
  stranger: subject('stranger'),
  admin: subject('admin'),
};

type Row = [principal: string, action: Action, resource: Resource, rule: string];
const DENY = 'default-deny';
const rows: Row[] = [
  ['producer', 'produce', topic('orders.eu'), 'producer-orders'],
  ['producer', 'produce', topic('orders.eu.retail'), 'producer-orders'],
  ['producer', 'describe', topic('orders.eu'), 'producer-orders'],
  ['producer', 'consume', topic('orders.eu'), DENY],
  ['producer', 'produce', topic('orders'), DENY],
  ['producer', 'produce', topic('billing.eu'), DENY],
  ['producer', 'produce', topic('orders.internal.audit'), 'no-internal-orders'],
  ['producer', 'issue-token', CLUSTER, DENY],
  ['billing', 'consume', topic('billing.eu'), 'billing-workloads'],
  ['billing', 'describe', topic('billing.us'), 'billing-workloads'],
  ['billing', 'consume', topic('billing.eu.archive'), DENY],
  ['billing', 'produce', topic('billing.eu'), DENY],
  ['billing', 'consume', topic('public.news'), 'public-topics'],
  ['analyst', 'consume', topic('metrics-cpu'), 'analysts'],
  ['analyst', 'consume', topic('metrics-cpu.eu'), 'analysts'],
  ['analyst', 'commit-offset', group('analytics.daily'), 'analysts'],
  ['analyst', 'commit-offset', group('analytics'), DENY],
  ['analyst', 'produce', topic('metrics-cpu'), DENY],
  ['analyst', 'consume', topic('metrics.cpu'), DENY],
  ['ingestByThumbprint', 'produce', topic('ingest'), 'ingest-certificates'],
  ['ingestBySubject', 'produce', topic('ingest'), 'ingest-certificates'],
  ['ingestBySubject', 'produce', topic('ingest.x'), DENY],
  ['ingestByThumbprint', 'consume', topic('ingest'), DENY],
  ['stranger', 'consume', topic('public.news'), 'public-topics'],
  ['stranger', 'consume', topic('public.news.eu'), DENY],
  ['stranger', 'produce', topic('public.news'), DENY],
  ['stranger', 'describe', CLUSTER, DENY],
  ['stranger', 'consume', group('analytics.daily'), DENY],
  ['admin', 'produce', topic('anything.at.all'), 'admin'],
  ['admin', 'produce', topic('orders.internal.audit'), 'no-internal-orders'],
  ['admin', 'consume', topic('orders.internal.audit'), 'no-internal-orders'],
  ['admin', 'describe', topic('orders.internal.audit'), 'admin'],
  ['admin', 'commit-offset', group('someone-else'), 'admin'],
  ['admin', 'issue-token', CLUSTER, 'admin'],
  ['admin', 'read-audit', CLUSTER, 'admin'],
  ['admin', 'manage-keys', CLUSTER, 'admin'],
  ['admin', 'create', topic('new.topic'), 'admin'],
  ['admin', 'create', CLUSTER, 'admin'],
  // The admin rule lists produce and the cluster, but produce never applies to the cluster.
  ['admin', 'produce', CLUSTER, DENY],
  ['admin', 'issue-token', topic('orders.eu'), DENY],
];

describe('decision matrix: principals x resources x actions', () => {
  it.each(rows)('%s %s %j → %s', (who, action, resource, rule) => {
    const decision = policy.evaluate(request(principals[who]!, action, resource));
    expect(decision.rule).toBe(rule);
    const expectAllowed = rule !== DENY && rule !== 'no-internal-orders';
    expect(decision.allowed).toBe(expectAllowed);
    if (rule === DENY) {
      expect(decision.deciding).toEqual([]);
    } else {
      const line = policy.rules.find((candidate) => candidate.id === rule)!.line;
      expect(decision.deciding).toContainEqual({ id: rule, effect: expectAllowed ? 'allow' : 'deny', file: 'test.yaml', line });
    }
    expect(decision.reason.length).toBeGreaterThan(0);
  });

  it('gives every rule its 1-based line', () => {
    expect(policy.rules.map((rule) => [rule.id, rule.line])).toEqual([
      ['producer-orders', 3],
      ['billing-workloads', 8],
      ['analysts', 13],
      ['ingest-certificates', 18],
      ['public-topics', 25],
      ['no-internal-orders', 30],
      ['admin', 35],
    ]);
  });

  it('is a pure function: the same request gives an equal decision, and decisions are frozen', () => {
    const ask = request(principals.producer!, 'produce', topic('orders.eu'));
    const first = policy.evaluate(ask);
    expect(policy.evaluate(ask)).toEqual(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.deciding)).toBe(true);
  });

  it('denies everything with the empty policy', () => {
    const empty = policyOf('version: 1\nrules: []\n');
    for (const [who, action, resource] of rows) {
      expect(empty.evaluate(request(principals[who]!, action, resource))).toMatchObject({ allowed: false, rule: DENY, deciding: [] });
    }
  });
});
