import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEALBUS_BIN as BIN } from '../helpers/cli.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalIssuer, certificateThumbprint } from '../../src/auth/index.js';
import {
  Admin,
  Producer,
  isSealbusError,
  webSocketTransport,
  webSocketUrl,
  type ConnectionOptions,
  type RecordMetadata,
  type Transport,
} from '../../src/client/index.js';
import { encodeRecords } from '../../src/log/record-batch.js';
import type { ProducerStamp } from '../../src/log/types.js';
import { decodeBrokerFrame, decodeClientFrame } from '../../src/protocol/index.js';
import { prepareDevEnvironment } from '../../src/server/dev-environment.js';
import { codeOf } from '../helpers/error-code.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { writeServeConfig } from '../helpers/serve-config.js';
import { openRawSession, type RawSession } from '../helpers/raw-session.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';


/** Everything needed to reach a broker: its URL and the admin's credentials. */
interface Credentials {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly token: string;
}

// ---- what the producer said and heard, frame by frame ----

interface SentProduce {
  readonly connection: number;
  readonly requestId: number;
  readonly partition: number;
  readonly count: number;
  readonly producer: ProducerStamp | null;
}

interface Tap {
  connections: number;
  initProducers: number;
  readonly produced: SentProduce[];
  readonly acks: { readonly sent: SentProduce; readonly baseOffset: number; readonly duplicate: boolean }[];
  /** Per connection that ended, the PRODUCE frames it still had unanswered. */
  readonly unansweredAtClose: SentProduce[][];
}

function newTap(): Tap {
  return { connections: 0, initProducers: 0, produced: [], acks: [], unansweredAtClose: [] };
}

/**
 * The SDK's WebSocket transport to `url`, with every frame decoded on the way into `tap`. Pings are
 * off (`keepAliveMs: 0`): a pong is broker bytes after client bytes, which the fault proxy would
 * take for the reply it is armed to drop.
 */
function tappedTransport(url: string, credentials: Credentials, tap: Tap): Transport {
  const inner = webSocketTransport({
    url: webSocketUrl(url),
    token: () => credentials.token,
    tls: async () => ({ ca: credentials.ca, cert: credentials.cert, key: credentials.key }),
    keepAliveMs: 0,
  });
  return {
    token: inner.token,
    async connect(events) {
      const connection = ++tap.connections;
      const pending = new Map<number, SentProduce>();
      const open = await inner.connect({
        onFrame(bytes) {
          const frame = decodeBrokerFrame(bytes);
          const sent = 'requestId' in frame ? pending.get(frame.requestId) : undefined;
          if (frame.type === 'PRODUCE_ACK' && sent !== undefined) {
            pending.delete(frame.requestId);
            tap.acks.push({ sent, baseOffset: frame.baseOffset, duplicate: frame.duplicate });
          } else if (frame.type === 'ERROR') {
            pending.delete(frame.requestId);
          }
          events.onFrame(bytes);
        },
        onClose(error) {
          tap.unansweredAtClose.push([...pending.values()]);
          events.onClose(error);
        },
      });
      return {
        send(bytes) {
          const frame = decodeClientFrame(bytes);
          if (frame.type === 'INIT_PRODUCER') tap.initProducers++;
          if (frame.type === 'PRODUCE') {
            const sent = { connection, requestId: frame.requestId, partition: frame.partition, count: frame.records.count, producer: frame.producer };
            tap.produced.push(sent);
            pending.set(frame.requestId, sent);
          }
          open.send(bytes);
        },
        close: (code, reason) => open.close(code, reason),
      };
    },
  };
}

// ---- reading a partition back, through the HTTP API ----

function getJson(url: string, path: string, credentials: Credentials): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url + path,
      { ca: credentials.ca, cert: credentials.cert, key: credentials.key, headers: { authorization: `Bearer ${credentials.token}` }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Every record of a partition, as [offset, value] pairs (the values are the UTF-8 strings produced). */
async function partitionContents(url: string, credentials: Credentials, topic: string, partition: number): Promise<[number, string][]> {
  const { status, body } = await getJson(url, `/v1/topics/${topic}/partitions/${partition}/records?offset=0&maxRecords=10000`, credentials);
  expect(status).toBe(200);
  expect(body.nextOffset).toBe(body.highWatermark);
  return (body.records as { offset: number; valueBase64: string }[]).map((r) => [r.offset, Buffer.from(r.valueBase64, 'base64').toString('utf8')]);
}

async function createTopic(url: string, credentials: Credentials, name: string, partitions: number): Promise<void> {
  const admin = new Admin({ connection: { url, ...credentials } });
  try {
    await admin.createTopic({ name, partitions });
  } finally {
    admin.close();
  }
}

// ---- a broker as a child process (`sealbus serve --config`), to kill -9 ----

interface ChildBroker {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
}

const children = new Set<ChildProcess>();

async function startChildBroker(configFile: string): Promise<ChildBroker> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.includes('sealbus is listening'));
      if (line !== undefined) resolve(Number(new URL((JSON.parse(line) as { url: string }).url).port));
    });
    child.once('exit', (code, signal) => reject(new Error(`sealbus serve exited (${code ?? signal}): ${out}${err}`)));
  });
  // Keep draining its output, or a full pipe would stall the broker.
  child.stdout!.resume();
  return { child, port, url: `https://localhost:${port}` };
}

async function kill9(broker: ChildBroker): Promise<void> {
  const exited = once(broker.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  broker.child.kill('SIGKILL');
  const [, signal] = await exited;
  expect(signal).toBe('SIGKILL');
}

// ---- the tests ----

describe('idempotent producer, end to end: retries after a lost ack are stored once', () => {
  let t: TestBroker;
  let admin: Credentials;
  let proxy: FaultProxy | undefined;
  const producers: Producer[] = [];
  const raws: RawSession[] = [];

  beforeAll(async () => {
    t = await startTestBroker();
    admin = { ca: t.ca, cert: t.admin.cert, key: t.admin.key, token: t.admin.token };
  });
  afterEach(async () => {
    for (const raw of raws.splice(0)) raw.close();
    await Promise.allSettled(producers.splice(0).map((producer) => producer.close()));
    await proxy?.close();
    proxy = undefined;
  });
  afterAll(async () => t?.close());

  /** A producer through a fresh fault proxy in front of the test broker. */
  async function proxiedProducer(tap: Tap, options: { idempotent?: boolean; maxBatchRecords?: number } = {}): Promise<{ producer: Producer; proxy: FaultProxy }> {
    proxy = await startFaultProxy(t.broker.port);
    const producer = new Producer({ transport: tappedTransport(proxy.url, admin, tap), lingerMs: 0, ...options });
    producers.push(producer);
    return { producer, proxy };
  }

  it('a send whose ack is lost is retried with the same stamp, answered as a duplicate, and stored once', async () => {
    await createTopic(t.url, admin, 'eo.single', 1);
    const tap = newTap();
    const { producer, proxy } = await proxiedProducer(tap);
    // The first send establishes the session (TLS handshake done, producer id known) and leaves it idle.
    const warmup = await producer.send({ topic: 'eo.single', value: 'warm-up' });
    expect(warmup.offset).toBe(0);

    const cut = proxy.dropNextReply();
    const sent = producer.send({ topic: 'eo.single', value: 'exactly-once' });
    await cut;
    const metadata = await sent;

    expect(metadata).toMatchObject({ partition: 0, offset: 1 });
    expect(await partitionContents(t.url, admin, 'eo.single', 0)).toEqual([
      [0, 'warm-up'],
      [1, 'exactly-once'],
    ]);
    // What happened on the wire: one cut, one reconnect, the same (id, epoch, sequence) sent twice,
    // the second answered as a duplicate at the original offset; no new INIT_PRODUCER on reconnect.
    expect(proxy.cut).toBe(1);
    expect(proxy.accepted).toBe(2);
    expect(tap.initProducers).toBe(1);
    expect(tap.unansweredAtClose[0]).toHaveLength(1);
    const [first, retry] = tap.produced.slice(1);
    expect(first!.producer).not.toBeNull();
    expect(first!.producer).toEqual({ ...tap.produced[0]!.producer, baseSequence: 1 });
    expect(retry!.connection).toBe(2);
    expect(retry!.producer).toEqual(first!.producer);
    expect(tap.acks.at(-1)).toMatchObject({ sent: retry, baseOffset: 1, duplicate: true });
  });

  it('with several batches in flight on several partitions at the cut, every record resolves, stored once, in order', async () => {
    const partitions = 3;
    const perPartition = 12;
    await createTopic(t.url, admin, 'eo.many', partitions);
    const tap = newTap();
    // One record per batch, so that each partition has its 5 batches in flight when the ack is lost.
    const { producer, proxy } = await proxiedProducer(tap, { maxBatchRecords: 1 });
    await Promise.all(Array.from({ length: partitions }, (_, partition) => producer.send({ topic: 'eo.many', partition, value: `p${partition}-warm-up` })));

    const cut = proxy.dropNextReply();
    const sends: Promise<RecordMetadata>[] = [];
    for (let i = 0; i < perPartition; i++) {
      for (let partition = 0; partition < partitions; partition++) sends.push(producer.send({ topic: 'eo.many', partition, value: `p${partition}-${i}` }));
    }
    await cut;
    const results = await Promise.all(sends);

    // The cut caught batches in flight on every partition (none had been answered on that connection).
    const unanswered = tap.unansweredAtClose[0]!;
    for (let partition = 0; partition < partitions; partition++) {
      expect(unanswered.filter((sent) => sent.partition === partition).length).toBeGreaterThanOrEqual(2);
    }
    expect(proxy.accepted).toBe(2);
    expect(tap.initProducers).toBe(1);
    // At least the batch whose ack was swallowed was stored before the cut: its retry is a duplicate.
    // On each partition, the retries that are duplicates come first (what was stored of the batches
    // in flight is a prefix of them), then new batches, which had waited behind the window of 5.
    expect(tap.acks.some((ack) => ack.sent.connection === 2 && ack.duplicate)).toBe(true);
    for (let partition = 0; partition < partitions; partition++) {
      const flags = tap.acks.filter((ack) => ack.sent.connection === 2 && ack.sent.partition === partition).map((ack) => ack.duplicate);
      expect(flags).toHaveLength(perPartition);
      expect(flags.indexOf(true) === -1 || flags.lastIndexOf(true) < flags.indexOf(false)).toBe(true);
      expect(flags.at(-1)).toBe(false);
    }
    for (let partition = 0; partition < partitions; partition++) {
      const expected: [number, string][] = [[0, `p${partition}-warm-up`], ...Array.from({ length: perPartition }, (_, i): [number, string] => [i + 1, `p${partition}-${i}`])];
      expect(await partitionContents(t.url, admin, 'eo.many', partition)).toEqual(expected);
    }
    results.forEach((meta, index) => {
      const i = Math.floor(index / partitions);
      expect(meta).toMatchObject({ partition: index % partitions, offset: i + 1 });
    });
  });

  it('without idempotence (idempotent: false) the same lost ack leaves a duplicate in the log: at-least-once', async () => {
    await createTopic(t.url, admin, 'eo.plain', 1);
    const tap = newTap();
    const { producer, proxy } = await proxiedProducer(tap, { idempotent: false });
    await producer.send({ topic: 'eo.plain', value: 'warm-up' });

    const cut = proxy.dropNextReply();
    const sent = producer.send({ topic: 'eo.plain', value: 'at-least-once' });
    await cut;
    const metadata = await sent;

    expect(tap.initProducers).toBe(0);
    expect(tap.produced.every((frame) => frame.producer === null)).toBe(true);
    expect(proxy.accepted).toBe(2);
    // The retry was stored again: the send resolves with the second copy's offset.
    expect(metadata.offset).toBe(2);
    expect(await partitionContents(t.url, admin, 'eo.plain', 0)).toEqual([
      [0, 'warm-up'],
      [1, 'at-least-once'],
      [2, 'at-least-once'],
    ]);
  });

  it('refuses a sequence gap with SEALBUS_ERR_PRODUCER_SEQUENCE_GAP and stores nothing of that batch', async () => {
    await createTopic(t.url, admin, 'eo.gap', 1);
    const opened = await openRawSession(t);
    if (!opened.ok) throw new Error(`upgrade refused: ${opened.status}`);
    const raw = opened.session;
    raws.push(raw);
    raw.send({ type: 'INIT_PRODUCER', requestId: 1, name: '' });
    const producer = await raw.next((frame) => 'requestId' in frame && frame.requestId === 1);
    if (producer.type !== 'PRODUCER') throw new Error(`INIT_PRODUCER answered ${producer.type}`);
    const stamp = { producerId: producer.producerId, epoch: producer.epoch };

    raw.send({ type: 'PRODUCE', requestId: 2, topic: 'eo.gap', partition: 0, producer: { ...stamp, baseSequence: 0 }, records: encodeRecords([{ value: Buffer.from('seq-0') }]) });
    expect(await raw.next((frame) => 'requestId' in frame && frame.requestId === 2)).toMatchObject({ type: 'PRODUCE_ACK', baseOffset: 0, duplicate: false });
    raw.send({ type: 'PRODUCE', requestId: 3, topic: 'eo.gap', partition: 0, producer: { ...stamp, baseSequence: 5 }, records: encodeRecords([{ value: Buffer.from('seq-5') }]) });
    const refused = await raw.next((frame) => 'requestId' in frame && frame.requestId === 3);
    expect(refused).toMatchObject({ type: 'ERROR', code: 'SEALBUS_ERR_PRODUCER_SEQUENCE_GAP', retriable: false });
    expect(refused.type === 'ERROR' && refused.message).toBe(`Producer ${stamp.producerId} sent sequence 5 on eo.gap/0; expected 1`);

    expect(await partitionContents(t.url, admin, 'eo.gap', 0)).toEqual([[0, 'seq-0']]);
    // The refusal consumed nothing: the next sequence in order is still accepted, at the next offset.
    raw.send({ type: 'PRODUCE', requestId: 4, topic: 'eo.gap', partition: 0, producer: { ...stamp, baseSequence: 1 }, records: encodeRecords([{ value: Buffer.from('seq-1') }]) });
    expect(await raw.next((frame) => 'requestId' in frame && frame.requestId === 4)).toMatchObject({ type: 'PRODUCE_ACK', baseOffset: 1, duplicate: false });
  });

  it('a second producer with the same name fences the first with SEALBUS_ERR_PRODUCER_FENCED; the second goes on', async () => {
    await createTopic(t.url, admin, 'eo.fenced', 2);
    const connection: ConnectionOptions = { url: t.url, ...admin };
    const older = new Producer({ connection, name: 'billing', lingerMs: 0 });
    producers.push(older);
    expect(await older.send({ topic: 'eo.fenced', partition: 0, value: 'older-1' })).toMatchObject({ offset: 0 });

    const newer = new Producer({ connection, name: 'billing', lingerMs: 0 });
    producers.push(newer);
    // Partition 1: the older instance is fenced on every partition, not only where the newer one wrote.
    expect(await newer.send({ topic: 'eo.fenced', partition: 1, value: 'newer-1' })).toMatchObject({ offset: 0 });

    const fenced = await older.send({ topic: 'eo.fenced', partition: 0, value: 'older-2' }).catch((err: unknown) => err);
    expect(isSealbusError(fenced, 'SEALBUS_ERR_PRODUCER_FENCED')).toBe(true);
    expect((fenced as { retriable: boolean }).retriable).toBe(false);
    // Fenced for good: later sends fail at once with the same code.
    expect(await codeOf(older.send({ topic: 'eo.fenced', partition: 1, value: 'older-3' }))).toBe('SEALBUS_ERR_PRODUCER_FENCED');

    expect(await newer.send({ topic: 'eo.fenced', partition: 0, value: 'newer-2' })).toMatchObject({ offset: 1 });
    expect(await partitionContents(t.url, admin, 'eo.fenced', 0)).toEqual([
      [0, 'older-1'],
      [1, 'newer-2'],
    ]);
    expect(await partitionContents(t.url, admin, 'eo.fenced', 1)).toEqual([[0, 'newer-1']]);
  });

  it('de-duplicates retries of one producer instance only: a new instance, even with the same name, stores a resend again', async () => {
    await createTopic(t.url, admin, 'eo.resend', 1);
    const connection: ConnectionOptions = { url: t.url, ...admin };
    const before = new Producer({ connection, name: 'orders-app', lingerMs: 0 });
    producers.push(before);
    expect(await before.send({ topic: 'eo.resend', value: 'order-7' })).toMatchObject({ offset: 0 });
    await before.close();

    // The application "restarts" and sends the same record again: a new epoch starts at sequence 0,
    // so the broker has nothing to match it against.
    const after = new Producer({ connection, name: 'orders-app', lingerMs: 0 });
    producers.push(after);
    expect(await after.send({ topic: 'eo.resend', value: 'order-7' })).toMatchObject({ offset: 1 });
    expect(await partitionContents(t.url, admin, 'eo.resend', 0)).toEqual([
      [0, 'order-7'],
      [1, 'order-7'],
    ]);
  });
});

describe('idempotent producer across a broker kill -9', () => {
  let dir: string;
  let configFile: string;
  let proxy: FaultProxy | undefined;
  let producer: Producer | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealbus-exactly-once-'));
    await prepareDevEnvironment(dir); // only for its certificates
    configFile = await writeServeConfig(dir);
  });
  afterEach(async () => {
    await producer?.close().catch(() => undefined);
    producer = undefined;
    await proxy?.close();
    proxy = undefined;
    await Promise.all([...children].map((child) => (child.kill('SIGKILL'), once(child, 'exit'))));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('a batch stored and acked just before the crash is recognised after recovery: one copy, the original offset', { timeout: 60_000 }, async () => {
    const first = await startChildBroker(configFile);
    const cert = await readFile(join(dir, 'certs', 'admin.crt'), 'utf8');
    const issuer = await LocalIssuer.loadOrCreate(join(dir, 'data', 'issuer'), { issuer: 'sealbus-local' });
    const admin: Credentials = {
      ca: await readFile(join(dir, 'certs', 'ca.crt'), 'utf8'),
      cert,
      key: await readFile(join(dir, 'certs', 'admin.key'), 'utf8'),
      token: await issuer.issueToken({ sub: 'admin', ttlSeconds: 3600, audience: 'sealbus', bindThumbprint: certificateThumbprint(cert) }),
    };
    await createTopic(first.url, admin, 'eo.crash', 1);

    proxy = await startFaultProxy(first.port);
    const tap = newTap();
    producer = new Producer({ transport: tappedTransport(proxy.url, admin, tap), lingerMs: 0 });
    const warmup = await producer.send({ topic: 'eo.crash', value: 'before-crash' });
    expect(warmup.offset).toBe(0);

    // The SDK's reconnection waits at the proxy until the restarted broker is up, so the retry can
    // only be answered by a broker that rebuilt its producer state from the log.
    proxy.hold();
    const cut = proxy.dropNextReply();
    const sent = producer.send({ topic: 'eo.crash', value: 'acked-then-crashed' });
    await cut;
    await kill9(first);

    const second = await startChildBroker(configFile);
    proxy.retarget(second.port);
    const metadata = await sent;

    expect(metadata).toMatchObject({ partition: 0, offset: 1 });
    expect(await partitionContents(second.url, admin, 'eo.crash', 0)).toEqual([
      [0, 'before-crash'],
      [1, 'acked-then-crashed'],
    ]);
    expect(tap.initProducers).toBe(1);
    const retry = tap.produced.at(-1)!;
    expect(retry.connection).toBeGreaterThan(1);
    expect(retry.producer).toEqual(tap.produced[1]!.producer);
    expect(tap.acks.at(-1)).toMatchObject({ sent: retry, baseOffset: 1, duplicate: true });

    // The recovered broker goes on with the same producer: the next sequence is accepted once.
    expect(await producer.send({ topic: 'eo.crash', value: 'after-restart' })).toMatchObject({ offset: 2 });
    await producer.close();
    producer = undefined;
    expect((await partitionContents(second.url, admin, 'eo.crash', 0)).map(([, value]) => value)).toEqual(['before-crash', 'acked-then-crashed', 'after-restart']);
  });
});
