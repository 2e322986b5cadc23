import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { JetStreamLogStore } from '../../../src/log/jetstream/jetstream-log-store.js';
import type { JetStreamLogStoreOptions } from '../../../src/log/jetstream/store-options.js';
import type { NatsConnectOptions } from '../../../src/log/jetstream/connection.js';

export function newPrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/** Deletes every stream (partitions and KV buckets) a test created under `prefix`. */
export async function removeStreams(url: string, prefix: string): Promise<void> {
  const connection = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(connection);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(`${prefix}_`) || name.startsWith(`KV_${prefix}_`)) names.push(name);
    }
    await Promise.all(names.map((name) => jsm.streams.delete(name)));
  } finally {
    await connection.close();
  }
}

/**
 * Opens stores ("brokers") on one NATS server under one prefix, and closes them and removes their
 * streams in `cleanup`, whatever the test did.
 */
export class Brokers {
  readonly prefix = newPrefix();
  private readonly open: JetStreamLogStore[] = [];

  constructor(private readonly url: string) {}

  async start(options: Partial<JetStreamLogStoreOptions & NatsConnectOptions> = {}): Promise<JetStreamLogStore> {
    const store = new JetStreamLogStore({ servers: [this.url], streamPrefix: this.prefix, retentionCheckMs: 0, ...options });
    this.open.push(store);
    await store.open();
    return store;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.open.splice(0).map((store) => store.close().catch(() => undefined)));
    await removeStreams(this.url, this.prefix);
  }
}
