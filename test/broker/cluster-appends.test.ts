/**
 * One writer per partition without NATS: two brokers ("a" and "b") over one memory store and an
 * in-memory bus. An append for a partition the other broker owns is forwarded and appended there;
 * an owner with no responder is routed around (appended here), one that does not answer in time
 * fails the append retriably, and what the owner receives is parsed and checked before anything
 * is appended.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerRouting, ClusterAppends, RoutedLogStore, encodeForward, partitionKey, rendezvousOwner, type LiveBroker } from '../../src/broker/cluster/index.js';
import { parseReply } from '../../src/broker/groups/cluster/wire.js';
import { SealbusError } from '../../src/errors/index.js';
import { MemoryLogStore, type AppendRequest, type LogStore } from '../../src/log/index.js';
import { encodeRecords } from '../../src/log/record-batch.js';
import { MemoryNetwork } from './groups/helpers/memory-bus.js';
import { rejectionOf } from '../helpers/error-code.js';

const PARTITIONS = 16;

/** The store as one broker sees it, recording which broker appended what. */
function spied(store: LogStore, id: string, appendedBy: string[], gate: () => Promise<void> | null): LogStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'append') {
        return async (topic: string, partition: number, request: AppendRequest) => {
          await gate();
          appendedBy.push(`${id}:${topic}/${partition}`);
          return target.append(topic, partition, request);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const records = (...values: string[]) => encodeRecords(values.map((value) => ({ value: Buffer.from(value) })));

describe('one writer per partition (in-memory bus)', () => {
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function setup() {
    const store = new MemoryLogStore();
    await store.open();
    closers.push(() => store.close());
    await store.createTopic('t', { partitions: PARTITIONS });
    const network = new MemoryNetwork();
    const live: LiveBroker[] = [
      { brokerId: 'a', instance: 'ia', lastSeen: 1 },
      { brokerId: 'b', instance: 'ib', lastSeen: 1 },
    ];
    const appendedBy: string[] = [];
    /** While set, appends on broker b wait for it. */
    const hold: { gate: Promise<void> | null } = { gate: null };
    const brokers = new Map<string, ClusterAppends>();
    for (const id of ['a', 'b']) {
      const appends = new ClusterAppends({
        store: spied(store, id, appendedBy, () => (id === 'b' ? hold.gate : null)),
        routing: new BrokerRouting(id, () => live),
        bus: network.bus(),
        subjects: network.appendSubjects,
        timeoutMs: 10_000,
        probeMs: 20,
      });
      appends.start();
      closers.push(() => appends.close());
      brokers.set(id, appends);
    }
    const ownedBy = (id: string) => Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => rendezvousOwner(partitionKey('t', p), ['a', 'b']) === id);
    return { store, network, live, appendedBy, hold, a: brokers.get('a')!, b: brokers.get('b')!, ownedBy };
  }

  it('picks the same owner for a partition on every broker, whatever the order of the lease, and spreads partitions', async () => {
    const { a, b, ownedBy } = await setup();
    const reversed = new BrokerRouting('a', () => [
      { brokerId: 'b', instance: 'ib', lastSeen: 1 },
      { brokerId: 'a', instance: 'ia', lastSeen: 1 },
    ]);
    for (let p = 0; p < PARTITIONS; p++) {
      expect(a.routing.writerOf('t', p)).toBe(b.routing.writerOf('t', p));
      expect(reversed.writerOf('t', p)).toBe(a.routing.writerOf('t', p));
    }
    expect(ownedBy('a').length).toBeGreaterThan(0);
    expect(ownedBy('b').length).toBeGreaterThan(0);
    // A partition key never collides with a group name routed by the same hashing.
    expect(partitionKey('t', 1)).not.toBe('t');
  });

  it('forwards an append to the owner, which appends it and sends the result back', async () => {
    const { store, network, appendedBy, a, b, ownedBy } = await setup();
    const p = ownedBy('b')[0]!;
    const producer = await store.initProducer(null);
    const stamp = { ...producer, baseSequence: 0 };
    const routed = new RoutedLogStore(store, a);
    const first = await routed.append('t', p, { records: records('x', 'y'), producer: stamp });
    expect(first).toEqual({ baseOffset: 0, count: 2, timestamp: expect.any(Number), duplicate: false });
    expect(appendedBy).toEqual([`b:t/${p}`]);
    expect(network.sent).toEqual([network.appendSubjects.append('b')]);
    expect(a.stats.forwarded).toBe(1);
    expect(b.stats.served).toBe(1);
    // A retry of the same batch is answered by the owner as a duplicate, with the original offsets.
    const retry = await routed.append('t', p, { records: records('x', 'y'), producer: stamp });
    expect(retry).toEqual({ ...first, duplicate: true });
    const read = await store.read('t', p, 0, { maxBytes: 1 << 20 });
    expect(read.highWatermark).toBe(2);
    // On its own partitions a broker appends itself, without the bus.
    const mine = ownedBy('a')[0]!;
    await routed.append('t', mine, { records: records('z') });
    expect(appendedBy.at(-1)).toBe(`a:t/${mine}`);
    expect(network.sent).toHaveLength(2);
    // onPlaced is never called for a forwarded append.
    let placed = 0;
    await a.append('t', p, { records: records('w'), onPlaced: () => placed++ });
    expect(placed).toBe(0);
  });

  it("rebuilds the owner's error, with its code and details, and the owner re-validates the records", async () => {
    const { store, a, ownedBy } = await setup();
    const p = ownedBy('b')[0]!;
    const missing = Array.from({ length: 200 }, (_, i) => `nope${i}`).find((topic) => rendezvousOwner(partitionKey(topic, 0), ['a', 'b']) === 'b')!;
    const notFound = await rejectionOf(a.append(missing, 0, { records: records('x') }));
    expect(notFound.code).toBe('SEALBUS_ERR_TOPIC_NOT_FOUND');
    expect(notFound.message).toContain(missing);
    // A records section whose count lies: the owner's store refuses it, nothing is stored.
    const lying = { count: 3, bytes: records('x').bytes };
    const invalid = await rejectionOf(a.append('t', p, { records: lying }));
    expect(invalid.code).not.toBe('SEALBUS_ERR_INTERNAL');
    expect(invalid.retriable).toBe(false);
    expect((await store.describeTopic('t')).partitions[p]!.highWatermark).toBe(0);
  });

  it("keeps a producer's appends on one broker while some are in flight, so that an owner change never reorders them", async () => {
    const { store, network, live, appendedBy, hold, a, ownedBy } = await setup();
    const p = ownedBy('b')[0]!;
    const producer = await store.initProducer('p2');
    let release = (): void => {};
    hold.gate = new Promise((resolve) => (release = resolve));
    const first = a.append('t', p, { records: records('0'), producer: { ...producer, baseSequence: 0 } });
    live.splice(1, 1); // the lease no longer shows b: a owns the partition now
    expect(a.routing.writerOf('t', p)).toBe('a');
    const second = a.append('t', p, { records: records('1'), producer: { ...producer, baseSequence: 1 } });
    await new Promise((resolve) => setImmediate(resolve));
    release();
    expect((await first).baseOffset).toBe(0);
    expect((await second).baseOffset).toBe(1);
    expect(appendedBy).toEqual([`b:t/${p}`, `b:t/${p}`]);
    expect(network.sent).toHaveLength(2);
    // Nothing in flight any more: the next batch goes to the new owner.
    await a.append('t', p, { records: records('2'), producer: { ...producer, baseSequence: 2 } });
    expect(appendedBy.at(-1)).toBe(`a:t/${p}`);
  });

  it('finds an owner that dies with a forward in flight: that batch fails retriably before the next one is appended here', async () => {
    const { store, network, hold, a, appendedBy, ownedBy } = await setup();
    const p = ownedBy('b')[0]!;
    const producer = await store.initProducer('p3');
    hold.gate = new Promise(() => {}); // b takes the first batch and never answers: it dies
    const settled: string[] = [];
    const first = a.append('t', p, { records: records('0'), producer: { ...producer, baseSequence: 0 } }).then(
      () => settled.push('first stored'),
      (err: SealbusError) => settled.push(`first ${err.code}`),
    );
    await new Promise((resolve) => setImmediate(resolve));
    network.cut('b');
    const second = a.append('t', p, { records: records('1'), producer: { ...producer, baseSequence: 1 } }).then(
      () => settled.push('second stored'),
      (err: SealbusError) => settled.push(`second ${err.code}`),
    );
    await Promise.all([first, second]);
    // The first may be stored (b took it): retriable. The second, appended here once the first had
    // failed, is out of sequence: the SDK, having seen the first fail, sends both again in order.
    expect(settled).toEqual(['first SEALBUS_ERR_STORE_UNAVAILABLE', 'second SEALBUS_ERR_PRODUCER_SEQUENCE_GAP']);
    expect(appendedBy).toEqual([`a:t/${p}`]);
    expect(a.stats.ownerGone).toBeGreaterThanOrEqual(1);
    const retried = await a.append('t', p, { records: records('0'), producer: { ...producer, baseSequence: 0 } });
    expect(retried).toMatchObject({ baseOffset: 0, duplicate: false });
  });

  it("settles a forward lost on the way as soon as the owner answers a later batch of the lane, before that answer", async () => {
    const { store, network, a, ownedBy } = await setup();
    const p = ownedBy('b')[0]!;
    const producer = await store.initProducer('p4');
    const settled: string[] = [];
    const track = (name: string, work: Promise<unknown>) => work.then(() => settled.push(`${name} stored`), (err: SealbusError) => settled.push(`${name} ${err.code}`));
    network.dropNext = 1;
    const first = track('first', a.append('t', p, { records: records('0'), producer: { ...producer, baseSequence: 0 } }));
    const second = track('second', a.append('t', p, { records: records('1'), producer: { ...producer, baseSequence: 1 } }));
    await Promise.all([first, second]);
    expect(settled).toEqual(['first SEALBUS_ERR_STORE_UNAVAILABLE', 'second SEALBUS_ERR_PRODUCER_SEQUENCE_GAP']);
    expect(a.routing.writerOf('t', p)).toBe('b'); // alive: not routed around
    // The SDK sends both again, in order.
    expect((await a.append('t', p, { records: records('0'), producer: { ...producer, baseSequence: 0 } })).baseOffset).toBe(0);
    expect((await a.append('t', p, { records: records('1'), producer: { ...producer, baseSequence: 1 } })).baseOffset).toBe(1);
  });

  it('keeps internal topics local', async () => {
    const { store, network, appendedBy, a } = await setup();
    await store.createTopic('__sealbus.test', { partitions: PARTITIONS });
    for (let p = 0; p < PARTITIONS; p++) await a.append('__sealbus.test', p, { records: records('x') });
    expect(appendedBy.every((entry) => entry.startsWith('a:'))).toBe(true);
    expect(network.sent).toEqual([]);
  });

  it('appends locally at once when the owner is gone, and routes around it until the lease shows it again', async () => {
    const { network, live, appendedBy, a, ownedBy } = await setup();
    const p = ownedBy('b')[0]!;
    network.cut('b');
    const result = await a.append('t', p, { records: records('x') });
    expect(result.baseOffset).toBe(0);
    expect(appendedBy).toEqual([`a:t/${p}`]);
    expect(a.stats.ownerGone).toBe(1);
    expect(a.routing.writerOf('t', p)).toBe('a');
    await a.append('t', p, { records: records('y') });
    expect(network.sent).toHaveLength(1);
    live[1] = { ...live[1]!, lastSeen: 2 };
    expect(a.routing.writerOf('t', p)).toBe('b');
  });

  it('fails retriably with SEALBUS_ERR_STORE_UNAVAILABLE when the owner does not answer in time; the retry is a duplicate', async () => {
    const { store, network, appendedBy, a, ownedBy } = await setup();
    const p = ownedBy('b')[0]!;
    const stamp = { ...(await store.initProducer('p1')), baseSequence: 0 };
    network.stalled.add(network.appendSubjects.append('b'));
    const err = await rejectionOf(a.append('t', p, { records: records('x'), producer: stamp }));
    expect(err.code).toBe('SEALBUS_ERR_STORE_UNAVAILABLE');
    expect(err.retriable).toBe(true);
    expect(err.status).toBeGreaterThanOrEqual(500);
    expect(a.stats.timedOut).toBe(1);
    expect(appendedBy).toEqual([`b:t/${p}`]); // the owner appended it; the answer was lost
    // Not routed around: a timeout is not a gone broker.
    expect(a.routing.writerOf('t', p)).toBe('b');
    network.stalled.clear();
    const retry = await a.append('t', p, { records: records('x'), producer: stamp });
    expect(retry).toMatchObject({ baseOffset: 0, duplicate: true });
  });

  it('refuses malformed, oversized and internal forwarded appends before appending anything', async () => {
    const { store, network, appendedBy, ownedBy } = await setup();
    const p = ownedBy('b')[0]!;
    const bus = network.bus();
    const subject = network.appendSubjects.append('b');
    const send = async (data: Uint8Array) => {
      const reply = parseReply(await bus.request(subject, data, 1000), 1 << 20, 'append reply');
      expect(reply.ok).toBe(false);
      return reply.ok ? '' : reply.error!.code;
    };
    const framed = (header: string, body = Buffer.alloc(0)) => {
      const json = Buffer.from(header);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(json.length);
      return Buffer.concat([length, json, body]);
    };
    expect(await send(Buffer.from([1, 2]))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await send(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7b]))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await send(framed('{"topic":"t","partition":"0","count":1}'))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await send(framed('{"topic":"t","partition":0,"count":1,"producer":{"producerId":1}}'))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(await send(framed(`{"topic":"${'t'.repeat(2000)}","partition":0,"count":1}`))).toBe('SEALBUS_ERR_JSON_LIMIT');
    expect(await send(framed('[[[[1]]]]'))).toBe('SEALBUS_ERR_JSON_LIMIT');
    await store.createTopic('__sealbus.x', { partitions: 1 });
    expect(await send(encodeForward('__sealbus.x', 0, { records: records('x') }))).toBe('SEALBUS_ERR_REQUEST_INVALID');
    const big = encodeForward('t', p, { records: records('x'.repeat(2000)) });
    network.maxPayload = 1000;
    expect(await send(big)).toBe('SEALBUS_ERR_REQUEST_INVALID');
    expect(appendedBy).toEqual([]);
  });

  it('fails retriably on an answer it cannot read (the batch may be stored)', async () => {
    const { network, a, ownedBy } = await setup();
    const p = ownedBy('b')[0]!;
    network.bus().serve(network.appendSubjects.append('b'), () => Buffer.from('{"ok":true,"value":{"baseOffset":"0"}}'));
    const err = await rejectionOf(a.append('t', p, { records: records('x') }));
    expect(err.code).toBe('SEALBUS_ERR_STORE_UNAVAILABLE');
  });

  it('appends a batch too large for the bus locally rather than sending it', async () => {
    const { network, appendedBy, a, ownedBy } = await setup();
    const p = ownedBy('b')[0]!;
    network.maxPayload = 1000;
    await a.append('t', p, { records: records('x'.repeat(2000)) });
    expect(appendedBy).toEqual([`a:t/${p}`]);
    expect(network.sent).toEqual([]);
  });
});
