import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Consumer, Producer } from '../../src/client/index.js';
import { ConsumerDecryption } from '../../src/client/consumer-decryption.js';
import { CryptoPool, MIN_POOL_BYTES, openValuesWith, sealValuesWith } from '../../src/client/crypto-pool.js';
import { ProducerEncryption } from '../../src/client/producer-encryption.js';
import { isSealbusError } from '../../src/errors/index.js';
import { decodeRecordSection, decodeRecords, encodeBatch, encodeRecords, type RecordInput } from '../../src/log/record-batch.js';
import { sealRecordsWith, type RandomSource } from '../../src/payload/envelope.js';
import { prepareOpen, prepareSeal, sealValues } from '../../src/payload/envelope-stages.js';
import { generateClientKeys, keyIdOf, openRecords, sealRecords } from '../../src/payload/index.js';
import { directoryOf, recipientOf } from '../payload/helpers.js';
import { parseVectors, vectorInputs } from '../payload/vectors.js';

const pools: CryptoPool[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

function pool(threads = 2, workerUrl?: URL): CryptoPool {
  const created = new CryptoPool(threads, workerUrl);
  pools.push(created);
  return created;
}


/** Deterministic randomness: SHA-256 of a counter, so that two seals of the same input draw the same bytes. */
function seededRandom(seed: string): RandomSource {
  let counter = 0;
  return (length) => {
    const out = new Uint8Array(length);
    for (let at = 0; at < length; at += 32) out.set(createHash('sha256').update(`${seed}:${counter++}`).digest().subarray(0, Math.min(32, length - at)), at);
    return out;
  };
}

/** A batch well over MIN_POOL_BYTES with every shape of record: keys or not, null and empty values, headers. */
function largeBatch(): RecordInput[] {
  return Array.from({ length: 120 }, (_, index): RecordInput => {
    const value = index % 11 === 0 ? null : index % 13 === 0 ? Buffer.alloc(0) : Buffer.alloc(600 + index, index);
    const key = index % 3 === 0 ? null : Buffer.from(`order-${index}`);
    return index % 2 === 0 ? { key, value, headers: [{ name: 'trace', value: Buffer.from(`t${index}`) }, { name: 'none', value: null }] } : { key, value };
  });
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (isSealbusError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  return { code: 'resolved', message: '' };
}

const producerKeys = generateClientKeys();
const readerKeys = generateClientKeys();
const sealOptions = { topic: 'orders', recipients: [recipientOf(producerKeys), recipientOf(readerKeys)], keys: producerKeys };
const openOptions = { topic: 'orders', keys: readerKeys, signingKey: directoryOf(producerKeys) };

describe('CryptoPool sealing', () => {
  it('seals the documented test vectors in a worker byte for byte (docs/envelope.md)', async () => {
    const documented = new Map(parseVectors(readFileSync(new URL('../../docs/envelope.md', import.meta.url), 'utf8')));
    const { records, options, random } = vectorInputs();
    const prepared = prepareSeal(records, options, random);
    const result = await pool().run('seal', prepared.job);
    const section = prepared.finish(result.bytes);
    const sealed = decodeRecordSection(section);
    expect(sealed[0]!.headers[0]!.value!.toString('hex')).toBe(documented.get('sealed.envelopeHeader'));
    expect(sealed[0]!.value!.toString('hex')).toBe(documented.get('sealed.record.0.value'));
    expect(sealed[1]!.value!.toString('hex')).toBe(documented.get('sealed.record.1.value'));
    expect(section.bytes).toEqual(encodeRecords(sealRecordsWith(records, options, random)).bytes);
  });

  it('gives exactly the bytes of sealRecords in a worker and in this thread, and zeroes the content key it was handed', async () => {
    const records = largeBatch();
    const expected = encodeRecords(sealRecordsWith(records, sealOptions, seededRandom('a'))).bytes;
    const sealing = pool();
    const inWorker = prepareSeal(records, sealOptions, seededRandom('a'));
    const pending = sealValuesWith(sealing, inWorker.job);
    expect(pending).toBeInstanceOf(Promise); // large enough for a worker
    expect(inWorker.job.contentKey.every((byte) => byte === 0)).toBe(true);
    expect(inWorker.finish(await pending).bytes).toEqual(expected);
    const inThread = prepareSeal(records, sealOptions, seededRandom('a'));
    expect(inThread.finish(sealValues(inThread.job)).bytes).toEqual(expected);
    expect(inThread.job.contentKey.every((byte) => byte === 0)).toBe(true);
  });

  it('keeps small batches in this thread', () => {
    const prepared = prepareSeal([{ value: Buffer.from('small') }], sealOptions);
    expect(prepared.job.bytes.length).toBeLessThan(MIN_POOL_BYTES);
    expect(sealValuesWith(pool(), prepared.job)).toBeInstanceOf(Buffer);
  });
});

describe('CryptoPool opening', () => {
  it('opens in a worker what sealRecords sealed, as openRecords does; openRecords opens what a worker sealed', async () => {
    const records = largeBatch();
    const stored = decodeRecordSection(encodeRecords(sealRecords(records, sealOptions)));
    const prepared = prepareOpen(stored, openOptions);
    const pending = openValuesWith(pool(), prepared.job);
    expect(pending).toBeInstanceOf(Promise);
    const result = await pending;
    const opened = prepared.finish(result.bytes, result.failed);
    expect(opened.records).toEqual(openRecords(stored, openOptions).records);
    expect(opened.records.map((record) => record.value)).toEqual(records.map((record) => record.value));

    const sealing = prepareSeal(records, sealOptions);
    const fromWorker = decodeRecordSection(sealing.finish((await pool().run('seal', sealing.job)).bytes));
    expect(openRecords(fromWorker, openOptions).records.map((record) => record.value)).toEqual(records.map((record) => record.value));
  });

  it('fails a batch whose value does not authenticate in the worker with DECRYPT_FAILED, naming the record', async () => {
    const stored = decodeRecordSection(encodeRecords(sealRecords(largeBatch(), sealOptions)));
    const prepared = prepareOpen(stored, openOptions); // the signature verified: the value is altered after that check
    const flipped = prepared.job.slots[2 * 4]! + 45;
    prepared.job.bytes[flipped] = prepared.job.bytes[flipped]! ^ 1;
    const result = await pool().run('open', prepared.job);
    expect(result.failed).toBe(4);
    let code = 'accepted';
    try {
      prepared.finish(result.bytes, result.failed);
    } catch (err) {
      code = isSealbusError(err) ? `${err.code}: ${err.message}` : String(err);
    }
    // Record 0 has a null value (index % 11), so the fifth value is record 5's.
    expect(code).toBe('SEALBUS_ERR_ENVELOPE_DECRYPT_FAILED: The batch does not decrypt: record 5 value does not decrypt');
  });
});

describe('CryptoPool failures and lifecycle', () => {
  const crashing = new URL('./fixtures/crashing-crypto-worker.js', import.meta.url);

  it('fails the batch of a worker that dies with CRYPTO_WORKER_FAILED, and a new worker takes the next batch', async () => {
    const crashPool = pool(1, crashing);
    const doomed = prepareSeal([{ value: Buffer.from('crash the worker') }], sealOptions);
    const failure = await codeOf(crashPool.run('seal', doomed.job));
    expect(failure.code).toBe('SEALBUS_ERR_CRYPTO_WORKER_FAILED');
    expect(failure.message).toBe('The encryption worker thread failed while sealing a batch: Error: the test worker crashed on purpose');
    const records = largeBatch();
    const next = prepareSeal(records, sealOptions, seededRandom('b'));
    const sealed = next.finish((await crashPool.run('seal', next.job)).bytes);
    expect(sealed.bytes).toEqual(encodeRecords(sealRecordsWith(records, sealOptions, seededRandom('b'))).bytes);
    expect(crashPool.size).toBe(1);
  });

  it('a producer: the batch whose worker dies fails with CRYPTO_WORKER_FAILED, the next one is sealed', async () => {
    const reader = { principal: 'reader', keyId: recipientOf(readerKeys).keyId, publicKey: Buffer.from(readerKeys.encryption.publicKey).toString('base64url') };
    const encryption = new ProducerEncryption({ keys: producerKeys }, async (topic) => ({ topic, encryption: 'required', recipients: [reader], version: 1 }), pool(1, crashing));
    await encryption.prepare('orders');
    const batch = (first: string): RecordInput[] => [{ value: Buffer.from(first) }, ...largeBatch()];
    const failure = await codeOf(Promise.resolve(encryption.encode('orders', batch('crash the worker'))));
    expect(failure.code).toBe('SEALBUS_ERR_CRYPTO_WORKER_FAILED');
    const sealed = await encryption.encode('orders', batch('fine'));
    expect(openRecords(decodeRecordSection(sealed), openOptions).records.map((record) => record.value)).toEqual(batch('fine').map((record) => record.value));
  });

  it('a consumer: the batch whose worker dies fails with CRYPTO_WORKER_FAILED, thrown rather than handed to the undecryptable policy', async () => {
    const lookup = async (keyId: string) => ({ principal: 'producer', kind: 'signing' as const, keyId, publicKey: Buffer.from(producerKeys.signing.publicKey).toString('base64url'), status: 'active' as const, registeredAt: 0 });
    const stored = decodeRecords(encodeBatch({ baseOffset: 0, timestamp: 1 }, encodeRecords(sealRecords(largeBatch(), sealOptions))));
    const crashingDecryption = new ConsumerDecryption({ keys: readerKeys, onUndecryptable: 'mark' }, lookup, pool(1, crashing));
    expect(await codeOf(crashingDecryption.open('orders', stored))).toEqual({
      code: 'SEALBUS_ERR_CRYPTO_WORKER_FAILED',
      message: 'The encryption worker thread failed while opening a batch: Error: the test worker crashed on purpose',
    });
    const opened = await new ConsumerDecryption({ keys: readerKeys, onUndecryptable: 'mark' }, lookup, pool(1)).open('orders', stored);
    expect(opened.error).toBeNull();
    expect(opened.producer).toEqual({ principal: 'producer', keyId: keyIdOf('signing', producerKeys.signing.publicKey) });
    expect(opened.records.map((record) => record.value)).toEqual(largeBatch().map((record) => record.value));
  });

  it('fails every batch with CRYPTO_WORKER_FAILED when the worker cannot start', async () => {
    const missing = pool(1, new URL('./fixtures/no-such-worker.js', import.meta.url));
    const failure = await codeOf(missing.run('seal', prepareSeal(largeBatch(), sealOptions).job));
    expect(failure.code).toBe('SEALBUS_ERR_CRYPTO_WORKER_FAILED');
    expect(failure.message).toMatch(/^The encryption worker thread failed while sealing a batch: .*no-such-worker/);
  });

  it('close terminates the workers, fails the batches they held, and refuses later ones', async () => {
    const closing = pool(2);
    closing.start();
    expect(closing.size).toBe(2);
    const held = codeOf(closing.run('seal', prepareSeal(largeBatch(), sealOptions).job));
    await closing.close();
    expect(closing.size).toBe(0);
    expect((await held).code).toMatch(/^(resolved|SEALBUS_ERR_CRYPTO_WORKER_FAILED)$/); // it may have finished first
    const later = await codeOf(closing.run('open', prepareSeal(largeBatch(), sealOptions).job));
    expect(later).toEqual({ code: 'SEALBUS_ERR_CRYPTO_WORKER_FAILED', message: 'The encryption worker thread failed while opening a batch: the pool is closed' });
  });

  // Also loads the worker the two other ways the code runs: under `node --import tsx`, and through
  // tsx's register() (bin/sealbus.js), where the worker thread itself runs on plain node.
  it.each([
    ['node --import tsx', ['--import', 'tsx']],
    ['tsx register()', ['--input-type=module', '-e', "import { register } from 'tsx/esm/api'; register(); await import(process.env.SCRIPT);"]],
  ])('an idle pool does not keep the process alive (%s)', async (_name, nodeArgs) => {
    const script = fileURLToPath(new URL('./fixtures/idle-pool.ts', import.meta.url));
    const args = nodeArgs[0] === '--import' ? [...nodeArgs, script] : nodeArgs;
    const { stdout } = await promisify(execFile)(process.execPath, args, {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, SCRIPT: script },
      timeout: 20_000,
    });
    expect(stdout.trim()).toBe('sealed in a worker; exiting without close()');
  });
});

describe('the threads option', () => {
  const connection = { url: 'https://127.0.0.1:1', cert: 'unused', key: 'unused', token: 'unused' };

  it.each([-1, 1.5, 65, Number.NaN])('refuses encryption.threads and decryption.threads %s with CONFIG_INVALID', (threads) => {
    const refusal = (create: () => unknown) => {
      try {
        create();
      } catch (err) {
        return isSealbusError(err) ? `${err.code}: ${err.message}` : String(err);
      }
      return 'accepted';
    };
    expect(refusal(() => new Producer({ connection, encryption: { keys: producerKeys, threads } }))).toBe(
      'SEALBUS_ERR_CONFIG_INVALID: Invalid configuration in producer options: encryption.threads must be an integer in [0, 64] (0: no worker threads)',
    );
    expect(refusal(() => new Consumer({ connection, decryption: { keys: readerKeys, threads } }))).toBe(
      'SEALBUS_ERR_CONFIG_INVALID: Invalid configuration in consumer options: decryption.threads must be an integer in [0, 64] (0: no worker threads)',
    );
  });
});
