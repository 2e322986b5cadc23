import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { useTempDirs } from '../helpers/temp-dirs.js';
import { ALERTS, ALERT_TESTS, SCRAPE_CONFIG, alertRules, dashboardExpressions } from './ops-files.js';

const MISSING = 'promtool is not installed: it comes with the Debian package "prometheus" (apt-get install prometheus)';
const required = process.env.SEALBUS_REQUIRE_TOOLS === '1';
const promtool = process.env.PROMTOOL ?? 'promtool';
const available = spawnSync(promtool, ['--version'], { encoding: 'utf8' }).status === 0;
if (!available && !required) console.warn(`test/ops/alert-rules.test.ts skipped: ${MISSING}. CI sets SEALBUS_REQUIRE_TOOLS=1, which makes this a failure.`);

function run(...args: string[]): { status: number | null; output: string } {
  if (!available) throw new Error(MISSING);
  const result = spawnSync(promtool, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The alert rules, their unit tests and the example scrape config, checked by Prometheus' own tool. */
describe.skipIf(!available && !required)('ops/prometheus with promtool', () => {
  const tempDir = useTempDirs('sealbus-promtool-');

  it('accepts the alert rules', () => {
    const { status, output } = run('check', 'rules', ALERTS);
    expect(output).toContain(`SUCCESS: ${alertRules().length} rules found`);
    expect(status).toBe(0);
  });

  it("passes the rules' unit tests (each alert fires, and stays silent when healthy)", () => {
    const { status, output } = run('test', 'rules', ALERT_TESTS);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('fails a unit test when a threshold changes, so the unit tests hold the rules to what they say', async () => {
    const dir = await tempDir();
    const rules = await readFile(ALERTS, 'utf8');
    const loosened = rules.replace('sealbus_disk_free_bytes / sealbus_disk_size_bytes < 0.10', 'sealbus_disk_free_bytes / sealbus_disk_size_bytes < 0.60');
    expect(loosened).not.toBe(rules);
    await writeFile(join(dir, 'alerts.yml'), loosened);
    await writeFile(join(dir, 'alerts.test.yml'), await readFile(ALERT_TESTS, 'utf8'));
    const { status, output } = run('test', 'rules', join(dir, 'alerts.test.yml'));
    expect(output).toContain('SealbusDiskNearlyFull');
    expect(status).not.toBe(0);
  });

  it('accepts the example scrape configuration', () => {
    const { status, output } = run('check', 'config', '--syntax-only', SCRAPE_CONFIG);
    expect(status, output).toBe(0);
  });

  it('parses every query of the Grafana dashboard', async () => {
    const expressions = dashboardExpressions();
    expect(expressions.length).toBeGreaterThan(20);
    const file = join(await tempDir(), 'dashboard-queries.yml');
    const rules = expressions.map((expr, i) => ({ record: `sealbus_dashboard:query_${i}`, expr }));
    await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const { status, output } = run('check', 'rules', file);
    expect(status, output).toBe(0);
  });
});
