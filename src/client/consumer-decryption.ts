/**
 * The consumer's side of end-to-end encryption: a batch that carries an envelope is verified
 * against its producer's signing key (looked up in the broker's key directory and cached), then
 * opened with the client's own encryption keys. Each record then says which principal produced it.
 * A batch that cannot be verified or opened is handled as the application chose: `throw` ends the
 * iteration with the error, `skip` drops the batch, `mark` delivers its records with `undecryptable`
 * set and their values left sealed. The values of a batch are opened in worker threads
 * (crypto-pool.ts); the signature is verified and the content key unwrapped here.
 */
import { SealbusError, isSealbusError } from '../errors/index.js';
import type { LogRecord } from '../log/record-batch.js';
import { prepareOpen, type PreparedOpen } from '../payload/envelope-stages.js';
import { readEnvelope, type ClientKeys } from '../payload/index.js';
import type { ClientKeyInfo } from './admin-keys.js';
import { CryptoPool, cryptoThreadsOption, openValuesWith } from './crypto-pool.js';

export type UndecryptablePolicy = 'throw' | 'skip' | 'mark';

export interface ConsumerDecryptionOptions {
  /** The client's key pairs: the current encryption key and the previous ones (see `readKeyFile`). */
  readonly keys: Pick<ClientKeys, 'encryption' | 'previousEncryption'>;
  /** What to do with a batch that does not verify or open (default `throw`). */
  readonly onUndecryptable?: UndecryptablePolicy;
  /**
   * Worker threads that open the values of batches: default min(2, cores) (a consumer's main thread
   * mostly waits); 0 opens on the main thread. Batches under 16 KiB stay on the main thread.
   */
  readonly threads?: number;
}

/** Who produced a record, as its verified signature proves. */
export interface VerifiedProducer {
  readonly principal: string;
  readonly keyId: string;
}

export interface OpenedRecords {
  readonly records: readonly LogRecord[];
  /** null for a plaintext batch. */
  readonly producer: VerifiedProducer | null;
  /** Set when the batch did not verify or open (policy `mark` or `skip`). */
  readonly error: SealbusError | null;
}

const MAX_CACHED_SIGNERS = 10_000;

export class ConsumerDecryption {
  readonly #keys: Pick<ClientKeys, 'encryption' | 'previousEncryption'>;
  readonly policy: UndecryptablePolicy;
  readonly #lookup: (keyId: string) => Promise<ClientKeyInfo>;
  /** Signing keys by id: a key id names one public key forever, so entries never go stale (status aside). */
  readonly #signers = new Map<string, Promise<ClientKeyInfo | null>>();
  readonly #pool: CryptoPool | null;

  /** Throws SEALBUS_ERR_CONFIG_INVALID for a bad `threads`. `pool` replaces the one `threads` asks for (tests). */
  constructor(options: ConsumerDecryptionOptions, lookup: (keyId: string) => Promise<ClientKeyInfo>, pool?: CryptoPool | null) {
    const threads = cryptoThreadsOption(options.threads, 'consumer options', 'decryption.threads', 'open');
    this.#pool = pool !== undefined ? pool : threads === 0 ? null : new CryptoPool(threads);
    this.#keys = options.keys;
    this.policy = options.onUndecryptable ?? 'throw';
    this.#lookup = lookup;
  }

  /**
   * Verifies and opens one stored batch of `topic`. Plaintext batches come back unchanged.
   * Failures of the batch are returned (not thrown) so the caller applies the policy; failures that
   * are not the batch's are thrown: a lookup failing for another reason (the broker unreachable), a
   * worker thread dying (SEALBUS_ERR_CRYPTO_WORKER_FAILED).
   */
  async open(topic: string, records: readonly LogRecord[]): Promise<OpenedRecords> {
    let signerKeyId: string;
    try {
      const header = readEnvelope(records);
      if (header === null) return { records, producer: null, error: null };
      signerKeyId = header.signerKeyId;
    } catch (err) {
      if (isSealbusError(err)) return { records, producer: null, error: err };
      throw err;
    }
    const signer = await this.#signer(signerKeyId);
    let prepared: PreparedOpen<LogRecord>;
    try {
      if (signer === null) throw new SealbusError('SEALBUS_ERR_ENVELOPE_UNKNOWN_SIGNER', { keyId: signerKeyId });
      // A revoked signing key may have been used by whoever stole it, at any time: nothing it signed is proof.
      if (signer.status === 'revoked') throw new SealbusError('SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID', { reason: `signing key ${signerKeyId} was revoked` });
      const publicKey = new Uint8Array(Buffer.from(signer.publicKey, 'base64url'));
      prepared = prepareOpen(records, { topic, keys: this.#keys, signingKey: (keyId) => (keyId === signerKeyId ? publicKey : null) });
    } catch (err) {
      if (isSealbusError(err)) return { records, producer: null, error: err };
      throw err;
    }
    const opened = await openValuesWith(this.#pool, prepared.job);
    try {
      return { records: prepared.finish(opened.bytes, opened.failed).records, producer: { principal: signer.principal, keyId: signerKeyId }, error: null };
    } catch (err) {
      if (isSealbusError(err)) return { records, producer: null, error: err };
      throw err;
    }
  }

  /** Ends the worker threads. */
  close(): Promise<void> {
    return this.#pool?.close() ?? Promise.resolve();
  }

  #signer(keyId: string): Promise<ClientKeyInfo | null> {
    let found = this.#signers.get(keyId);
    if (found === undefined) {
      if (this.#signers.size >= MAX_CACHED_SIGNERS) this.#signers.clear();
      found = this.#lookup(keyId).then(
        (key) => (key.kind === 'signing' ? key : null),
        (err: unknown) => {
          if (isSealbusError(err, 'SEALBUS_ERR_KEY_NOT_FOUND')) return null;
          this.#signers.delete(keyId); // not an answer: ask again next time
          throw err;
        },
      );
      this.#signers.set(keyId, found);
    }
    return found;
  }
}
