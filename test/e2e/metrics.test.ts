import { X509Certificate } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../src/auth/index.js';
import { Consumer, Producer, type ConnectionOptions } from '../../src/client/index.js';
import { connectRawSession, roundTrip, type RawSession } from '../helpers/raw-session.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';
import { parseMetrics, sampleValue, samplesOf, type Sample } from '../ops/prometheus-text.js';

const TOPIC = 'metrics.orders';
const GROUP = 'metrics.billing';
/** A record key that must never show up in a label. */
const SECRET_KEY = 'customer-key-7f3a91';

/**
 * A short scripted workload (HTTP and WebSocket produce, fetch, a consumer group that commits, a
 * refused token, a policy denial, errors on both transports), then one scrape: every metric family
 * the issue names is there, with the labels and the figures the workload made.
 */
describe('metrics after a scripted workload', () => {
  let t: TestBroker;
  let connection: ConnectionOptions;
  let session: RawSession;
  let text: string;
  let samples: Sample[];
  let groupPartitions: { topic: string; partition: number; committedOffset: number | null; lag: number | null }[];
  const value = (name: string, labels: Record<string, string> = {}): number => sampleValue(samples, name, labels);

  beforeAll(async () => {
    t = await startTestBroker();
    connection = { url: t.url, ca: t.ca, cert: t.admin.cert, key: t.admin.key, token: t.admin.token };
    expect((await t.request('POST', '/v1/topics', { body: { name: TOPIC, partitions: 2 } })).status).toBe(201);

    // 4 records over HTTP, 6 over WebSocket, 2 more over HTTP below: 12 appended.
    const records = [1, 2, 3, 4].map((n) => ({ key: SECRET_KEY, value: { n }, partition: 0 }));
    expect((await t.request('POST', `/v1/topics/${TOPIC}/records`, { body: { records } })).status).toBe(200);
    const producer = new Producer({ connection, lingerMs: 1 });
    await Promise.all([0, 1, 2, 3, 4, 5].map((n) => producer.send({ topic: TOPIC, partition: n % 2, key: SECRET_KEY, value: `ws-${n}` })));
    await producer.close();

    // Consumed over HTTP (a fetch) and by a group member that commits 3 records, leaving lag.
    expect((await t.request('GET', `/v1/topics/${TOPIC}/partitions/0/records?offset=0`)).status).toBe(200);
    const consumer = new Consumer({ connection, group: GROUP, resetTo: 'earliest', autoCommit: false });
    consumer.subscribe([TOPIC]);
    let seen = 0;
    for await (const _record of consumer) {
      if (++seen === 3) break;
    }
    await consumer.commit();
    await consumer.close();
    // One more record per partition: every partition the group committed is now behind.
    const more = [0, 1].map((partition) => ({ value: { more: partition }, partition }));
    expect((await t.request('POST', `/v1/topics/${TOPIC}/records`, { body: { records: more } })).status).toBe(200);
    groupPartitions = (await t.request('GET', `/v1/groups/${GROUP}`)).body.partitions;

    // Refusals: a certificate without its token, a principal no rule allows, unknown things.
    const stranger = await t.client('stranger');
    expect((await t.request('GET', '/v1/topics', { credentials: { cert: stranger.cert, key: stranger.key } })).body.code).toBe('SEALBUS_ERR_AUTH_TOKEN_REQUIRED');
    expect((await t.request('GET', `/v1/topics/${TOPIC}`, { credentials: stranger })).body.code).toBe('SEALBUS_ERR_FORBIDDEN');
    expect((await t.request('GET', '/v1/topics/metrics.nowhere')).body.code).toBe('SEALBUS_ERR_TOPIC_NOT_FOUND');
    expect((await t.request('GET', '/v1/no/such/route')).body.code).toBe('SEALBUS_ERR_NOT_FOUND');
    session = await connectRawSession(t);
    const refused = await roundTrip(session, { type: 'METADATA', requestId: 7, topic: 'metrics.nowhere' });
    expect(refused).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_TOPIC_NOT_FOUND' });

    const scraped = await t.request('GET', '/metrics');
    expect(scraped.status).toBe(200);
    expect(scraped.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    text = String(scraped.body);
    samples = parseMetrics(text);
  });
  afterAll(async () => {
    session?.close();
    await t?.close();
  });

  it('counts records and bytes produced and consumed per topic, on both transports', () => {
    expect(value('sealbus_records_produced_total', { topic: TOPIC })).toBe(12);
    expect(value('sealbus_bytes_produced_total', { topic: TOPIC })).toBeGreaterThan(10 * SECRET_KEY.length);
    // The HTTP fetch returned partition 0's 7 records; the group member was sent at least 3.
    expect(value('sealbus_records_consumed_total', { topic: TOPIC })).toBeGreaterThanOrEqual(7 + 3);
    expect(value('sealbus_bytes_consumed_total', { topic: TOPIC })).toBeGreaterThan(0);
  });

  it('times requests by route pattern and frame type, and produce acks on both transports', () => {
    expect(value('sealbus_request_duration_seconds_count', { transport: 'http', operation: 'POST /v1/topics/:topic/records' })).toBe(2);
    expect(value('sealbus_request_duration_seconds_count', { transport: 'http', operation: 'GET /v1/topics/:topic/partitions/:partition/records' })).toBe(1);
    expect(value('sealbus_request_duration_seconds_count', { transport: 'http', operation: 'unmatched' })).toBeGreaterThanOrEqual(1);
    expect(value('sealbus_request_duration_seconds_count', { transport: 'ws', operation: 'PRODUCE' })).toBeGreaterThanOrEqual(1);
    expect(value('sealbus_request_duration_seconds_count', { transport: 'ws', operation: 'METADATA' })).toBeGreaterThanOrEqual(1);
    expect(value('sealbus_request_duration_seconds_count', { transport: 'ws', operation: 'COMMIT' })).toBeGreaterThanOrEqual(1);
    expect(value('sealbus_produce_ack_duration_seconds_count', { transport: 'http' })).toBe(2);
    expect(value('sealbus_produce_ack_duration_seconds_count', { transport: 'ws' })).toBeGreaterThanOrEqual(1);
    // Never the raw URL: no topic name or offset in an operation label.
    const operations = samplesOf(samples, 'sealbus_request_duration_seconds_count').map((s) => s.labels.operation ?? '');
    expect(operations.filter((operation) => operation.includes('metrics.') || operation.includes('offset='))).toEqual([]);
  });

  it('counts errors by transport and code, authentication failures by reason, denials by action and reason', () => {
    expect(value('sealbus_errors_total', { transport: 'http', code: 'SEALBUS_ERR_AUTH_TOKEN_REQUIRED' })).toBe(1);
    expect(value('sealbus_errors_total', { transport: 'http', code: 'SEALBUS_ERR_FORBIDDEN', class: 'client' })).toBe(1);
    expect(value('sealbus_errors_total', { transport: 'http', code: 'SEALBUS_ERR_TOPIC_NOT_FOUND' })).toBe(1);
    expect(value('sealbus_errors_total', { transport: 'http', code: 'SEALBUS_ERR_NOT_FOUND' })).toBe(1);
    expect(value('sealbus_errors_total', { transport: 'ws', code: 'SEALBUS_ERR_TOPIC_NOT_FOUND' })).toBe(1);
    expect(value('sealbus_auth_failures_total', { reason: 'SEALBUS_ERR_AUTH_TOKEN_REQUIRED' })).toBe(1);
    expect(value('sealbus_authz_denials_total', { action: 'describe', reason: 'default-deny' })).toBe(1);
  });

  it('reports connections, sessions, consumer-group lag, log size, segments, disk and fsync latency', () => {
    expect(value('sealbus_connections')).toBeGreaterThanOrEqual(2); // the open session and the scrape
    expect(value('sealbus_connections_total')).toBeGreaterThanOrEqual(8);
    expect(value('sealbus_sessions')).toBeGreaterThanOrEqual(1);
    expect(samplesOf(samples, 'sealbus_tls_handshake_failures_total')).toHaveLength(1);
    // The same lag as `sealbus groups describe` shows, for every partition the group committed.
    const committed = groupPartitions.filter((p) => p.committedOffset !== null);
    expect(committed.length).toBeGreaterThanOrEqual(1);
    const lags = samplesOf(samples, 'sealbus_consumer_group_lag').filter((s) => s.labels.group === GROUP);
    expect(lags.map((s) => [s.labels.topic, s.labels.partition, s.value]).sort()).toEqual(committed.map((p) => [p.topic, String(p.partition), p.lag]).sort());
    expect(lags.every((s) => s.value > 0)).toBe(true);
    expect(value('sealbus_consumer_groups')).toBeGreaterThanOrEqual(1);
    expect(value('sealbus_log_size_bytes', { topic: TOPIC })).toBeGreaterThan(0);
    expect(value('sealbus_log_segments', { topic: TOPIC })).toBe(2);
    expect(value('sealbus_log_size_bytes', { topic: '__sealbus.audit' })).toBeGreaterThan(0);
    expect(value('sealbus_log_read_only_partitions')).toBe(0);
    expect(value('sealbus_disk_free_bytes')).toBeGreaterThan(0);
    expect(value('sealbus_disk_size_bytes')).toBeGreaterThanOrEqual(value('sealbus_disk_free_bytes'));
    expect(value('sealbus_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(1);
  });

  it('reports audit health, the policy in force, certificate expiry, the build and the process', () => {
    expect(value('sealbus_audit_available')).toBe(1);
    expect(value('sealbus_audit_events_written_total')).toBeGreaterThan(0);
    expect(value('sealbus_audit_write_failures_total')).toBe(0);
    expect(value('sealbus_audit_dropped_events_total')).toBe(0);
    expect(samplesOf(samples, 'sealbus_audit_pending_events')).toHaveLength(1);
    expect(value('sealbus_policy_info', { version: t.broker.policy.policy.version })).toBe(1);
    expect(value('sealbus_policy_rules')).toBe(t.broker.policy.policy.rules.length);
    expect(value('sealbus_policy_loaded_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 600);
    const expiry = (pem: string): number => Date.parse(new X509Certificate(pem).validTo) / 1000;
    expect(value('sealbus_certificate_expiry_timestamp_seconds', { certificate: 'ca' })).toBe(expiry(t.ca));
    expect(value('sealbus_certificate_expiry_timestamp_seconds', { certificate: 'server' })).toBeGreaterThan(Date.now() / 1000);
    expect(value('sealbus_build_info', { version: '0.1.0', node_version: process.versions.node })).toBe(1);
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(samplesOf(samples, 'nodejs_eventloop_lag_p99_seconds')).toHaveLength(1);
  });

  it('puts no principal, token or record key into the metrics', () => {
    expect(text).not.toContain(SECRET_KEY);
    expect(text).not.toContain('stranger');
    expect(text).not.toContain(t.admin.token);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it('counts a failed TLS handshake, and the broker still closes that connection', async () => {
    const before = value('sealbus_tls_handshake_failures_total');
    const socket = connect({ host: '127.0.0.1', port: t.broker.port });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    // Plain HTTP on the TLS port: only the broker can end this connection (the client never does).
    socket.write(Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'));
    await closed;
    await waitFor(async () => sampleValue(parseMetrics(String((await t.request('GET', '/metrics')).body)), 'sealbus_tls_handshake_failures_total') === before + 1, 'the failed handshake is counted');
  });

  it('refuses a scrape without a trusted client certificate', async () => {
    const none = await t.request('GET', '/metrics', { credentials: null });
    expect([none.status, none.body.code]).toEqual([401, 'SEALBUS_ERR_AUTH_CERT_REQUIRED']);
    const otherCa = await createCertificateAuthority({ commonName: 'elsewhere CA' });
    const foreign = await issueCertificate({ ca: otherCa, commonName: 'admin', client: true, extendedKeyUsage: 'client' });
    const untrusted = await t.request('GET', '/metrics', { credentials: { cert: foreign.certPem, key: foreign.keyPem } });
    expect([untrusted.status, untrusted.body.code]).toEqual([401, 'SEALBUS_ERR_AUTH_CERT_UNTRUSTED']);
    // A trusted certificate needs no token, like the health probes (docs/operations.md).
    const stranger = await t.client('stranger');
    const probe = await t.request('GET', '/metrics', { credentials: { cert: stranger.cert, key: stranger.key } });
    expect(probe.status).toBe(200);
  });
});
