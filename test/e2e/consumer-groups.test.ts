import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer, type ConnectionOptions, type RebalanceListener, type TopicPartition } from '../../src/client/index.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';
import { adminPolicy } from '../helpers/policies.js';


const childScript = fileURLToPath(new URL('./fixtures/group-member-child.ts', import.meta.url));

interface Event {
  readonly member: string;
  readonly kind: 'start' | 'end';
  readonly partition: number;
  readonly offset: number;
}

/** Consumer groups end to end: the SDK's group consumer against a real broker. */
describe('consumer groups', () => {
  let t: TestBroker;
  let connection: ConnectionOptions;
  const consumers: Consumer[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    t = await startTestBroker({ policies: { 'admin.yaml': adminPolicy() } });
    connection = { url: t.url, ca: t.ca, cert: t.admin.cert, key: t.admin.key, token: t.admin.token };
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await Promise.all(consumers.splice(0).map((c) => c.close()));
  });
  afterAll(async () => t?.close());

  async function topic(name: string, partitions: number, records: number): Promise<void> {
    const admin = new Admin({ connection });
    await admin.createTopic({ name, partitions });
    admin.close();
    const producer = new Producer({ connection, lingerMs: 1 });
    await Promise.all(Array.from({ length: records }, (_, i) => producer.send({ topic: name, partition: i % partitions, value: `r${i}` })));
    await producer.close();
  }

  function member(group: string, options: { autoCommit?: boolean; onRebalance?: RebalanceListener } = {}): Consumer {
    const consumer = new Consumer({ connection, group, resetTo: 'earliest', autoCommitIntervalMs: 20, ...options });
    consumers.push(consumer);
    return consumer;
  }

  /**
   * Runs a member's loop: every record is "processed" across an await (a timer of `workMs` models
   * real work), so the processing of two members can interleave if the group lets it.
   */
  async function run(consumer: Consumer, name: string, events: Event[], stopAfter: () => boolean, workMs = 0): Promise<void> {
    for await (const record of consumer) {
      events.push({ member: name, kind: 'start', partition: record.partition, offset: record.offset });
      await new Promise((resolve) => (workMs === 0 ? setImmediate(resolve) : setTimeout(resolve, workMs)));
      events.push({ member: name, kind: 'end', partition: record.partition, offset: record.offset });
      if (stopAfter()) break;
    }
  }

  /** No partition is processed by two members at once: per partition, processing intervals never overlap. */
  function expectNoOverlap(events: readonly Event[]): void {
    const open = new Map<number, string>();
    for (const e of events) {
      const holder = open.get(e.partition);
      if (e.kind === 'start') {
        expect(holder, `partition ${e.partition} started by ${e.member} while ${holder} processes it`).toBeUndefined();
        open.set(e.partition, e.member);
      } else {
        expect(holder).toBe(e.member);
        open.delete(e.partition);
      }
    }
  }

  function processed(events: readonly Event[]): Set<string> {
    return new Set(events.filter((e) => e.kind === 'end').map((e) => `${e.partition}:${e.offset}`));
  }

  it('spreads partitions over the members, rebalances when one joins, and loses nothing', async () => {
    await topic('groups.join', 4, 400);
    const events: Event[] = [];
    const callbacks: string[] = [];
    const partitionsOf = (list: readonly TopicPartition[]): string => list.map((p) => p.partition).sort().join(',');
    const a = member('g-join', {
      onRebalance: {
        assigned: (list) => void callbacks.push(`assigned ${partitionsOf(list)}`),
        // Called once the loop let go of the partitions: none of their records is in hand any more.
        revoked: (list) => void callbacks.push(`revoked ${partitionsOf(list)} owned ${partitionsOf(a.assignment())}`),
      },
    });
    a.subscribe(['groups.join']);
    const runA = run(a, 'a', events, () => false);
    await waitFor(() => processed(events).size >= 50, 'a processed 50 records');

    const b = member('g-join');
    b.subscribe(['groups.join']);
    const runB = run(b, 'b', events, () => false);
    await waitFor(() => a.assignment().length === 2 && b.assignment().length === 2, 'a and b own two partitions each');
    await waitFor(() => processed(events).size === 400, 'every record processed');
    const owned = [...a.assignment(), ...b.assignment()].map((p: TopicPartition) => p.partition).sort();
    expect(owned).toEqual([0, 1, 2, 3]);
    const kept = partitionsOf(a.assignment());
    const lost = partitionsOf(b.assignment());
    expect(callbacks).toEqual(['assigned 0,1,2,3', `revoked ${lost} owned ${kept}`]);
    expectNoOverlap(events);

    // Every offset committed is the next one to process: the group's lag drains to 0.
    await waitFor(async () => {
      const d = await new Admin({ connection }).describeGroup('g-join');
      return d.partitions.every((p) => p.committedOffset === 100 && p.lag === 0);
    }, 'commits cover every record');
    const description = await new Admin({ connection }).describeGroup('g-join');
    expect(description.members.map((m) => m.principal)).toEqual(['admin', 'admin']);
    expect(description.state).toBe('stable');
    await Promise.all([a.close(), b.close()]);
    await Promise.all([runA, runB]);
  });

  it('moves a partition only once the loop that held it finished its record and committed it', async () => {
    await topic('groups.handoff', 2, 2_000);
    const events: Event[] = [];
    const slow = member('g-handoff');
    slow.subscribe(['groups.handoff']);
    const running = run(slow, 'slow', events, () => false, 5);
    await waitFor(() => slow.assignment().length === 2 && processed(events).size > 0, 'the slow member owns both partitions');
    // Each round revokes one partition from the slow member while it is in the middle of a record.
    for (let round = 0; round < 6; round++) {
      const visitor = member('g-handoff');
      visitor.subscribe(['groups.handoff']);
      const visiting = run(visitor, `visitor-${round}`, events, () => false, 5);
      await waitFor(() => visitor.assignment().length === 1 && events.some((e) => e.member === `visitor-${round}`), `visitor ${round} consumes`);
      await visitor.close();
      await visiting;
      await waitFor(() => slow.assignment().length === 2, `the slow member owns both partitions again (${round})`);
    }
    expectNoOverlap(events);
    // Records are handed on from the committed offset: the visitors started where the slow member
    // stopped, without re-processing what it finished.
    const finished = events.filter((e) => e.kind === 'end');
    expect(new Set(finished.map((e) => `${e.partition}:${e.offset}`)).size).toBe(finished.length);
    await slow.close();
    await running;
  });

  it('hands a killed member\'s partitions to the survivors; commits never pass a record not processed', async () => {
    await topic('groups.kill', 4, 2_000);
    const child = spawn(process.execPath, ['--import', 'tsx', childScript, 'g-kill', 'groups.kill'], {
      env: { ...process.env, SEALBUS_TEST_CONNECTION: JSON.stringify(connection) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const childProcessed = new Map<number, number>();
    let childPartitions: number[] = [];
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const event = JSON.parse(line) as { event: string; partition: number; offset: number; partitions: TopicPartition[] };
        if (event.event === 'record') childProcessed.set(event.partition, Math.max(childProcessed.get(event.partition) ?? -1, event.offset));
        if (event.event === 'assignment') childPartitions = event.partitions.map((p) => p.partition);
      }
    });
    await waitFor(() => childPartitions.length === 4 && [...childProcessed.values()].some((o) => o > 10), 'the child owns the topic and consumes');

    const events: Event[] = [];
    const survivor = member('g-kill');
    survivor.subscribe(['groups.kill']);
    const running = run(survivor, 'survivor', events, () => false);
    await waitFor(() => survivor.assignment().length === 2 && childPartitions.length === 2, 'the survivor joined: two partitions each');

    child.kill('SIGKILL');
    await waitFor(() => survivor.assignment().length === 4, 'the survivor took over all four partitions');

    // The survivor resumes each partition at the group's committed offset: nothing the child had
    // not processed is skipped, so with what the survivor processed every record is covered.
    await waitFor(() => {
      const done = processed(events);
      for (let offset = 0; offset < 500; offset++) {
        for (let partition = 0; partition < 4; partition++) {
          if (!done.has(`${partition}:${offset}`) && offset > (childProcessed.get(partition) ?? -1)) return false;
        }
      }
      return true;
    }, 'every record processed by the child or the survivor');
    const firstBySurvivor = new Map<number, number>();
    for (const e of events) if (e.kind === 'start' && !firstBySurvivor.has(e.partition)) firstBySurvivor.set(e.partition, e.offset);
    for (const partition of childPartitions) {
      // The survivor starts where the child's last commit said: at or before the child's next record.
      expect(firstBySurvivor.get(partition)).toBeDefined();
      expect(firstBySurvivor.get(partition)!).toBeLessThanOrEqual((childProcessed.get(partition) ?? -1) + 1);
    }
    await survivor.close();
    await running;
  });

  it('commits on demand with commit(), and resets an inactive group to earliest, latest or a time', async () => {
    await topic('groups.reset', 2, 20);
    const consumer = member('g-reset', { autoCommit: false });
    consumer.subscribe(['groups.reset']);
    let seen = 0;
    for await (const record of consumer) {
      void record;
      if (++seen === 20) {
        await consumer.commit();
        break;
      }
    }
    const admin = new Admin({ connection });
    const before = await admin.describeGroup('g-reset');
    expect(before.partitions.map((p) => p.committedOffset)).toEqual([10, 10]);
    expect(before.state).toBe('empty');

    expect(await admin.resetGroup('g-reset', 'earliest')).toEqual([
      { topic: 'groups.reset', partition: 0, offset: 0 },
      { topic: 'groups.reset', partition: 1, offset: 0 },
    ]);
    expect((await admin.resetGroup('g-reset', 'latest')).map((o) => o.offset)).toEqual([10, 10]);
    expect((await admin.resetGroup('g-reset', { timestamp: 0 })).map((o) => o.offset)).toEqual([0, 0]);
    expect((await admin.listGroups()).map((g) => g.group)).toContain('g-reset');

    // A group with members cannot be reset under them.
    const active = member('g-reset');
    active.subscribe(['groups.reset']);
    await waitFor(() => active.assignment().length === 2, 'the member owns both partitions');
    await expect(admin.resetGroup('g-reset', 'earliest')).rejects.toMatchObject({ code: 'SEALBUS_ERR_GROUP_NOT_EMPTY' });
    admin.close();
  });
});
