import { X509Certificate } from 'node:crypto';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../src/auth/index.js';
import { FileLogStore } from '../../src/log/file/file-log-store.js';
import { encodeRecords } from '../../src/log/record-batch.js';
import type { CommittedOffset, TopicDescription } from '../../src/log/types.js';
import { BrokerMetrics } from '../../src/server/metrics.js';
import { groupLags, topicSizes } from '../../src/server/metrics/broker-state.js';
import { MAX_LAG_SERIES, MAX_TOPIC_SERIES, OTHER_LABEL } from '../../src/server/metrics/labels.js';
import { LeanHistogram } from '../../src/server/metrics/lean-histogram.js';
import { denialReason } from '../../src/server/metrics/traffic.js';
import { parseMetrics, sampleValue, samplesOf } from '../ops/prometheus-text.js';
import { useTempDirs } from '../helpers/temp-dirs.js';

async function scrape(metrics: BrokerMetrics) {
  return parseMetrics(await metrics.text());
}

function topic(name: string, partitions: readonly { sizeBytes: number; segments: number; highWatermark: number; readOnly?: boolean }[]): TopicDescription {
  return {
    name,
    createdAt: 0,
    config: {} as TopicDescription['config'],
    partitions: partitions.map((p, partition) => ({ partition, logStartOffset: 0, readOnly: false, ...p })),
  };
}

describe('broker metrics', () => {
  const tempDir = useTempDirs('sealbus-metrics-');

  it('folds topics past the series cap into (other), so clients cannot grow the series without bound', async () => {
    const metrics = new BrokerMetrics();
    for (let i = 0; i < MAX_TOPIC_SERIES + 20; i++) metrics.traffic.produced(`t${i}`, 2, 100);
    metrics.traffic.produced('t0', 1, 50);
    const samples = await scrape(metrics);
    const records = samplesOf(samples, 'sealbus_records_produced_total');
    expect(records).toHaveLength(MAX_TOPIC_SERIES + 1);
    expect(sampleValue(samples, 'sealbus_records_produced_total', { topic: 't0' })).toBe(3);
    expect(sampleValue(samples, 'sealbus_records_produced_total', { topic: OTHER_LABEL })).toBe(40);
    expect(sampleValue(samples, 'sealbus_bytes_produced_total', { topic: OTHER_LABEL })).toBe(2000);
  });

  it('classes error codes by their catalog status and never labels a code outside the catalog', async () => {
    const metrics = new BrokerMetrics();
    metrics.traffic.errorAnswered('http', 'SEALBUS_ERR_FORBIDDEN');
    metrics.traffic.errorAnswered('ws', 'SEALBUS_ERR_INTERNAL');
    metrics.traffic.errorAnswered('ws', 'eyJhbGciOiJFZERTQSJ9.attacker-chosen');
    const samples = await scrape(metrics);
    expect(sampleValue(samples, 'sealbus_errors_total', { transport: 'http', code: 'SEALBUS_ERR_FORBIDDEN' })).toBe(1);
    expect(samplesOf(samples, 'sealbus_errors_total').map((s) => [s.labels.code, s.labels.class])).toEqual([
      ['SEALBUS_ERR_FORBIDDEN', 'client'],
      ['SEALBUS_ERR_INTERNAL', 'server'],
      ['unknown', 'server'],
    ]);
  });

  it("exports the hot-path histogram exactly as prom-client's own Histogram would", async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const observations = [0.0005, 0.001, 0.002, 0.05, 0.5, 3, 0.01];
    const theirs = new Registry();
    const reference = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['transport', 'operation'], buckets, registers: [theirs] });
    const ours = new Registry();
    const lean = new LeanHistogram('x_seconds', 'h', buckets, ours);
    for (const value of observations) {
      reference.observe({ transport: 'ws', operation: 'PRODUCE' }, value);
      lean.series('ws PRODUCE', { transport: 'ws', operation: 'PRODUCE' }).observe(value);
    }
    reference.observe({ transport: 'http', operation: 'GET /v1/topics' }, 0.2);
    lean.series('http GET', { transport: 'http', operation: 'GET /v1/topics' }).observe(0.2);
    const sorted = (text: string) => parseMetrics(text).map((s) => JSON.stringify([s.name, Object.entries(s.labels).sort(), s.value])).sort();
    expect(sorted(await ours.metrics())).toEqual(sorted(await theirs.metrics()));
    expect(await ours.metrics()).toContain('# TYPE x_seconds histogram');
  });

  it('names why a request was denied in three words, never by the rule id', () => {
    expect(denialReason('default-deny')).toBe('default-deny');
    expect(denialReason('scope')).toBe('scope');
    expect(denialReason('deny-contractors-payments')).toBe('deny-rule');
  });

  it('keeps the largest topics by size and sums the rest under (other)', () => {
    const topics = Array.from({ length: MAX_TOPIC_SERIES + 5 }, (_, i) => topic(`t${i}`, [{ sizeBytes: i, segments: 1, highWatermark: 0 }]));
    const sizes = topicSizes(topics);
    expect(sizes).toHaveLength(MAX_TOPIC_SERIES);
    expect(sizes.some((s) => s.topic === 't0')).toBe(false);
    const other = sizes.find((s) => s.topic === OTHER_LABEL)!;
    // The 6 smallest topics (sizes 0..5) were folded together.
    expect([other.bytes, other.segments]).toEqual([0 + 1 + 2 + 3 + 4 + 5, 6]);
    expect(sizes.reduce((sum, s) => sum + s.bytes, 0)).toBe(topics.reduce((sum, _t, i) => sum + i, 0));
  });

  it('computes lag per committed partition, skips deleted topics, and keeps the largest lags', async () => {
    const topics = [topic('orders', [{ sizeBytes: 1, segments: 1, highWatermark: 100 }, { sizeBytes: 1, segments: 1, highWatermark: 5 }])];
    const commits = new Map<string, CommittedOffset[]>([
      ['billing', [{ topic: 'orders', partition: 0, offset: 40, metadata: '', committedAt: 0 }, { topic: 'orders', partition: 1, offset: 9, metadata: '', committedAt: 0 }]],
      ['gone', [{ topic: 'deleted', partition: 0, offset: 1, metadata: '', committedAt: 0 }]],
    ]);
    const store = { listGroups: async () => [...commits.keys()], fetchOffsets: async (group: string) => commits.get(group)! };
    const { lags, groups } = await groupLags(store, topics);
    expect(groups).toBe(2);
    // A commit beyond the high watermark (the topic was recreated) is no negative lag.
    expect(lags).toEqual([
      { group: 'billing', topic: 'orders', partition: 0, lag: 60 },
      { group: 'billing', topic: 'orders', partition: 1, lag: 0 },
    ]);

    const many = [topic('wide', Array.from({ length: MAX_LAG_SERIES + 10 }, () => ({ sizeBytes: 0, segments: 1, highWatermark: 10_000 })))];
    const wide: CommittedOffset[] = many[0]!.partitions.map((p) => ({ topic: 'wide', partition: p.partition, offset: p.partition, metadata: '', committedAt: 0 }));
    const capped = await groupLags({ listGroups: async () => ['g'], fetchOffsets: async () => wide }, many);
    expect(capped.lags).toHaveLength(MAX_LAG_SERIES);
    expect(Math.min(...capped.lags.map((l) => l.lag))).toBe(10_000 - (MAX_LAG_SERIES - 1));
  });

  it('reports when the server and CA certificates expire, read again after a reload', async () => {
    const metrics = new BrokerMetrics();
    const ca = await createCertificateAuthority({ commonName: 'metrics CA', validDays: 30 });
    const first = await issueCertificate({ ca, commonName: 'broker', server: { hosts: ['localhost'] }, validDays: 10 });
    const second = await issueCertificate({ ca, commonName: 'broker', server: { hosts: ['localhost'] }, validDays: 20 });
    let current = first.certPem;
    metrics.security.watchCertificates({ serverCertificate: () => current, trustAnchors: () => [new X509Certificate(ca.certPem)] });
    const expiry = (pem: string): number => Date.parse(new X509Certificate(pem).validTo) / 1000;
    let samples = await scrape(metrics);
    expect(sampleValue(samples, 'sealbus_certificate_expiry_timestamp_seconds', { certificate: 'server' })).toBe(expiry(first.certPem));
    expect(sampleValue(samples, 'sealbus_certificate_expiry_timestamp_seconds', { certificate: 'ca' })).toBe(expiry(ca.certPem));
    current = second.certPem;
    samples = await scrape(metrics);
    expect(sampleValue(samples, 'sealbus_certificate_expiry_timestamp_seconds', { certificate: 'server' })).toBe(expiry(second.certPem));
  });

  it('exports both policy reload results from the start, so the first refusal is an increase', async () => {
    const metrics = new BrokerMetrics();
    let policy = { version: 'sha256:one', rules: [1, 2] };
    metrics.security.watchPolicy(() => policy, 1_000_000);
    let samples = await scrape(metrics);
    expect(sampleValue(samples, 'sealbus_policy_reloads_total', { result: 'refused' })).toBe(0);
    expect(sampleValue(samples, 'sealbus_policy_info', { version: 'sha256:one' })).toBe(1);
    policy = { version: 'sha256:two', rules: [1] };
    metrics.security.policyReloaded('applied', 2_000_000);
    metrics.security.policyReloaded('refused', 3_000_000);
    samples = await scrape(metrics);
    expect(samplesOf(samples, 'sealbus_policy_info').map((s) => s.labels.version)).toEqual(['sha256:two']);
    expect(sampleValue(samples, 'sealbus_policy_rules')).toBe(1);
    expect(sampleValue(samples, 'sealbus_policy_loaded_timestamp_seconds')).toBe(2000);
    expect(sampleValue(samples, 'sealbus_policy_reloads_total', { result: 'refused' })).toBe(1);
  });

  it('keeps brokers apart: each has its own registry, and the process metrics are shared', async () => {
    const a = new BrokerMetrics();
    const b = new BrokerMetrics();
    a.traffic.authFailed('SEALBUS_ERR_AUTH_TOKEN_EXPIRED');
    expect(sampleValue(await scrape(a), 'sealbus_auth_failures_total', { reason: 'SEALBUS_ERR_AUTH_TOKEN_EXPIRED' })).toBe(1);
    const other = await scrape(b);
    expect(samplesOf(other, 'sealbus_auth_failures_total')).toEqual([]);
    expect(sampleValue(other, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it("observes the log store's group-commit fsyncs through the hook the broker passes in", async () => {
    const observed: number[] = [];
    const store = new FileLogStore({ dir: await tempDir(), retentionCheckMs: 0, onFsync: (seconds) => observed.push(seconds) });
    await store.open();
    try {
      await store.createTopic('fsynced', { partitions: 1, fsync: { mode: 'always' } });
      await Promise.all([1, 2, 3].map((n) => store.append('fsynced', 0, { records: encodeRecords([{ value: Buffer.from(`v${n}`) }]) })));
      expect(observed.length).toBeGreaterThanOrEqual(1);
      // Group commit: three appends in flight share fsyncs, never one each plus more.
      expect(observed.length).toBeLessThanOrEqual(3);
      expect(observed.every((seconds) => seconds >= 0 && seconds < 60)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
