import { encodeRecords } from '../log/record-batch.js';
import type { LogStore } from '../log/types.js';
import { InternalTopic, SkipRecord, internalTopicConfig } from '../log/internal-topic.js';
import { KEYS_TOPIC, KEY_RECORD_MAX_BYTES, decodeKeyEntry, encodeKeyEntry, malformedKeyRecord, type KeyDirectoryEntry } from './key-directory-entry.js';

const READ_MAX_BYTES = 256 * 1024;

export interface KeyDirectoryLogOptions {
  readonly store: LogStore;
  /** Applies one valid entry, in log order. Must not throw for an entry it refuses: it reports. */
  readonly apply: (entry: KeyDirectoryEntry, offset: number) => void;
  /** Malformed records (skipped), read failures (retried). Never fatal. */
  readonly report: (err: unknown) => void;
}

/**
 * The key directory's topic `__sealbus.keys` (one partition, fsync always, kept forever): replayed
 * on open, then followed so that every broker sharing the store applies every entry, in the same
 * (log) order. Appends are applied through the same path: `append` resolves once the entry, and
 * everything before it, has been applied here.
 *
 * Close this before the store.
 */
export class KeyDirectoryLog {
  readonly #topic: InternalTopic;
  readonly #report: (err: unknown) => void;

  constructor(options: KeyDirectoryLogOptions) {
    this.#report = options.report;
    this.#topic = new InternalTopic({
      store: options.store,
      topic: KEYS_TOPIC,
      // No retention: a key must outlive every record it signed.
      config: internalTopicConfig({ segmentBytes: 1024 * 1024, maxRecordBytes: 2 * KEY_RECORD_MAX_BYTES, maxBatchBytes: READ_MAX_BYTES }),
      readMaxBytes: READ_MAX_BYTES,
      report: options.report,
      apply: (record) => {
        let entry: KeyDirectoryEntry;
        try {
          entry = decodeKeyEntry(record.value);
        } catch (err) {
          throw new SkipRecord(malformedKeyRecord(record.offset, err));
        }
        try {
          options.apply(entry, record.offset);
        } catch (err) {
          this.#report(err);
        }
      },
    });
  }

  get isOpen(): boolean {
    return this.#topic.isOpen;
  }

  /** Creates the topic if missing, replays it, then starts the tail. Fails (fail closed) when the store cannot be read. */
  async open(): Promise<void> {
    await this.#topic.open();
    this.#topic.follow();
  }

  /** Appends one entry (the record key names the principal) and resolves once it has been applied here. */
  async append(entry: KeyDirectoryEntry): Promise<void> {
    await this.#topic.append(encodeRecords([{ key: Buffer.from(entry.principal, 'utf8'), value: encodeKeyEntry(entry) }]));
  }

  /** Applies every record up to the high watermark; concurrent calls run one after the other. */
  sync(): Promise<void> {
    return this.#topic.sync();
  }

  /** Stops the tail; what was applied stays applied. */
  close(): void {
    this.#topic.close();
  }
}
