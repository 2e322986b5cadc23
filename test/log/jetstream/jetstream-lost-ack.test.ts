/**
 * A publish whose answer is lost: the batch may or may not be in the stream. The store settles it
 * by looking (the message carries the append's publish id), so an append is acknowledged once, at
 * the offsets where its batch really is, and stored once, whatever the network did. The lost
 * answers are injected through the store's publish seam; the stream is a real one.
 */
import type { PubAck } from '@nats-io/jetstream';
import { errors as natsErrors } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LogStore } from '../../../src/log/types.js';
import { skipWithoutNatsServer, startNatsServer, type RunningNatsServer } from '../../helpers/nats-server.js';
import { readAll, values } from '../helpers/log-test-kit.js';
import { Brokers } from './jetstream-kit.js';

const skip = skipWithoutNatsServer('test/log/jetstream/jetstream-lost-ack.test.ts');

type Send = () => Promise<PubAck>;

describe.skipIf(skip)('JetStream store when a publish answer is lost', () => {
  let server: RunningNatsServer;
  let brokers: Brokers;
  /** What the next publish does; by default, what the network normally does. */
  let seam: (send: Send, call: number) => Promise<PubAck>;
  let calls: number;

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(() => {
    brokers = new Brokers(server.url);
    calls = 0;
    seam = (send) => send();
  });
  afterEach(async () => {
    await brokers.cleanup();
  });

  async function store(): Promise<LogStore> {
    const opened = await brokers.start({ publishSeam: (send) => seam(send, ++calls) });
    await opened.createTopic('t', { partitions: 1 });
    await opened.append('t', 0, { records: values('before', 1) });
    return opened;
  }

  const lost = (): Error => new natsErrors.TimeoutError();

  it('acknowledges a stored batch whose ack was lost, once, at its real offset', async () => {
    const s = await store();
    seam = async (send, call) => {
      const ack = await send();
      if (call === 2) throw lost();
      return ack;
    };
    expect(await s.append('t', 0, { records: values('lost-ack', 2) })).toMatchObject({ baseOffset: 1, count: 2, duplicate: false });
    expect(calls).toBe(2);
    expect((await s.append('t', 0, { records: values('after', 1) })).baseOffset).toBe(3);
    expect([...(await readAll(s, 't', 0)).values()]).toEqual(['before-0', 'lost-ack-0', 'lost-ack-1', 'after-0']);
  });

  it('publishes again when the request itself was lost', async () => {
    const s = await store();
    seam = async (send, call) => {
      if (call === 2) throw lost();
      return send();
    };
    expect(await s.append('t', 0, { records: values('retried', 1) })).toMatchObject({ baseOffset: 1, duplicate: false });
    expect(calls).toBe(3);
    expect([...(await readAll(s, 't', 0)).values()]).toEqual(['before-0', 'retried-0']);
  });

  it('stores a batch once when the lost request arrives late, after the retry', async () => {
    const s = await store();
    let late: Send | null = null;
    let lateAck: PubAck | null = null;
    seam = async (send, call) => {
      if (call === 2) {
        late = send;
        throw lost();
      }
      const ack = await send();
      if (late !== null) lateAck = await late();
      return ack;
    };
    expect(await s.append('t', 0, { records: values('once', 1) })).toMatchObject({ baseOffset: 1, duplicate: false });
    // The late copy carried the same publish id: JetStream answered it as a duplicate of the retry.
    expect(lateAck).toMatchObject({ duplicate: true });
    expect([...(await readAll(s, 't', 0)).values()]).toEqual(['before-0', 'once-0']);
  });

  it('gives up with a retriable error when NATS stays silent, leaving the partition usable', async () => {
    const s = await store();
    seam = () => Promise.reject(lost());
    const failure = await s.append('t', 0, { records: values('never', 1) }).catch((err: unknown) => err as { code: string; retriable: boolean });
    expect(failure).toMatchObject({ code: 'SEALBUS_ERR_STORE_UNAVAILABLE', retriable: true });
    expect(calls).toBe(1 + 3);
    seam = (send) => send();
    expect((await s.append('t', 0, { records: values('again', 1) })).baseOffset).toBe(1);
  });
});
