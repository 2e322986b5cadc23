import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BrokerMetrics } from '../../src/server/metrics.js';
import { processRegistry } from '../../src/server/metrics/process.js';
import { ALERTS, OPERATIONS_DOC, alertRules, alertTests, dashboardExpressions, metricNamesIn } from './ops-files.js';

/** The broker's metric families: name → type. */
async function exported(): Promise<Map<string, string>> {
  const metrics = new BrokerMetrics();
  const families = [...(await metrics.registry.getMetricsAsJSON()), ...(await processRegistry().getMetricsAsJSON())];
  return new Map(families.map((family) => [family.name, String(family.type)]));
}

/** The family a sample name belongs to: histograms are queried through _bucket, _sum and _count. */
function family(name: string, families: Map<string, string>): string | undefined {
  if (families.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return families.get(base) === 'histogram' ? base : undefined;
}

/** The alert rules, the dashboard and the docs use the names the broker exports, so a rename breaks here. */
describe('metric names in ops/ and docs/operations.md', () => {
  it('every metric an alert rule uses is exported by the broker', async () => {
    const families = await exported();
    const used = metricNamesIn(readFileSync(ALERTS, 'utf8'));
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((name) => family(name, families) === undefined)).toEqual([]);
  });

  it('every metric the dashboard queries is exported by the broker', async () => {
    const families = await exported();
    const used = metricNamesIn(dashboardExpressions().join('\n'));
    expect(used.size).toBeGreaterThan(20);
    expect([...used].filter((name) => family(name, families) === undefined)).toEqual([]);
  });

  it('every sealbus metric is named sealbus_*, has help text, and is documented in docs/operations.md', async () => {
    const metrics = new BrokerMetrics();
    const own = await metrics.registry.getMetricsAsJSON();
    const doc = readFileSync(OPERATIONS_DOC, 'utf8');
    expect(own.filter((m) => !m.name.startsWith('sealbus_')).map((m) => m.name)).toEqual([]);
    expect(own.filter((m) => m.help.length < 20).map((m) => m.name)).toEqual([]);
    expect(own.filter((m) => !doc.includes(`\`${m.name}\``)).map((m) => m.name)).toEqual([]);
    // ...and the docs name no metric that does not exist.
    const families = await exported();
    const documented = [...metricNamesIn(doc)].filter((name) => name.startsWith('sealbus_'));
    expect(documented.filter((name) => family(name, families) === undefined)).toEqual([]);
  });

  it('every alert has a severity, a summary and a description, and a unit test in which it fires', () => {
    const rules = alertRules();
    expect(rules.filter((r) => !['warning', 'critical'].includes(r.labels?.severity ?? '')).map((r) => r.alert)).toEqual([]);
    expect(rules.filter((r) => !r.annotations?.summary || !r.annotations?.description).map((r) => r.alert)).toEqual([]);
    const firing = new Set(alertTests().tests.flatMap((t) => (t.alert_rule_test ?? []).filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname)));
    expect(rules.map((r) => r.alert).filter((name) => !firing.has(name))).toEqual([]);
  });

  it('covers what the issue asks to alert on', () => {
    const names = alertRules().map((r) => r.alert);
    for (const wanted of ['BrokerDown', 'HighErrorRate', 'AuthzDenialSpike', 'ConsumerLagGrowing', 'SlowFsync', 'DiskNearlyFull', 'CertificateExpiringSoon', 'AuditLogUnwritable']) {
      expect(names).toContain(`Sealbus${wanted}`);
    }
    const expiry = alertRules().find((r) => r.alert === 'SealbusCertificateExpiringSoon')!;
    expect(expiry.expr).toContain('14 * 86400');
  });
});
