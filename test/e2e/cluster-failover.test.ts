/**
 * kill -9 during a run (issue 11): a 3-node NATS JetStream cluster and two `sealbus serve`
 * processes (brokers A and B, R3 topics through `store.replicas: 3`), set up by the functions
 * `scripts/cluster.ts` runs. Idempotent producers and the members of one consumer group are spread
 * over both brokers; while they run, the NATS node leading partition 0's stream is SIGKILLed, then
 * broker B. Afterwards every acknowledged record is in the log exactly once, at the offset it was
 * acknowledged with, in send order per producer and partition; the group read every partition
 * from offset 0 without a gap (at least once: a record read again after a rebalance is the same
 * record); the clients of B carried on through A. Every client names both brokers (`url`, then
 * `failoverUrls`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, transportFor, type ConnectionOptions, type SealbusError, type WebSocketTransport } from '../../src/client/index.js';
import { startServe, stopServe, writeAdminEnv, writeBrokerConfigs, type BrokerProcess } from '../../scripts/cluster.js';
import { natsBackendFiles, type NatsBackendFiles } from '../helpers/nats-backend.js';
import { startNatsCluster, type RunningNatsCluster } from '../helpers/nats-cluster.js';
import { skipWithoutNatsServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/wait-for.js';

const skip = skipWithoutNatsServer('test/e2e/cluster-failover.test.ts');
const TOPIC = 'failover.orders';
const PARTITIONS = 4;
const PRODUCERS = 4;
/** Sends in flight per producer: enough to keep batches in flight when a node or broker dies. */
const WINDOW = 20;
/** Records acknowledged between two events, to show the run went on (a loaded 2-core machine does thousands a second). */
const PROGRESS = 300;
/** Generous: a stream leader election and a NATS reconnect take seconds; a loaded machine more. */
const DEADLINE_MS = 30_000;

interface Sent {
  readonly producer: number;
  readonly n: number;
}

interface Worker {
  readonly id: number;
  readonly producer: Producer;
  readonly transport: WebSocketTransport;
  next: number;
  /** Acknowledgements received after broker B was killed. */
  ackedAfterBrokerKill: number;
}

describe.skipIf(skip)('kill -9 of a NATS node and a broker during a run', () => {
  let files: NatsBackendFiles;
  let nats: RunningNatsCluster;
  let dir: string;
  const brokers: BrokerProcess[] = [];

  beforeAll(async () => {
    files = await natsBackendFiles();
    nats = await startNatsCluster({ token: files.token, tls: { certFile: files.serverCert, keyFile: files.serverKey, caFile: files.ca, verify: true } });
    dir = await mkdtemp(join(tmpdir(), 'sealbus-failover-'));
  }, 60_000);

  afterAll(async () => {
    for (const broker of brokers) await stopServe(broker);
    await nats?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    if (files !== undefined) await rm(files.dir, { recursive: true, force: true });
  }, 60_000);

  it('loses no acknowledged record, stores none twice, and moves B\'s clients to A', async () => {
    const { env, brokers: specs } = await writeBrokerConfigs(dir, { servers: nats.urls, ca: files.ca, clientCert: files.clientCert, clientKey: files.clientKey, tokenFile: files.tokenFile });
    for (const spec of specs) brokers.push(await startServe(spec, env));
    const [a, b] = brokers as [BrokerProcess, BrokerProcess];
    const { token } = await writeAdminEnv(env, a.spec);
    const credentials = { ca: readFileSync(env.files.ca), cert: readFileSync(env.files.adminCert), key: readFileSync(env.files.adminKey), token };
    const admin = new Admin({ connection: { url: a.spec.url, ...credentials } });
    await admin.createTopic({ name: TOPIC, partitions: PARTITIONS });

    // Clients alternate between the brokers; each falls back on the other one.
    const connectionFor = (i: number): ConnectionOptions =>
      i % 2 === 0 ? { ...credentials, url: a.spec.url, failoverUrls: [b.spec.url] } : { ...credentials, url: b.spec.url, failoverUrls: [a.spec.url] };
    const retry = { maxAttempts: 100, maxDelayMs: 1_000 };
    const workers: Worker[] = [];
    for (let id = 0; id < PRODUCERS; id++) {
      const transport = transportFor(connectionFor(id));
      // deliveryTimeoutMs: longer than a leader election plus a broker's death; a send that still fails is counted below.
      workers.push({ id, transport, producer: new Producer({ transport, idempotent: true, deliveryTimeoutMs: 90_000, retry }), next: 0, ackedAfterBrokerKill: 0 });
    }
    // Every producer gets its id at once: ids are the revisions of writes to the producer bucket, distinct even on R3.
    await Promise.all(workers.map((worker) => worker.producer.send({ topic: TOPIC, partition: 0, value: JSON.stringify({ producer: worker.id, n: -1 }) })));
    const acked = new Map<string, { partition: number; offset: number }>();
    const failed: { sent: Sent; code: string }[] = [];
    let brokerKilled = false;
    let producing = true;
    const produce = async (worker: Worker): Promise<void> => {
      const inFlight = new Set<Promise<void>>();
      while (producing) {
        const n = worker.next++;
        const sending = worker.producer.send({ topic: TOPIC, partition: n % PARTITIONS, value: JSON.stringify({ producer: worker.id, n }) }).then(
          (meta) => {
            acked.set(`${worker.id}:${n}`, { partition: meta.partition, offset: meta.offset });
            if (brokerKilled) worker.ackedAfterBrokerKill++;
          },
          (err: SealbusError) => void failed.push({ sent: { producer: worker.id, n }, code: err.code }),
        );
        inFlight.add(sending);
        void sending.finally(() => inFlight.delete(sending));
        if (inFlight.size >= WINDOW) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    };
    const producing$ = Promise.all(workers.map(produce));

    // One consumer group, a member on each broker (the group's coordinator is one of them): together
    // they read every partition from the start; after B's death its member goes on through A.
    const GROUP = 'failover';
    const consumed = [0, 1].map(() => Array.from({ length: PARTITIONS }, () => [] as { offset: number; value: string }[]));
    const consumers = [0, 1].map((i) => {
      const consumer = new Consumer({ connection: connectionFor(i), retry, group: GROUP, resetTo: 'earliest', sessionTimeoutMs: 6_000, autoCommitIntervalMs: 100 });
      consumer.subscribe([TOPIC]);
      return consumer;
    });
    const consuming$ = consumers.map(async (consumer, i) => {
      for await (const record of consumer) consumed[i]![record.partition]!.push({ offset: record.offset, value: record.value!.toString() });
    });
    /** Per partition, what the group read: each offset once (a record read again after a rebalance must be the same record). */
    const groupLog = (): Map<number, string>[] =>
      Array.from({ length: PARTITIONS }, (_, partition) => {
        const byOffset = new Map<number, string>();
        for (const member of consumed) for (const record of member[partition]!) byOffset.set(record.offset, record.value);
        return byOffset;
      });
    const consumerFailures = consumers.map((consumer) => consumer.closed());

    /** Per producer: acknowledgements since B's death, and failed sends by code (for failure messages). */
    const status = (): string =>
      workers
        .map((worker) => {
          const codes = failed.filter(({ sent }) => sent.producer === worker.id).map(({ code }) => code.replace('SEALBUS_ERR_', ''));
          const counts = [...new Set(codes)].map((code) => `${code}×${codes.filter((c) => c === code).length}`);
          return `producer ${worker.id}: ${worker.ackedAfterBrokerKill} acked after B died, failed [${counts.join(' ')}]`;
        })
        .join('; ');
    const ackedOn = (partition: number): number => [...acked.values()].filter((at) => at.partition === partition).length;
    const progress = async (what: string): Promise<void> => {
      const target = acked.size + PROGRESS;
      const partition0 = ackedOn(0) + PROGRESS / PARTITIONS / 2;
      await waitFor(() => acked.size >= target && ackedOn(0) >= partition0, `${what} (acked ${acked.size}; ${status()})`, DEADLINE_MS);
    };

    // Timings for docs/cluster.md: when each step was reached, and how many records were acknowledged then.
    const started = Date.now();
    const steps: string[] = [];
    const step = (what: string): void => void steps.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)}s/${acked.size}`);
    try {
      await progress('records flow before any kill');
      const streams = `sealbus_log_`;
      let leader: string | null = null;
      await waitFor(
        async () => {
          const names = await nats.streamNames(streams);
          const partition0 = names.find((name) => name.endsWith('_0'));
          leader = partition0 === undefined ? null : await nats.streamLeader(partition0);
          return leader !== null;
        },
        'partition 0 has a stream leader',
        DEADLINE_MS,
      );
      const victim = nats.nodes.find((node) => node.name === leader)!;
      step('flowing');
      await victim.kill('SIGKILL');
      step('nats-killed');
      await progress(`records flow after nats ${victim.name} (partition 0's stream leader) was killed`);
      step('flowing');

      await b.kill('SIGKILL');
      brokerKilled = true;
      step('broker-killed');
      await progress('records flow after broker B was killed');
      await waitFor(() => workers.every((worker) => worker.ackedAfterBrokerKill > 0), `every producer, B's too, is acknowledged through A (${status()})`, DEADLINE_MS);
      step('all-on-A');
      expect(workers.map((worker) => worker.transport.currentUrl)).toEqual(workers.map(() => a.spec.url));
    } finally {
      producing = false;
      await producing$;
      await Promise.all(workers.map((worker) => worker.producer.close()));
    }

    // The log's end as A sees it (a plain describe catches up with the streams): the group must reach it.
    const ends = (await admin.describeTopic(TOPIC)).partitions.map((state) => state.highWatermark);
    await waitFor(
      () => groupLog().every((records, partition) => records.size >= ends[partition]!),
      `the group read up to the end of the log (${ends}; read ${groupLog().map((records) => records.size)})`,
      DEADLINE_MS,
    );
    // One group, one assignment, after both deaths: every partition owned by exactly one member.
    await waitFor(
      async () => {
        // The offsets bucket may still be electing a leader after the NATS node's death: ask again.
        const group = await admin.describeGroup(GROUP).catch((err: SealbusError) => {
          if (err.retriable) return null;
          throw err;
        });
        if (group === null) return false;
        const assigned = group.members.flatMap((member) => member.assigned.map(({ partition }) => partition));
        return group.state === 'stable' && group.members.length === 2 && assigned.length === PARTITIONS && new Set(assigned).size === PARTITIONS;
      },
      'one stable group whose two members share every partition',
      DEADLINE_MS,
    );
    await Promise.all(consumers.map((consumer) => consumer.close()));
    await Promise.all(consuming$);
    expect(await Promise.all(consumerFailures)).toEqual([null, null]);
    // At least once: a record read twice (read, not yet committed, when its member moved) is the same record.
    const repeated: string[] = [];
    for (const [partition, records] of groupLog().entries()) {
      for (const member of consumed) {
        for (const record of member[partition]!) if (records.get(record.offset) !== record.value) repeated.push(`${partition}:${record.offset}`);
      }
      // Offsets 0, 1, 2... with no gap, through both deaths.
      expect([...records.keys()].sort((x, y) => x - y)).toEqual([...records.keys()].map((_, i) => i));
    }
    expect(repeated).toEqual([]);
    // Both members read: the group spread the partitions over the two brokers' members before B died.
    expect(consumed.map((member) => member.some((records) => records.length > 0))).toEqual([true, true]);

    // The warm-up records (n = -1) are left out: what is checked is the run.
    const log = groupLog()
      .flatMap((records, partition) => [...records].map(([offset, value]) => ({ partition, offset, ...(JSON.parse(value) as Sent) })))
      .sort((x, y) => x.partition - y.partition || x.offset - y.offset)
      .filter((record) => record.n >= 0);
    const at = new Map(log.map((record) => [`${record.partition}:${record.offset}`, `${record.producer}:${record.n}`]));
    // Acknowledged, but its offset holds another record (or none): an acknowledged record lost.
    const lost = [...acked].filter(([key, where]) => at.get(`${where.partition}:${where.offset}`) !== key).map(([key, where]) => ({ key, ...where, found: at.get(`${where.partition}:${where.offset}`) ?? null }));
    const copies = new Map<string, number[]>();
    for (const record of log) copies.set(`${record.producer}:${record.n}`, [...(copies.get(`${record.producer}:${record.n}`) ?? []), record.offset]);
    const twice = [...copies].filter(([, offsets]) => offsets.length > 1).map(([key, offsets]) => ({ key, offsets, acked: acked.has(key) }));
    // Send order per producer and partition, retries and the move to A included.
    const lastSent = new Map<string, number>();
    const disorder = log.filter((record) => {
      const stream = `${record.partition}:${record.producer}`;
      const late = (lastSent.get(stream) ?? -1) > record.n;
      lastSent.set(stream, Math.max(record.n, lastSent.get(stream) ?? -1));
      return late;
    });
    const failedKeys = new Set(failed.map(({ sent }) => `${sent.producer}:${sent.n}`));
    const unknown = [...copies.keys()].filter((key) => !acked.has(key) && !failedKeys.has(key));
    step(`failed-sends-${failed.length}`);
    console.info(`cluster-failover: ${steps.join(', ')} (step time/records acked); lost ${lost.length}, stored twice ${twice.length}`);
    expect(lost).toEqual([]);
    expect(twice).toEqual([]);
    expect(disorder).toEqual([]);
    expect(unknown).toEqual([]);
    // The delivery timeout outlasts both deaths: no send fails.
    expect(failed).toEqual([]);
    expect(a.running()).toBe(true);
  }, 120_000);
});
