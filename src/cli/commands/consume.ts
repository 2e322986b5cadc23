import { type Command, InvalidArgumentError } from 'commander';
import { SealbusError } from '../../errors/index.js';
import { Admin, Consumer, type ConnectionOptions, type ConsumedRecord, type StartAt } from '../../client/index.js';
import { connectionFrom, withConnectionOptions, type ConnectionFlags } from '../connection.js';
import type { UndecryptablePolicy } from '../../client/consumer-decryption.js';
import { readKeyFile } from '../../payload/index.js';
import { parseCount } from '../options.js';

function parseUndecryptable(value: string): UndecryptablePolicy {
  if (value === 'fail') return 'throw';
  if (value === 'skip' || value === 'mark') return value;
  throw new InvalidArgumentError('must be fail, skip or mark');
}

function text(bytes: Buffer | null): { text: string | null } | { base64: string } {
  if (bytes === null) return { text: null };
  const decoded = bytes.toString('utf8');
  return Buffer.from(decoded, 'utf8').equals(bytes) ? { text: decoded } : { base64: bytes.toString('base64') };
}

/** One JSON line per record; binary keys and values (not valid UTF-8) come as `keyBase64` / `valueBase64`. */
export function recordLine(record: ConsumedRecord): string {
  const key = text(record.key);
  const value = text(record.value);
  // fromEntries defines own properties: a header named __proto__ stays a header.
  const headers = Object.fromEntries(record.headers.map((header) => [header.name, header.value === null ? null : header.value.toString('utf8')]));
  return JSON.stringify({
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    ...('text' in key ? { key: key.text } : { keyBase64: key.base64 }),
    ...('text' in value ? { value: value.text } : { valueBase64: value.base64 }),
    headers,
    ...(record.producer !== undefined && { producer: record.producer.principal, producerKeyId: record.producer.keyId }),
    ...(record.undecryptable !== undefined && { undecryptable: record.undecryptable.code }),
  });
}

async function partitionsOf(connection: ConnectionOptions, topic: string): Promise<number[]> {
  const admin = new Admin({ connection });
  try {
    const description = await admin.describeTopic(topic);
    return description.partitions.map((p) => p.partition);
  } finally {
    admin.close();
  }
}

/** `sealbus consume TOPIC`: prints records of one or all partitions until --max or Ctrl-C. */
export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('consume <topic>')
      .description('print records as they arrive')
      .option('--partition <p>', 'only this partition (default: all)', parseCount)
      .option('--from-beginning', 'start at the earliest offset (default: only new records)')
      .option('--offset <n>', 'start at this offset (with --partition)', parseCount)
      .option('--max <n>', 'stop after this many records', parseCount)
      .option('--group <group>', 'join this consumer group: the broker assigns partitions, offsets are committed as records are printed')
      .option('--json', 'one JSON object per line: topic, partition, offset, key, value (and the verified producer of encrypted records)')
      .option('--keys <file>', 'your end-to-end key file (sealbus keys generate): verify and open encrypted records')
      .option('--undecryptable <policy>', 'with --keys, a batch that does not verify or open: fail (default), skip, or mark (printed sealed, with --json)', parseUndecryptable),
  ).action(
    async (
      topic: string,
      options: ConnectionFlags & {
        partition?: number;
        fromBeginning?: boolean;
        offset?: number;
        max?: number;
        json?: boolean;
        group?: string;
        keys?: string;
        undecryptable?: UndecryptablePolicy;
      },
    ) => {
      const connection = connectionFrom(options);
      const keys = options.keys === undefined ? undefined : await readKeyFile(options.keys);
      const decryption = keys === undefined ? {} : { decryption: { keys, onUndecryptable: options.undecryptable ?? 'throw' } };
      let consumer: Consumer;
      if (options.group !== undefined) {
        if (options.partition !== undefined || options.offset !== undefined) {
          throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', {
            reason: '--group assigns partitions and starts at the committed offsets: drop --partition and --offset',
          });
        }
        // A partition the group never committed starts at the beginning with --from-beginning.
        consumer = new Consumer({ connection, ...decryption, group: options.group, resetTo: options.fromBeginning === true ? 'earliest' : 'latest', autoCommitIntervalMs: 1_000 });
        consumer.subscribe([topic]);
      } else {
        const start: StartAt = options.offset !== undefined ? { offset: options.offset } : options.fromBeginning === true ? 'earliest' : 'latest';
        const partitions = options.partition !== undefined ? [options.partition] : await partitionsOf(connection, topic);
        consumer = new Consumer({ connection, ...decryption });
        consumer.assign(partitions.map((partition) => ({ topic, partition, start })));
      }
      const stop = (): void => void consumer.close();
      process.once('SIGINT', stop);
      let seen = 0;
      try {
        if (options.max === 0) return;
        for await (const record of consumer) {
          process.stdout.write(options.json === true ? `${recordLine(record)}\n` : `${record.value?.toString('utf8') ?? ''}\n`);
          if (options.max !== undefined && ++seen >= options.max) {
            // Printed is processed: commit it before leaving (close commits only what the loop finished).
            if (options.group !== undefined) await consumer.commit();
            break;
          }
        }
        const failure = await consumer.closed();
        if (failure !== null) throw failure;
      } finally {
        process.off('SIGINT', stop);
        await consumer.close();
      }
    },
  );
}
