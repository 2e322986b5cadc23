/** The ops/ files and the metric names they use, shared by the ops tests. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ALERTS = `${ROOT}ops/prometheus/alerts.yml`;
export const ALERT_TESTS = `${ROOT}ops/prometheus/alerts.test.yml`;
export const SCRAPE_CONFIG = `${ROOT}ops/prometheus/prometheus.yml`;
export const DASHBOARD = `${ROOT}ops/grafana/sealbus.json`;
export const OPERATIONS_DOC = `${ROOT}docs/operations.md`;

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export function alertRules(): AlertRule[] {
  const file = parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return file.groups.flatMap((group) => group.rules);
}

export interface AlertTests {
  readonly tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

export function alertTests(): AlertTests {
  return parse(readFileSync(ALERT_TESTS, 'utf8')) as AlertTests;
}

/** Every PromQL expression of the dashboard, with Grafana's variables replaced by plain values. */
export function dashboardExpressions(): string[] {
  const expressions: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (typeof node === 'object' && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'expr' && typeof value === 'string') expressions.push(value);
        else visit(value);
      }
    }
  };
  visit(JSON.parse(readFileSync(DASHBOARD, 'utf8')));
  return expressions.map((expr) => expr.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*'));
}

/** The broker's metric names an expression uses (Prometheus' own `up` and functions excluded). */
export function metricNamesIn(text: string): Set<string> {
  return new Set(text.match(/\b(?:sealbus|process|nodejs)_[a-z0-9_]+\b/g) ?? []);
}
