/**
 * Consumer groups across brokers without NATS: two ClusterGroups (brokers "a" and "b") over one
 * memory store and an in-memory bus. Members on both brokers form one group; operations of a member
 * whose group the other broker coordinates are forwarded there, and pushes come back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterGroups, BrokerRouting, rendezvousOwner, type LiveBroker } from '../../../src/broker/groups/cluster/index.js';
import { GroupCoordinator, type MemberAssignment, type MemberChannel } from '../../../src/broker/groups/index.js';
import { isSealbusError, type SealbusError } from '../../../src/errors/index.js';
import { MemoryLogStore } from '../../../src/log/index.js';
import { waitFor } from '../../helpers/wait-for.js';
import { MemoryNetwork } from './helpers/memory-bus.js';

class Member implements MemberChannel {
  readonly owner = {};
  memberId = '';
  readonly received: MemberAssignment[] = [];
  removedWith: SealbusError | null = null;

  constructor(
    readonly broker: ClusterGroups,
    readonly group: string,
  ) {}

  assign(assignment: MemberAssignment): void {
    this.received.push(assignment);
  }

  removed(error: SealbusError): void {
    this.removedWith = error;
  }

  get latest(): MemberAssignment {
    return this.received.at(-1)!;
  }

  get partitions(): number[] {
    return this.latest.partitions.map((p) => p.partition);
  }

  async ack(): Promise<void> {
    await this.broker.heartbeat(this.group, this.memberId, this.owner, this.latest.generation);
  }
}

describe('consumer groups across brokers (in-memory bus)', () => {
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function setup() {
    const store = new MemoryLogStore();
    await store.open();
    await store.createTopic('t', { partitions: 4 });
    const network = new MemoryNetwork();
    const live: LiveBroker[] = [
      { brokerId: 'a', instance: 'ia', lastSeen: 1 },
      { brokerId: 'b', instance: 'ib', lastSeen: 1 },
    ];
    const brokers = new Map<string, { cluster: ClusterGroups; local: GroupCoordinator }>();
    for (const id of ['a', 'b']) {
      const local = new GroupCoordinator({ store });
      const cluster = new ClusterGroups({ local, routing: new BrokerRouting(id, () => live), bus: network.bus(), subjects: network.subjects, instance: `i${id}` });
      cluster.start();
      brokers.set(id, { cluster, local });
      closers.push(() => local.close(), () => cluster.close());
    }
    closers.push(() => store.close());
    /** A group name whose coordinator is `broker` while both are alive. */
    const groupOn = (broker: string) => Array.from({ length: 100 }, (_, i) => `g${i}`).find((g) => rendezvousOwner(g, ['a', 'b']) === broker)!;
    const join = async (broker: string, group: string, sessionTimeoutMs = 30_000): Promise<Member> => {
      const cluster = brokers.get(broker)!.cluster;
      const member = new Member(cluster, group);
      const joined = await cluster.join({ group, topics: ['t'], strategy: 'range', owner: member.owner, principal: 'p', clientAddress: null, channel: member, sessionTimeoutMs });
      member.memberId = joined.memberId;
      member.received.unshift(joined.assignment);
      return member;
    };
    return { store, network, live, brokers, groupOn, join };
  }

  /** Acknowledges pushes until every member is at the same generation and nothing is pending. */
  async function settle(members: Member[]): Promise<void> {
    await waitFor(async () => {
      for (const member of members) await member.ack();
      const generations = new Set(members.map((m) => m.latest.generation));
      const owned = members.flatMap((m) => m.partitions);
      return generations.size === 1 && owned.length === 4 && new Set(owned).size === 4;
    }, 'one assignment over the members', 5_000);
  }

  it('members on both brokers form one group with one assignment; only the joining session may act for a member', async () => {
    const { brokers, groupOn, join } = await setup();
    const group = groupOn('a');
    const onA = await join('a', group);
    const onB1 = await join('b', group);
    const onB2 = await join('b', group);
    await settle([onA, onB1, onB2]);
    // Only broker a holds the group; b holds none of its own.
    expect(brokers.get('a')!.local.activeGroups()).toEqual([group]);
    expect(brokers.get('b')!.local.activeGroups()).toEqual([]);
    const described = await brokers.get('b')!.cluster.describe(group);
    expect(described.members.map((m) => m.memberId).sort()).toEqual([onA.memberId, onB1.memberId, onB2.memberId].sort());
    expect(described.generation).toBe(onB1.latest.generation);
    // b's other session cannot heartbeat for onB1; forged commits are refused the same way.
    const intruder = {};
    await expect(Promise.resolve().then(() => brokers.get('b')!.cluster.heartbeat(group, onB1.memberId, intruder, onB1.latest.generation))).rejects.toMatchObject({
      code: 'SEALBUS_ERR_GROUP_UNKNOWN_MEMBER',
    });
    await brokers.get('b')!.cluster.commit(group, onB1.memberId, onB1.owner, onB1.latest.generation, [{ topic: 't', partition: onB1.partitions[0]!, offset: 0 }]);
    const list = await brokers.get('b')!.cluster.list();
    expect(list.find((s) => s.group === group)).toMatchObject({ members: 3 });
  });

  it('a member leaving on one broker rebalances the members on the other; a closed session leaves', async () => {
    const { brokers, groupOn, join } = await setup();
    const group = groupOn('b');
    const onA1 = await join('a', group);
    const onA2 = await join('a', group);
    const onB = await join('b', group);
    await settle([onA1, onA2, onB]);
    await brokers.get('b')!.cluster.leave(group, onB.memberId, onB.owner);
    await settle([onA1, onA2]);
    brokers.get('a')!.cluster.leaveAll(onA2.owner);
    await settle([onA1]);
    expect(onA1.partitions).toEqual([0, 1, 2, 3]);
    expect((await brokers.get('a')!.cluster.describe(group)).members).toHaveLength(1);
  });

  it('when the coordinator is gone, its members elsewhere get a retriable error and rejoin on a live broker', async () => {
    const { brokers, network, groupOn, join } = await setup();
    const group = groupOn('a');
    const onB1 = await join('b', group);
    const onB2 = await join('b', group);
    await settle([onB1, onB2]);
    network.cut('a'); // broker a's connection is gone, without a word
    const error = await Promise.resolve()
      .then(() => onB1.ack())
      .catch((err: unknown) => err);
    expect(isSealbusError(error, 'SEALBUS_ERR_GROUP_COORDINATOR_UNAVAILABLE')).toBe(true);
    expect((error as SealbusError).retriable).toBe(true);
    expect(brokers.get('b')!.cluster.routing.coordinatorOf(group)).toBe('b');
    // onB2 is still recorded with a: its next heartbeat fails the same way, without asking a again.
    await expect(Promise.resolve().then(() => onB2.ack())).rejects.toMatchObject({ code: 'SEALBUS_ERR_GROUP_COORDINATOR_UNAVAILABLE' });
    const again1 = await join('b', group);
    const again2 = await join('b', group);
    await settle([again1, again2]);
    expect(brokers.get('b')!.local.activeGroups()).toEqual([group]);
  });

  it('a coordinator drops the members of a broker that is gone at its next push, and of a broker that runs again', async () => {
    const { brokers, network, live, groupOn, join } = await setup();
    const group = groupOn('a');
    const onA = await join('a', group);
    const onB = await join('b', group);
    await settle([onA, onB]);
    network.cut('b');
    // A new member on a: the rebalance pushes to b's member, which has no responder: it is dropped.
    const onA2 = await join('a', group);
    await settle([onA, onA2]);
    expect((await brokers.get('a')!.cluster.describe(group)).members.map((m) => m.memberId)).not.toContain(onB.memberId);

    // b comes back as a new run: a member it had before is dropped by the sweep.
    const { local, cluster } = brokers.get('b')!;
    cluster.close();
    local.close();
    const bAgain = new ClusterGroups({ local: new GroupCoordinator({ store: (await setupStore()) }), routing: new BrokerRouting('b', () => live), bus: network.bus(), subjects: network.subjects, instance: 'ib2' });
    bAgain.start();
    closers.push(() => bAgain.close());
    const onB2 = await joinVia(bAgain, group);
    await settle([onA, onA2, onB2]);
    live[1] = { brokerId: 'b', instance: 'ib3', lastSeen: 2 };
    brokers.get('a')!.cluster.reconcile();
    await settle([onA, onA2]);
  });

  it('gives up a group when a broker joins that now coordinates it: its members are told to join again', async () => {
    const { brokers, live, join } = await setup();
    const group = Array.from({ length: 200 }, (_, i) => `h${i}`).find((g) => rendezvousOwner(g, ['a', 'b']) === 'a' && rendezvousOwner(g, ['a', 'b', 'c']) === 'c')!;
    const onB = await join('b', group);
    const onA = await join('a', group);
    await settle([onA, onB]);
    live.push({ brokerId: 'c', instance: 'ic', lastSeen: 1 });
    brokers.get('a')!.cluster.reconcile();
    await waitFor(() => onA.removedWith !== null && onB.removedWith !== null, 'both members told', 5_000);
    expect(onA.removedWith!.code).toBe('SEALBUS_ERR_GROUP_COORDINATOR_UNAVAILABLE');
    expect(onB.removedWith!.code).toBe('SEALBUS_ERR_GROUP_COORDINATOR_UNAVAILABLE');
    expect(onB.removedWith!.retriable).toBe(true);
    expect(brokers.get('a')!.local.activeGroups()).toEqual([]);
  });

  it('keeps a single broker on its own coordinator: nothing goes over the bus', async () => {
    const { network, join } = await setup();
    const network0 = network.sent.length;
    const group = Array.from({ length: 100 }, (_, i) => `s${i}`).find((g) => rendezvousOwner(g, ['a', 'b']) === 'a')!;
    const member = await join('a', group);
    await member.ack();
    expect(network.sent.length).toBe(network0);
  });

  async function setupStore(): Promise<MemoryLogStore> {
    const store = new MemoryLogStore();
    await store.open();
    await store.createTopic('t', { partitions: 4 });
    closers.push(() => store.close());
    return store;
  }

  async function joinVia(cluster: ClusterGroups, group: string): Promise<Member> {
    const member = new Member(cluster, group);
    const joined = await cluster.join({ group, topics: ['t'], strategy: 'range', owner: member.owner, principal: 'p', clientAddress: null, channel: member });
    member.memberId = joined.memberId;
    member.received.unshift(joined.assignment);
    return member;
  }
});
