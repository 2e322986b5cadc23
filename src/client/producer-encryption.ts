/**
 * The producer's side of end-to-end encryption: for topics that require it, each batch is sealed
 * and signed (src/payload) with the client's keys to the topic's current recipients, which the
 * broker tells (`GET /v1/topics/{topic}/recipients`, cached per topic). When the broker refuses a
 * batch as sealed for stale recipients, the cache is dropped and the batch sealed anew before its
 * retry. Plaintext topics are left alone.
 */
import type { RecordInput } from '../log/record-batch.js';
import { sealRecords, type ClientKeys, type Recipient } from '../payload/index.js';
import type { TopicRecipients } from './admin-keys.js';

/** What a producer needs to encrypt: the client's key pairs (see `readKeyFile`). */
export interface ProducerEncryptionOptions {
  readonly keys: ClientKeys;
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

  constructor(options: ProducerEncryptionOptions, fetch: (topic: string) => Promise<TopicRecipients>) {
    this.#keys = options.keys;
    this.#fetch = fetch;
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

  /** The records to send for a batch of `topic`: sealed when the topic requires it. Throws SEALBUS_ERR_ENVELOPE_INVALID (e.g. no recipient). */
  seal(topic: string, records: readonly RecordInput[]): readonly RecordInput[] {
    const sealing = this.#topics.get(topic);
    if (sealing === undefined || !sealing.required) return records;
    return sealRecords(records, { topic, recipients: sealing.recipients, keys: this.#keys });
  }

  /**
   * The recipients changed (the broker said so): fetch them again. Until the answer arrives the old
   * ones stay in use, so a batch is never sent as plaintext in between.
   */
  refresh(topic: string): Promise<void> {
    return this.#load(topic);
  }
}
