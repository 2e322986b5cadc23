/**
 * The producer's side of end-to-end encryption: for topics that require it, each batch is sealed
 * and signed (src/payload) with the client's keys to the topic's current recipients, which the
 * broker tells (`GET /v1/topics/{topic}/recipients`, cached per topic). When the broker refuses a
 * batch as sealed for stale recipients, the cache is dropped and the batch sealed anew before its
 * retry. Plaintext topics are left alone. The values of a batch are sealed in worker threads
 * (crypto-pool.ts) while the main thread sends; the content key is wrapped and the batch signed here.
 */
import { encodeRecords, type RecordInput } from '../log/record-batch.js';
import type { EncodedRecords } from '../log/types.js';
import { prepareSeal } from '../payload/envelope-stages.js';
import type { ClientKeys, Recipient } from '../payload/index.js';
import type { TopicRecipients } from './admin-keys.js';
import { CryptoPool, cryptoThreadsOption, sealValuesWith } from './crypto-pool.js';

/** What a producer needs to encrypt: the client's key pairs (see `readKeyFile`). */
export interface ProducerEncryptionOptions {
  readonly keys: ClientKeys;
  /**
   * Worker threads that seal the values of batches: default min(2, cores - 1), leaving a core to
   * the main thread; 0 seals on the main thread. Batches under 16 KiB stay on the main thread.
   */
  readonly threads?: number;
}

interface TopicSealing {
  readonly required: boolean;
  readonly recipients: readonly Recipient[];
}

export class ProducerEncryption {
  readonly #keys: ClientKeys;
  readonly #fetch: (topic: string) => Promise<TopicRecipients>;
  readonly #topics = new Map<string, TopicSealing>();
  readonly #pending = new Map<string, Promise<void>>();
  readonly #pool: CryptoPool | null;

  /** Throws SEALBUS_ERR_CONFIG_INVALID for a bad `threads`. `pool` replaces the one `threads` asks for (tests). */
  constructor(options: ProducerEncryptionOptions, fetch: (topic: string) => Promise<TopicRecipients>, pool?: CryptoPool | null) {
    const threads = cryptoThreadsOption(options.threads, 'producer options', 'encryption.threads', 'seal');
    this.#keys = options.keys;
    this.#fetch = fetch;
    this.#pool = pool !== undefined ? pool : threads === 0 ? null : new CryptoPool(threads);
  }

  /** Whether `topic` requires encryption (false until prepared). */
  requires(topic: string): boolean {
    return this.#topics.get(topic)?.required ?? false;
  }

  /** Learns whether `topic` requires encryption, and its recipients (once; concurrent calls share it). */
  prepare(topic: string): Promise<void> {
    if (this.#topics.has(topic)) return Promise.resolve();
    return this.#load(topic);
  }

  #load(topic: string): Promise<void> {
    let pending = this.#pending.get(topic);
    if (pending === undefined) {
      pending = this.#fetch(topic)
        .then((found) => {
          const recipients = found.recipients.map((recipient) => ({ keyId: recipient.keyId, publicKey: new Uint8Array(Buffer.from(recipient.publicKey, 'base64url')) }));
          this.#topics.set(topic, { required: found.encryption === 'required', recipients });
        })
        .finally(() => this.#pending.delete(topic));
      this.#pending.set(topic, pending);
    }
    return pending;
  }

  /**
   * The bytes to send for a batch of `topic`: sealed and signed when the topic requires it (a promise
   * when a worker seals the values), else just encoded. Throws SEALBUS_ERR_ENVELOPE_INVALID (e.g. no
   * recipient); the promise rejects with SEALBUS_ERR_CRYPTO_WORKER_FAILED when a worker dies.
   */
  encode(topic: string, records: readonly RecordInput[]): EncodedRecords | Promise<EncodedRecords> {
    const sealing = this.#topics.get(topic);
    if (sealing === undefined || !sealing.required) return encodeRecords(records);
    const prepared = prepareSeal(records, { topic, recipients: sealing.recipients, keys: this.#keys });
    const sealed = sealValuesWith(this.#pool, prepared.job);
    return sealed instanceof Promise ? sealed.then((bytes) => prepared.finish(bytes)) : prepared.finish(sealed);
  }

  /**
   * The recipients changed (the broker said so): fetch them again. Until the answer arrives the old
   * ones stay in use, so a batch is never sent as plaintext in between.
   */
  refresh(topic: string): Promise<void> {
    return this.#load(topic);
  }

  /** Ends the worker threads. */
  close(): Promise<void> {
    return this.#pool?.close() ?? Promise.resolve();
  }
}
