/**
 * `store.writeAheadLog`: a broker on the file store makes a produce durable through the store's
 * write-ahead log by default (one fdatasync of `wal/*.wal`, no segment fdatasync before the ack),
 * and with `false` through an fdatasync of the segments themselves, with no WAL folder at all.
 * Either way the records are there after a restart.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configFromObject } from '../../src/config/index.js';
import { FaultyFileSystem } from '../log/helpers/faulty-fs.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

describe('store.writeAheadLog', () => {
  let t: TestBroker | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function produceAndCount(writeAheadLog: boolean | undefined): Promise<{ wal: number; segments: number; walDir: boolean }> {
    const fileSystem = new FaultyFileSystem();
    t = await startTestBroker({
      fileSystem: fileSystem.fs,
      configure: (config) =>
        writeAheadLog === undefined ? config : ({ ...config, store: { ...config.store, writeAheadLog } } as typeof config),
    });
    expect((await t.request('POST', '/v1/topics', { body: { name: 'wal.orders', partitions: 1 } })).status).toBe(201);
    const walBefore = fileSystem.count('fdatasync', '.wal');
    const segmentsBefore = fileSystem.count('fdatasync', '.log');
    const produced = await t.request('POST', '/v1/topics/wal.orders/records', { body: { records: [{ value: { n: 1 } }, { value: { n: 2 } }] } });
    expect(produced.status).toBe(200);
    const counts = {
      wal: fileSystem.count('fdatasync', '.wal') - walBefore,
      segments: fileSystem.count('fdatasync', '.log') - segmentsBefore,
      walDir: existsSync(join(t.env.config.store.dir, 'wal')),
    };
    await t.restart();
    const read = await t.request('GET', '/v1/topics/wal.orders/partitions/0/records?offset=0');
    expect(read.status).toBe(200);
    expect(read.body.records.map((record: { value: unknown }) => record.value)).toEqual([{ n: 1 }, { n: 2 }]);
    return counts;
  }

  it('is on by default: the batch and its audit event are acknowledged after one WAL fdatasync', async () => {
    const counts = await produceAndCount(undefined);
    expect(counts.walDir).toBe(true);
    expect(counts.wal).toBeGreaterThanOrEqual(1);
    expect(counts.segments).toBe(0);
  });

  it('false: the segments are fdatasync’d before the ack, and no WAL is created', async () => {
    const counts = await produceAndCount(false);
    expect(counts.walDir).toBe(false);
    expect(counts.wal).toBe(0);
    // The data partition's and the audit log's.
    expect(counts.segments).toBeGreaterThanOrEqual(2);
  });

  it('is refused with the JetStream store, which has no such log', () => {
    const config = { tls: { cert: 'c', key: 'k', ca: 'a' }, store: { kind: 'jetstream', dir: 'x', servers: ['tls://127.0.0.1:4222'], tls: { ca: 'a' }, writeAheadLog: true } };
    expect(() => configFromObject(config, 'inline')).toThrow(
      'Invalid configuration in inline: store.writeAheadLog is not allowed with the other settings of its section (see docs/configuration.md)',
    );
    expect(() => configFromObject({ ...config, store: { dir: 'x', writeAheadLog: 'yes' } }, 'inline')).toThrow(/store\.writeAheadLog must be boolean/);
  });
});
