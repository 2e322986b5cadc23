/**
 * Consumer groups across brokers (issue 11): two brokers over one JetStream store, SDK consumers
 * in one group spread over both. They form one group with one assignment, records are consumed
 * once across the members, a member leaving on one broker rebalances those on the other, and when
 * the coordinator broker dies without a word (its NATS connection closed) the members on the
 * surviving broker join again there and consume every partition from the committed offsets. When
 * a member's broker dies instead, the coordinator drops its members at the next rebalance rather
 * than after their session timeout.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type ConnectionOptions } from '../../src/client/index.js';
import type { ClusterGroups } from '../../src/broker/groups/cluster/index.js';
import { cutFromNats, natsBackendFiles, sharedStoreBroker, startNatsBackend, type NatsBackendFiles } from '../helpers/nats-backend.js';
import { skipWithoutNatsServer, type RunningNatsServer } from '../helpers/nats-server.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';
import { adminPolicy } from '../helpers/policies.js';

const skip = skipWithoutNatsServer('test/e2e/cluster-groups.test.ts');


const TOPIC = 'cluster.groups';
const PARTITIONS = 4;

interface Seen {
  readonly member: string;
  readonly partition: number;
  readonly offset: number;
}

const cluster = (t: TestBroker): ClusterGroups => t.broker.groupCluster!;

describe.skipIf(skip)('consumer groups across two brokers', () => {
  let files: NatsBackendFiles;
  let nats: RunningNatsServer;
  let a: TestBroker;
  let b: TestBroker;
  let onA: ConnectionOptions;
  let onB: ConnectionOptions;
  const consumers = new Map<string, Consumer>();
  let loops: Promise<void>[] = [];
  let seen: Seen[] = [];
  let failures: { member: string; error: unknown }[] = [];
  let produced = 0;

  /** Two brokers on a store of their own, a topic, and both brokers seeing each other in the lease. */
  async function startPair(): Promise<void> {
    const streamPrefix = `g${randomBytes(5).toString('hex')}`;
    const policies = { 'admin.yaml': adminPolicy() };
    a = await startTestBroker({ policies, configure: sharedStoreBroker(nats, files, streamPrefix, 'broker-a') });
    b = await startTestBroker({ policies, configure: sharedStoreBroker(nats, files, streamPrefix, 'broker-b', a) });
    onA = { url: a.url, ca: a.ca, cert: a.admin.cert, key: a.admin.key, token: a.admin.token };
    onB = { ...onA, url: b.url };
    const admin = new Admin({ connection: onA });
    await admin.createTopic({ name: TOPIC, partitions: PARTITIONS });
    admin.close();
    await waitFor(() => [a, b].every((t) => cluster(t).routing.brokers().join() === 'broker-a,broker-b'), 'both brokers see each other', 10_000);
  }

  beforeAll(async () => {
    files = await natsBackendFiles();
    nats = await startNatsBackend(files);
  }, 30_000);

  afterEach(async () => {
    await Promise.all([...consumers.values()].map((c) => c.close().catch(() => {})));
    consumers.clear();
    await Promise.all(loops);
    loops = [];
    seen = [];
    failures = [];
    produced = 0;
    await b?.close();
    await a?.close();
  });

  afterAll(async () => {
    await nats?.stop();
    if (files !== undefined) await rm(files.dir, { recursive: true, force: true });
  });

  /** A group whose coordinator is broker A while both brokers are alive. */
  function groupOnA(): string {
    for (let i = 0; ; i++) {
      const group = `orders-${i}`;
      if (cluster(a).routing.coordinatorOf(group) === 'broker-a' && cluster(b).routing.coordinatorOf(group) === 'broker-a') return group;
    }
  }

  function member(name: string, connection: ConnectionOptions, group: string, sessionTimeoutMs = 3_000): Consumer {
    const consumer = new Consumer({ connection, group, resetTo: 'earliest', autoCommitIntervalMs: 20, sessionTimeoutMs });
    consumers.set(name, consumer);
    consumer.subscribe([TOPIC]);
    loops.push(
      (async () => {
        for await (const record of consumer) seen.push({ member: name, partition: record.partition, offset: record.offset });
      })().catch((error: unknown) => {
        failures.push({ member: name, error });
      }),
    );
    return consumer;
  }

  async function produce(connection: ConnectionOptions, count: number): Promise<void> {
    const producer = new Producer({ connection, lingerMs: 1 });
    const start = produced;
    produced += count;
    await Promise.all(Array.from({ length: count }, (_, i) => producer.send({ topic: TOPIC, partition: (start + i) % PARTITIONS, value: `r${start + i}` })));
    await producer.close();
  }

  /** Every record produced so far was consumed exactly once, across all members. */
  async function consumedOnce(): Promise<void> {
    await waitFor(() => seen.length >= produced, `${produced} records consumed (have ${seen.length})`, 20_000);
    const keys = seen.map((s) => `${s.partition}:${s.offset}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(produced);
  }

  async function describeOn(t: TestBroker, group: string) {
    return (await t.request('GET', `/v1/groups/${encodeURIComponent(group)}`)).body;
  }

  /** The members named hold one assignment: every partition owned by exactly one of them, at one generation, as each broker describes it. */
  async function oneAssignment(names: string[], brokers: TestBroker[], group: string): Promise<void> {
    await waitFor(
      async () => {
        const owned = names.flatMap((name) => consumers.get(name)!.assignment().map((p) => p.partition));
        if (owned.length !== PARTITIONS || new Set(owned).size !== PARTITIONS) return false;
        const descriptions = await Promise.all(brokers.map((t) => describeOn(t, group)));
        return descriptions.every(
          (d) =>
            d.state === 'stable' &&
            d.members.length === names.length &&
            d.generation === descriptions[0].generation &&
            d.partitions.every((p: { owner: string | null }) => p.owner !== null),
        );
      },
      `one assignment over ${names.join(', ')}`,
      15_000,
    );
    const description = await describeOn(brokers[0]!, group);
    const memberIds = description.members.map((m: { memberId: string }) => m.memberId);
    expect(description.partitions.every((p: { owner: string }) => memberIds.includes(p.owner))).toBe(true);
    const assigned = description.members.flatMap((m: { assigned: { partition: number }[] }) => m.assigned.map((p) => p.partition));
    expect(assigned.sort()).toEqual([0, 1, 2, 3]);
  }

  /** Every partition's committed offset is its high watermark: the members committed all they read. */
  async function allCommitted(t: TestBroker, group: string): Promise<void> {
    await waitFor(
      async () => {
        const body = await describeOn(t, group);
        if (!Array.isArray(body.partitions)) throw new Error(`describe failed: ${JSON.stringify(body)}`);
        return body.partitions.length === PARTITIONS && body.partitions.every((p: { lag: number | null }) => p.lag === 0);
      },
      'every record committed',
      10_000,
    );
  }

  it('forms one group across brokers, rebalances across them, and survives the coordinator broker', async () => {
    await startPair();
    const group = groupOnA();

    // One member on A (the coordinator), two on B: one group, one assignment, as both brokers say.
    member('a1', onA, group);
    member('b1', onB, group);
    member('b2', onB, group);
    await oneAssignment(['a1', 'b1', 'b2'], [a, b], group);
    const listed = (await b.request('GET', '/v1/groups')).body.groups.find((g: { group: string }) => g.group === group);
    expect(listed).toMatchObject({ members: 3, state: 'stable' });

    await produce(onA, 200);
    await consumedOnce();
    expect(new Set(seen.map((s) => s.member)).size).toBe(3);

    // The member on A leaves: the two on B share every partition.
    await consumers.get('a1')!.close();
    consumers.delete('a1');
    await oneAssignment(['b1', 'b2'], [a, b], group);
    await produce(onB, 100);
    await consumedOnce();
    await allCommitted(b, group);
    const before = (await describeOn(b, group)).members.map((m: { memberId: string }) => m.memberId);

    // Broker A dies without a word.
    await cutFromNats(a);
    await waitFor(() => cluster(b).routing.coordinatorOf(group) === 'broker-b', 'B coordinates the group', 15_000);
    await oneAssignment(['b1', 'b2'], [b], group);
    // The members joined again (new member ids) on B, which rebuilt the group from the joins.
    const after = (await describeOn(b, group)).members.map((m: { memberId: string }) => m.memberId);
    expect(after.filter((id: string) => before.includes(id))).toEqual([]);
    // They continue from the committed offsets: nothing read before is read again, nothing new is missed.
    await produce(onB, 100);
    await consumedOnce();
    expect(failures).toEqual([]);
  }, 60_000);

  it("drops a dead broker's members at the next rebalance, not after their session timeout", async () => {
    await startPair();
    const group = groupOnA();
    // A 60 s session timeout: only the coordinator noticing the dead broker can move b1's partitions in time.
    member('a1', onA, group, 60_000);
    member('b1', onB, group, 60_000);
    await oneAssignment(['a1', 'b1'], [a, b], group);
    await produce(onA, 100);
    await consumedOnce();
    await allCommitted(a, group);

    // Broker B dies without a word; b1 is stranded on it. A new member joins through A.
    await cutFromNats(b);
    member('a2', onA, group, 60_000);
    await oneAssignment(['a1', 'a2'], [a], group);
    await produce(onA, 100);
    await waitFor(() => seen.length >= produced, 'the new records consumed by the members on A', 15_000);
    const fresh = seen.filter((s) => s.offset >= 25);
    expect(new Set(fresh.map((s) => s.member))).toEqual(new Set(['a1', 'a2']));
    expect(failures.filter((f) => f.member !== 'b1')).toEqual([]);
  }, 60_000);
});
