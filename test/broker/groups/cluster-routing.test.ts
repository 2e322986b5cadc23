import { describe, expect, it } from 'vitest';
import { BrokerRouting, partitionKey, rendezvousOwner, type LiveBroker } from '../../../src/broker/cluster/index.js';
import { MemberRelay } from '../../../src/broker/groups/cluster/member-relay.js';
import { encode, parsePush, parseRequest } from '../../../src/broker/groups/cluster/wire.js';
import type { MemberAssignment } from '../../../src/broker/groups/index.js';
import { SealbusError } from '../../../src/errors/index.js';

const groups = Array.from({ length: 600 }, (_, i) => `group-${i}`);

describe('rendezvous routing of groups to brokers', () => {
  it('picks the same coordinator whatever the order of the brokers, and spreads groups over them', () => {
    const counts = new Map<string, number>();
    for (const group of groups) {
      const owner = rendezvousOwner(group, ['a', 'b', 'c']);
      expect(rendezvousOwner(group, ['c', 'a', 'b'])).toBe(owner);
      counts.set(owner!, (counts.get(owner!) ?? 0) + 1);
    }
    for (const broker of ['a', 'b', 'c']) expect(counts.get(broker)).toBeGreaterThan(120);
    expect(rendezvousOwner('g', [])).toBeNull();
  });

  it('moves only the groups of a broker that leaves', () => {
    for (const group of groups) {
      const before = rendezvousOwner(group, ['a', 'b', 'c']);
      const after = rendezvousOwner(group, ['a', 'b']);
      if (before !== 'c') expect(after).toBe(before);
    }
  });

  it('routes around a broker found gone until the lease shows a newer hold of it', () => {
    const live: LiveBroker[] = [
      { brokerId: 'a', instance: 'ia', lastSeen: 1000 },
      { brokerId: 'b', instance: 'ib', lastSeen: 1000 },
    ];
    const routing = new BrokerRouting('a', () => live);
    const group = groups.find((g) => rendezvousOwner(g, ['a', 'b']) === 'b')!;
    expect(routing.coordinatorOf(group)).toBe('b');
    routing.markGone('b');
    expect(routing.brokers()).toEqual(['a']);
    expect(routing.coordinatorOf(group)).toBe('a');
    live[1] = { ...live[1]!, lastSeen: 6000 };
    expect(routing.coordinatorOf(group)).toBe('b');
    routing.markGone('a'); // never itself
    expect(routing.brokers()).toEqual(['a', 'b']);
    expect(routing.instanceOf('b')).toBe('ib');
    expect(routing.instanceOf('zz')).toBeNull();
  });

  it('routes partitions over the same brokers as groups, apart from group names, and a broker gone for one is gone for both', () => {
    const live: LiveBroker[] = [
      { brokerId: 'a', instance: 'ia', lastSeen: 1000 },
      { brokerId: 'b', instance: 'ib', lastSeen: 1000 },
    ];
    const routing = new BrokerRouting('a', () => live);
    const partitions = Array.from({ length: 64 }, (_, p) => routing.writerOf('t', p));
    expect(new Set(partitions)).toEqual(new Set(['a', 'b']));
    for (let p = 0; p < 64; p++) expect(partitions[p]).toBe(rendezvousOwner(partitionKey('t', p), ['a', 'b']));
    const group = groups.find((g) => rendezvousOwner(g, ['a', 'b']) === 'b')!;
    routing.markGone('b');
    expect(routing.coordinatorOf(group)).toBe('a');
    expect(Array.from({ length: 64 }, (_, p) => routing.writerOf('t', p)).every((owner) => owner === 'a')).toBe(true);
  });

  it('includes itself even before its own hold is read', () => {
    expect(new BrokerRouting('a', () => []).coordinatorOf('g')).toBe('a');
  });
});

describe('messages between brokers', () => {
  it('parses what it encodes, and refuses what is malformed or too large', () => {
    const join = { op: 'join', from: { broker: 'b', instance: 'i', session: 's' }, group: 'g', topics: ['t'], strategy: 'range', principal: 'p', clientAddress: null } as const;
    expect(parseRequest(encode(join), 4096)).toEqual(join);
    const bad = (value: unknown, max = 4096) => () => parseRequest(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), max);
    expect(bad({ ...join, topics: 't' })).toThrow(/malformed/);
    expect(bad({ op: 'heartbeat', from: join.from, group: 'g', memberId: 'm', generation: 1.5 })).toThrow(/integer/);
    expect(bad({ op: 'nope' })).toThrow(/unknown op/);
    expect(bad('{"op":')).toThrow(SealbusError);
    expect(bad({ ...join, principal: 'x'.repeat(5000) })).toThrow(SealbusError);
    expect(bad(`${'['.repeat(20)}${']'.repeat(20)}`)).toThrow(SealbusError);
    expect(() => parsePush(Buffer.from(JSON.stringify({ op: 'assign', session: 's', assignment: { group: 'g' } })), 4096)).toThrow(/malformed/);
  });
});

describe('the member side relay', () => {
  const assignment = (memberId: string, generation: number): MemberAssignment => ({ group: 'g', memberId, generation, partitions: [] });

  it('holds pushes that overtake the join answer, and delivers them in order after it', () => {
    const relay = new MemberRelay();
    const owner = {};
    const seen: number[] = [];
    const session = relay.beginJoin(owner);
    expect(relay.onPush({ op: 'assign', session, assignment: assignment('m1', 2) })).toBe('ok');
    expect(relay.onPush({ op: 'assign', session, assignment: assignment('m1', 3) })).toBe('ok');
    expect(seen).toEqual([]);
    relay.endJoin(owner, { group: 'g', memberId: 'm1', coordinator: 'b', channel: { assign: (a) => seen.push(a.generation), removed: () => {} } });
    expect(seen).toEqual([2, 3]);
    expect(relay.onPush({ op: 'assign', session, assignment: assignment('m1', 4) })).toBe('ok');
    expect(seen).toEqual([2, 3, 4]);
  });

  it('answers gone for an unknown session or member, and forgets a removed member', () => {
    const relay = new MemberRelay();
    const owner = {};
    let removed: SealbusError | null = null;
    expect(relay.onPush({ op: 'assign', session: 'nobody', assignment: assignment('m1', 1) })).toBe('gone');
    const session = relay.beginJoin(owner);
    relay.endJoin(owner, { group: 'g', memberId: 'm1', coordinator: 'b', channel: { assign: () => {}, removed: (e) => (removed = e) } });
    expect(relay.onPush({ op: 'assign', session, assignment: assignment('m2', 1) })).toBe('gone');
    const error = new SealbusError('SEALBUS_ERR_GROUP_SESSION_TIMEOUT', { group: 'g', memberId: 'm1', timeoutMs: 1 }).toWire();
    expect(relay.onPush({ op: 'removed', session, group: 'g', memberId: 'm1', error })).toBe('ok');
    expect(removed!.code).toBe('SEALBUS_ERR_GROUP_SESSION_TIMEOUT');
    expect(removed!.retriable).toBe(true);
    expect(relay.find(owner, 'm1')).toBeUndefined();
    expect(relay.size).toBe(0);
  });

  it('refuses early pushes once no join is in flight', () => {
    const relay = new MemberRelay();
    const owner = {};
    const session = relay.beginJoin(owner);
    relay.endJoin(owner, null);
    expect(relay.onPush({ op: 'assign', session, assignment: assignment('m1', 1) })).toBe('gone');
  });
});
