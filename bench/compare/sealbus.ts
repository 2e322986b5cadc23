/**
 * sealbus rows: a broker in its own process (the `sealbus dev` setup with configuration keys over
 * it), driven by the SDK. Every security feature on, on each kind of topic; then each feature the
 * product lets you turn off, off, one at a time, and all of them at once.
 *
 * What cannot be turned off is not given a row: TLS (there is no plaintext listener, by design),
 * the JWT (the SDK always sends one; it is verified once per connection, when the WebSocket opens,
 * so its cost per record is nil either way), and the audit log itself (only its per-batch
 * data-access events can be, with `audit.dataAccess: none`).
 */
import { Admin, Producer, generateClientKeys, type ClientKeys } from '../../src/client/index.js';
import { atFixedRate, consumeAll, produceAll, startDevBroker, stopProcess } from '../dev-broker.js';
import { sealbusVersion } from './machine.js';
import { writePermissivePolicies, writeRealisticPolicies } from './policies.js';
import { removeDir, tempDir, track } from './processes.js';
import type { Session, Target } from './target.js';
import { BINARY_VALUE, JSON_VALUE, ORDER_SCHEMA } from './workload.js';

type TopicKind = 'binary' | 'encrypted' | 'json-schema' | 'json';

interface Variant {
  readonly id: string;
  readonly label: string;
  readonly topic: TopicKind;
  readonly policy: 'realistic' | 'permissive';
  readonly fsync: 'always' | 'interval';
  readonly dataAccess: 'batch' | 'none';
  readonly off?: string;
}

const ALL_ON = { policy: 'realistic', fsync: 'always', dataAccess: 'batch' } as const;

const VARIANTS: readonly Variant[] = [
  { id: 'sealbus-binary', label: 'sealbus, all on, binary topic', topic: 'binary', ...ALL_ON },
  { id: 'sealbus-encrypted', label: 'sealbus, all on, encrypted topic', topic: 'encrypted', ...ALL_ON },
  { id: 'sealbus-json-schema', label: 'sealbus, all on, JSON topic with schema', topic: 'json-schema', ...ALL_ON },
  { id: 'sealbus-json', label: 'sealbus, JSON topic without schema', topic: 'json', ...ALL_ON, off: 'schema validation' },
  { id: 'sealbus-fsync-interval', label: 'sealbus, fsync every 1 s, binary', topic: 'binary', ...ALL_ON, fsync: 'interval', off: 'fsync before ack' },
  { id: 'sealbus-audit-none', label: 'sealbus, audit.dataAccess none, binary', topic: 'binary', ...ALL_ON, dataAccess: 'none', off: 'per-batch audit events' },
  { id: 'sealbus-permissive', label: 'sealbus, one-rule policy, binary', topic: 'binary', ...ALL_ON, policy: 'permissive', off: 'realistic policy set' },
  {
    id: 'sealbus-all-off',
    label: 'sealbus, everything that can be off, binary',
    topic: 'binary',
    policy: 'permissive',
    fsync: 'interval',
    dataAccess: 'none',
    off: 'fsync before ack, per-batch audit events, realistic policy set (TLS and JWT stay)',
  },
];

/** The cost of each feature: the row with it on against the row with it off. */
export const FEATURE_COSTS: readonly { feature: string; on: string; off: string }[] = [
  { feature: 'end-to-end encryption (sealed and signed by the SDK, verified by the broker)', on: 'sealbus-encrypted', off: 'sealbus-binary' },
  { feature: 'schema validation of every record by the broker', on: 'sealbus-json-schema', off: 'sealbus-json' },
  { feature: 'fsync before ack (instead of every 1 s)', on: 'sealbus-binary', off: 'sealbus-fsync-interval' },
  { feature: 'per-batch audit events (audit.dataAccess: batch instead of none)', on: 'sealbus-binary', off: 'sealbus-audit-none' },
  { feature: 'realistic policy set instead of one rule', on: 'sealbus-binary', off: 'sealbus-permissive' },
  { feature: 'all of the three above', on: 'sealbus-binary', off: 'sealbus-all-off' },
];

export const NOT_OFF: readonly { feature: string; why: string }[] = [
  { feature: 'Mutual TLS', why: 'no row without it: sealbus has no plaintext listener and requires a client certificate, by design' },
  { feature: 'JWT', why: 'no row without it: the SDK always sends one (the broker could accept certificate-only clients); the broker verifies it once per connection, when the WebSocket opens, so it costs nothing per record' },
  { feature: 'Audit log', why: 'always on; only its per-batch data-access events can be turned off (audit.dataAccess: none); administrative events are always written' },
];

const PAYLOAD: Record<TopicKind, string> = {
  binary: 'bytes, not parsed',
  encrypted: 'bytes, sealed and signed per batch by the SDK (XSalsa20-Poly1305, X25519 wrap, Ed25519); the broker checks the envelope and signer',
  'json-schema': 'JSON, parsed (bounded) and validated against a JSON Schema per record by the broker',
  json: 'JSON, not parsed (no schema)',
};

const DURABILITY = {
  always: 'fsync before ack (group commit)',
  interval: 'ack after write to the OS; fsync every 1 s (loses up to ~1 s on power loss, nothing on a process crash)',
} as const;

export interface PolicySets {
  readonly realistic: { dir: string; rules: number };
  readonly permissive: { dir: string; rules: number };
}

export async function writePolicySets(): Promise<PolicySets> {
  const dir = await tempDir('policies');
  const realistic = `${dir}/realistic`;
  const permissive = `${dir}/permissive`;
  return {
    realistic: { dir: realistic, rules: await writeRealisticPolicies(realistic) },
    permissive: { dir: permissive, rules: await writePermissivePolicies(permissive) },
  };
}

async function startSealbus(variant: Variant, policies: PolicySets, partitions: number): Promise<Session> {
  const dir = await tempDir('sealbus');
  const config = {
    policy: { dir: policies[variant.policy].dir },
    topicDefaults: { fsync: variant.fsync, fsyncIntervalMs: 1000 },
    audit: { dataAccess: variant.dataAccess },
  };
  const { child, connection } = await startDevBroker(dir, { config, onSpawn: track });
  const admin = new Admin({ connection });
  // One producer per latency topic, kept across the calls (a warm-up, then one second at a time).
  const latencyProducers = new Map<string, Producer>();
  const closeProducers = async (topic?: string): Promise<void> => {
    for (const [name, producer] of latencyProducers) {
      if (topic !== undefined && name !== topic) continue;
      latencyProducers.delete(name);
      await producer.close();
    }
  };
  const stop = async (): Promise<void> => {
    await closeProducers();
    admin.close();
    await stopProcess(child);
    removeDir(dir);
  };
  let keys: ClientKeys | undefined;
  if (variant.topic === 'encrypted') {
    keys = generateClientKeys();
    // The client is the producer and the one recipient.
    await admin.registerClientKeys(keys).catch(async (err: unknown) => {
      await stop();
      throw err;
    });
  }
  const value = variant.topic === 'json' || variant.topic === 'json-schema' ? JSON_VALUE : BINARY_VALUE;
  return {
    pid: child.pid!,
    version: `sealbus ${sealbusVersion()}`,
    async setup(topic) {
      await admin.createTopic({ name: topic, partitions, ...(keys !== undefined && { encryption: 'required' as const }) });
      if (variant.topic === 'json-schema') await admin.registerSchema(topic, ORDER_SCHEMA);
    },
    produce: (topic, count, yieldEvery) => produceAll(connection, topic, count, value, keys, yieldEvery),
    consume: (topic, count) => consumeAll(connection, topic, partitions, count, keys),
    async latency(topic, rate, seconds) {
      let producer = latencyProducers.get(topic);
      if (producer === undefined) {
        producer = new Producer({ connection, lingerMs: 0, ...(keys !== undefined && { encryption: { keys } }) });
        latencyProducers.set(topic, producer);
      }
      const sender = producer;
      return atFixedRate(rate, seconds, () => sender.send({ topic, value }), 0);
    },
    drop: (topic) => closeProducers(topic),
    stop,
  };
}

function security(variant: Variant, policies: PolicySets): string {
  const parts = [
    'mTLS',
    'JWT bound to the certificate',
    `${policies[variant.policy].rules}-rule policy`,
    variant.dataAccess === 'batch' ? 'audit event per batch' : 'audit without data-access events',
  ];
  if (variant.topic === 'encrypted') parts.push('end-to-end encryption');
  if (variant.topic === 'json-schema') parts.push('schema validation');
  return parts.join(' + ');
}

export function sealbusTargets(policies: PolicySets, partitions: number): Target[] {
  return VARIANTS.map((variant) => ({
    id: variant.id,
    system: 'sealbus' as const,
    label: variant.label,
    security: security(variant, policies),
    durability: DURABILITY[variant.fsync],
    payload: `${PAYLOAD[variant.topic]}; ${partitions} partitions`,
    ...(variant.off !== undefined && { off: variant.off }),
    start: () => startSealbus(variant, policies, partitions),
  }));
}
