import { describe, expect, it } from 'vitest';
import { explain } from '../../src/policy/index.js';
import { policyOf, request, subject, topic } from './helpers.js';

const policy = policyOf(`
  version: 1
  rules:
    - id: writers
      effect: allow
      description: Services that write orders.
      principals: [{ name: svc }]
      resources: [{ topic: orders.> }]
      actions: [produce]
    - id: from-lan
      effect: allow
      principals: [{ name: svc }]
      resources: [{ topic: orders.eu }]
      actions: [produce]
      conditions: { sourceIp: [10.0.0.0/8] }
    - id: sealed-payments
      effect: deny
      principals: [{ any: true }]
      resources: [{ topic: orders.payments }]
      actions: [produce]
      conditions: { encrypted: false }
    - id: unrelated
      effect: allow
      principals: [{ name: other }]
      resources: [{ topic: orders.> }]
      actions: [produce]
`, 'orders.yaml');

describe('explain', () => {
  it('names the rule that allowed, and the matching rules whose conditions kept them out', () => {
    const explanation = explain(policy, request(subject('svc'), 'produce', topic('orders.eu'), { sourceIp: '192.168.0.1' }));
    expect(explanation.decision).toMatchObject({ allowed: true, rule: 'writers' });
    expect(explanation.request).toEqual({ principal: 'svc', action: 'produce', resource: 'topic "orders.eu"' });
    expect(explanation.policyVersion).toBe(policy.version);
    expect(explanation.rules).toEqual([
      { id: 'writers', effect: 'allow', file: 'orders.yaml', line: 3, description: 'Services that write orders.', outcome: 'allowed', conditions: [], note: 'it allows the request' },
      {
        id: 'from-lan',
        effect: 'allow',
        file: 'orders.yaml',
        line: 9,
        description: null,
        outcome: 'conditions-not-met',
        conditions: [{ condition: 'sourceIp', outcome: 'fails', detail: '192.168.0.1 is not in 10.0.0.0/8' }],
        note: 'its conditions do not all hold, so it does not allow (an unknown input counts as not holding)',
      },
    ]);
    expect(explanation.scopes).toBeNull();
  });

  it('says which allow rules a deny rule knocked out, and why the deny applied', () => {
    const explanation = explain(policy, request(subject('svc'), 'produce', topic('orders.payments')));
    expect(explanation.decision).toMatchObject({ allowed: false, rule: 'sealed-payments' });
    expect(explanation.rules.map((rule) => [rule.id, rule.outcome])).toEqual([
      ['writers', 'overridden-by-deny'],
      ['sealed-payments', 'denied'],
    ]);
    expect(explanation.rules[0]!.note).toBe('it would allow, but deny rule "sealed-payments" (orders.yaml:15) overrides it');
    expect(explanation.rules[1]!.conditions).toEqual([
      { condition: 'encrypted', outcome: 'unknown', detail: 'whether the payload is encrypted is unknown (rule wants encrypted: false)' },
    ]);
  });

  it('shows scopes that removed a right, and an empty list for default deny', () => {
    const scoped = explain(policy, request(subject('svc', { scopes: ['produce:billing.>'] }), 'produce', topic('orders.eu')));
    expect(scoped.decision.rule).toBe('scope');
    expect(scoped.scopes).toEqual({ restricted: true, matching: null });
    expect(scoped.rules.map((rule) => rule.outcome)).toEqual(['removed-by-scope', 'conditions-not-met']);
    const nobody = explain(policy, request(subject('nobody'), 'produce', topic('orders.eu')));
    expect(nobody.decision).toMatchObject({ allowed: false, rule: 'default-deny', deciding: [] });
    expect(nobody.rules).toEqual([]);
  });

  it('is plain JSON and agrees with evaluate', () => {
    const ask = request(subject('svc'), 'produce', topic('orders.payments'), { encrypted: true });
    const explanation = explain(policy, ask);
    expect(JSON.parse(JSON.stringify(explanation))).toEqual(explanation);
    expect(explanation.decision).toEqual(policy.evaluate(ask));
  });
});
