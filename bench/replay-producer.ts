/**
 * A light load generator, for measuring the broker rather than the SDK: PRODUCE frames encoded once,
 * up front (as producers on other machines would have encoded them), sent over one authenticated
 * WebSocket session (mutual TLS, bound token) with a window of frames in flight, each answered by
 * its PRODUCE_ACK. Its own CPU per record is a small fraction of the SDK's (no per-record promise,
 * no batching work), so that on a machine shared with the broker the broker gets the cores: what
 * the broker can take is then what is measured, not what one client process can send.
 */
import WebSocket from 'ws';
import type { ConnectionOptions } from '../src/client/index.js';
import { encodeRecords, type RecordInput } from '../src/log/record-batch.js';
import { SUBPROTOCOL, WEBSOCKET_PATH, decodeBrokerFrame, encodeFrame } from '../src/protocol/index.js';

export interface ReplayOptions {
  readonly topic: string;
  readonly partitions: number;
  /** The records of one frame; every frame carries the same records. */
  readonly batch: readonly RecordInput[];
  /** Frames sent in all (each with its own request id, round-robin over the partitions). */
  readonly frames: number;
  /** Frames in flight at most. */
  readonly window?: number;
}

async function value<T>(option: T | (() => T | Promise<T>)): Promise<T> {
  return typeof option === 'function' ? await (option as () => T | Promise<T>)() : option;
}

/** Sends the frames and resolves with the records acknowledged per second; rejects on any ERROR frame. */
export async function replayProduce(connection: ConnectionOptions, options: ReplayOptions): Promise<number> {
  const { topic, partitions, batch, frames: total } = options;
  const window = options.window ?? 32;
  const records = encodeRecords(batch);
  const frames = Array.from({ length: total }, (_, index) =>
    encodeFrame({ type: 'PRODUCE', requestId: index + 1, topic, partition: index % partitions, producer: null, records }),
  );
  const ws = new WebSocket(connection.url.replace(/^https:/, 'wss:') + WEBSOCKET_PATH, [SUBPROTOCOL], {
    ca: await value(connection.ca!),
    cert: await value(connection.cert!),
    key: await value(connection.key!),
    headers: { authorization: `Bearer ${await value(connection.token!)}` },
    perMessageDeflate: false,
    // As the SDK (src/client/websocket-transport.ts): a zero mask over TLS, sent without the XOR pass.
    generateMask: (mask: Buffer) => mask.fill(0),
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  try {
    return await new Promise<number>((resolve, reject) => {
      let sent = 0;
      let acked = 0;
      const started = performance.now();
      const fill = (): void => {
        while (sent < total && sent - acked < window) ws.send(frames[sent++]!);
      };
      ws.on('message', (data: Buffer) => {
        const frame = decodeBrokerFrame(data);
        if (frame.type === 'ERROR') return reject(new Error(`the broker refused a frame: ${frame.code}: ${frame.message}`));
        if (frame.type !== 'PRODUCE_ACK') return;
        if (++acked === total) return resolve((total * batch.length) / ((performance.now() - started) / 1000));
        fill();
      });
      ws.once('close', (code) => reject(new Error(`the session closed (${code}) after ${acked} of ${total} acks`)));
      fill();
    });
  } finally {
    ws.removeAllListeners('close');
    ws.close();
  }
}
