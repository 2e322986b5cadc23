import { describe, expect, it } from 'vitest';
import type { Action, PolicySubject, Resource } from '../../src/policy/index.js';
import { CLUSTER, group, policyOf, request, subject, topic } from './helpers.js';

/**
 * The attacker's side: requests crafted to slip past a rule. Each must be denied, by default deny
 * or by the deny rule named. Each case sits next to its control, the honest request that the same
 * rule does allow, so that a test cannot pass because the rule is simply missing.
 */
const policy = policyOf(`
  version: 1
  rules:
    - id: orders-service
      effect: allow
      principals: [{ name: orders-service }, { name: josé }, { name: "svc*" }]
      resources: [{ topic: orders }, { topic: orders.* }]
      actions: [produce, describe]
    - id: eu-tree
      effect: allow
      principals: [{ name: orders-service }]
      resources: [{ topic: eu.> }, { topicPrefix: scratch. }]
      actions: [consume]
    - id: no-eu-secrets
      effect: deny
      principals: [{ any: true }]
      resources: [{ topic: eu.secret.> }, { topic: scratch.secret.> }]
      actions: [consume]
    - id: consumer-own-groups
      effect: allow
      principals: [{ name: orders-consumer }]
      resources: [{ group: orders-consumer }, { group: orders-consumer.> }]
      actions: [consume, commit-offset]
    - id: billing-workloads
      effect: allow
      principals: [{ spiffe: spiffe://example.org/ns/billing/ }]
      resources: [{ topic: billing }]
      actions: [consume]
    - id: auditor
      effect: allow
      principals: [{ name: auditor }]
      resources: [{ cluster: true }, { topic: ">" }]
      actions: [read-audit, describe]
    - id: ingest
      effect: allow
      principals: [{ certificate: { subject: "CN=ingest,O=acme" } }]
      resources: [{ topic: ingest }]
      actions: [produce]
`);

function decide(who: PolicySubject, action: Action, resource: Resource) {
  return policy.evaluate(request(who, action, resource));
}

function expectDenied(who: PolicySubject, action: Action, resource: Resource, rule = 'default-deny') {
  const decision = decide(who, action, resource);
  expect(decision, `${who.name} ${action} ${JSON.stringify(resource)}`).toMatchObject({ allowed: false, rule });
}

function expectAllowed(who: PolicySubject, action: Action, resource: Resource) {
  expect(decide(who, action, resource).allowed, `${who.name} ${action} ${JSON.stringify(resource)}`).toBe(true);
}

const service = subject('orders-service');

describe('bypass attempts', () => {
  it('case variants of the principal and the topic', () => {
    expectAllowed(service, 'produce', topic('orders'));
    for (const name of ['Orders-Service', 'ORDERS-SERVICE', 'orders-Service']) expectDenied(subject(name), 'produce', topic('orders'));
    for (const name of ['Orders', 'ORDERS', 'Orders.eu', 'orders.EU'.replace('orders', 'Orders')]) expectDenied(service, 'produce', topic(name));
  });

  it('leading and trailing spaces, tabs and NULs', () => {
    for (const name of ['orders-service ', ' orders-service', 'orders-service\t', 'orders-service\u0000', 'orders-service\n']) {
      expectDenied(subject(name), 'produce', topic('orders'));
    }
    for (const name of ['orders ', ' orders', 'orders.eu ', 'orders\u0000']) expectDenied(service, 'produce', topic(name));
  });

  it('unicode look-alikes and other normalization forms', () => {
    expectAllowed(subject('jos\u00e9'), 'produce', topic('orders'));
    expectDenied(subject('jose\u0301'), 'produce', topic('orders')); // NFD of josé
    expectDenied(subject('\u043erders-service'), 'produce', topic('orders')); // Cyrillic о
    expectDenied(service, 'produce', topic('\u043erders')); // Cyrillic о
    expectDenied(service, 'produce', topic('\uff4frders')); // fullwidth ｏ, NFKC folds it to o
    expectDenied(service, 'produce', topic('orders\u200b')); // zero-width space
    expectDenied(service, 'produce', topic('orders\u2024eu')); // one dot leader, not a dot
    // Group names may hold any letter, so these reach the matcher itself, which compares code units.
    const consumer = subject('orders-consumer');
    expectAllowed(consumer, 'consume', group('orders-consumer'));
    for (const name of ['\u043erders-consumer', 'ORDERS-CONSUMER', 'orders-consumer ', 'orders\u2010consumer', '\uff4frders-consumer']) {
      expectDenied(consumer, 'consume', group(name));
    }
  });

  it('percent-encoded names are not decoded', () => {
    expectAllowed(service, 'produce', topic('orders.eu'));
    expectDenied(service, 'produce', topic('orders%2Eeu'));
    expectDenied(service, 'produce', topic('%6Frders'));
    expectDenied(subject('orders%2Dservice'), 'produce', topic('orders'));
    expectDenied(service, 'consume', topic('eu%2Esecret%2Ex'));
  });

  it('".." and empty segments', () => {
    expectAllowed(service, 'consume', topic('eu.public.x'));
    for (const name of ['orders..eu', 'orders.', '.orders', 'orders..', 'eu..x', 'eu.secret..x', 'eu..secret.x', '..']) {
      expectDenied(service, 'consume', topic(name));
      expectDenied(service, 'produce', topic(name));
    }
    // A prefix rule would match 'scratch.secret..x' while the deny pattern would not: refused as malformed.
    expectAllowed(service, 'consume', topic('scratch.notes'));
    expectDenied(service, 'consume', topic('scratch.secret..x'));
    expectDenied(service, 'consume', topic('scratch.secret.x'), 'no-eu-secrets');
    // Group names may hold '..', but a wildcard never matches an empty segment.
    const consumer = subject('orders-consumer');
    expectAllowed(consumer, 'consume', group('orders-consumer.billing'));
    for (const name of ['orders-consumer..billing', 'orders-consumer.', 'orders-consumer.billing.']) expectDenied(consumer, 'consume', group(name));
    const billing = (id: string) => subject('billing', { spiffeId: id });
    expectAllowed(billing('spiffe://example.org/ns/billing/reporter'), 'consume', topic('billing'));
    for (const id of [
      'spiffe://example.org/ns/billing/../admin',
      'spiffe://example.org/ns/billing/./x',
      'spiffe://example.org/ns/billing//x',
      'spiffe://example.org/ns/billing/%2e%2e/admin',
    ]) {
      expectDenied(billing(id), 'consume', topic('billing'));
    }
  });

  it('wildcard depth', () => {
    expectAllowed(service, 'produce', topic('orders.eu'));
    expectDenied(service, 'produce', topic('orders.eu.retail')); // '*' is exactly one segment
    expectAllowed(service, 'consume', topic('eu.a.b.c.d'));
    expectDenied(service, 'consume', topic('eu')); // '>' is at least one segment
    expectDenied(service, 'consume', topic('euro.a'));
    expectDenied(service, 'consume', topic('eu.secret.x'), 'no-eu-secrets');
    expectDenied(service, 'consume', topic('eu.secret.x.y.z'), 'no-eu-secrets');
  });

  it('pattern characters in requested names are literal', () => {
    for (const name of ['*', '>', 'orders.*.x', 'orders.>.x', '*.eu', 'orders*']) expectDenied(service, 'produce', topic(name));
    // A topic literally named like a pattern matches only as the one-segment name it is.
    expectDenied(service, 'consume', topic('eu'));
    // A principal name with '*' matches only the rule entry spelled exactly so, never as a wildcard.
    expectAllowed(subject('svc*'), 'produce', topic('orders'));
    for (const name of ['svc', 'svc-x', 'svc**', '*']) expectDenied(subject(name), 'produce', topic('orders'));
    expectDenied(subject('orders-consumer'), 'consume', group('*'));
    expectDenied(subject('orders-consumer'), 'consume', group('>'));
    expectDenied(subject('>'), 'consume', group('orders-consumer'));
  });

  it("joining or committing for another principal's group", () => {
    const consumer = subject('orders-consumer');
    expectAllowed(consumer, 'commit-offset', group('orders-consumer'));
    expectAllowed(consumer, 'commit-offset', group('orders-consumer.eu'));
    for (const name of ['billing-consumer', 'billing-consumer.eu', 'orders-consumerX', 'orders-consumer-2', 'orders', 'Orders-consumer']) {
      expectDenied(consumer, 'consume', group(name));
      expectDenied(consumer, 'commit-offset', group(name));
    }
    // The group right does not carry over to a topic of the same name, nor to another principal.
    expectDenied(consumer, 'consume', topic('orders-consumer'));
    expectDenied(subject('billing-consumer'), 'commit-offset', group('orders-consumer'));
    // Groups come from the token's claim only: a principal named like a group is not a member.
    expectDenied(subject('analysts'), 'consume', group('orders-consumer'));
  });

  it('admin actions asked by a read-only principal', () => {
    const auditor = subject('auditor');
    expectAllowed(auditor, 'read-audit', CLUSTER);
    expectAllowed(auditor, 'describe', topic('orders.eu'));
    for (const action of ['issue-token', 'manage-keys', 'manage-schemas', 'create', 'alter'] as const) expectDenied(auditor, action, CLUSTER);
    for (const action of ['produce', 'consume', 'create', 'delete', 'alter'] as const) expectDenied(auditor, action, topic('orders.eu'));
    expectDenied(auditor, 'commit-offset', group('orders-consumer'));
    // read-audit applies to the cluster only: a topic named like the audit log grants nothing.
    expectDenied(auditor, 'read-audit', topic('__audit'));
  });

  it('certificate subjects and SPIFFE IDs compare exactly', () => {
    const cert = (dn: string) => subject('x', { certificate: { subject: dn, thumbprint: 'a'.repeat(43) } });
    expectAllowed(cert('CN=ingest,O=acme'), 'produce', topic('ingest'));
    for (const dn of ['CN=ingest, O=acme', 'cn=ingest,o=acme', 'CN=ingest,O=acme ', 'O=acme,CN=ingest', 'CN=ingest,O=acme,OU=x']) {
      expectDenied(cert(dn), 'produce', topic('ingest'));
    }
    const billing = (id: string) => subject('billing', { spiffeId: id });
    for (const id of [
      'spiffe://example.org/ns/billingx/reporter',
      'spiffe://example.org/ns/billing',
      'SPIFFE://example.org/ns/billing/reporter',
      'spiffe://Example.org/ns/billing/reporter',
      'spiffe://example.org.evil/ns/billing/reporter',
      'spiffe://example.org/ns/Billing/reporter',
    ]) {
      expectDenied(billing(id), 'consume', topic('billing'));
    }
  });
});
