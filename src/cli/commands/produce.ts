import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { Producer, type RecordMetadata } from '../../client/index.js';
import { connectionFrom, withConnectionOptions, type ConnectionFlags } from '../connection.js';
import { readKeyFile } from '../../payload/index.js';
import { parseCount } from '../options.js';

/**
 * `sealbus produce TOPIC`: one record per line of standard input. Lines are batched by the SDK;
 * results print in input order once each record is durable.
 */
export function register(program: Command): void {
  withConnectionOptions(
    program
      .command('produce <topic>')
      .description('produce one record per stdin line')
      .option('--key <key>', 'record key (records with one key share a partition)')
      .option('--partition <p>', 'partition, instead of choosing by key', parseCount)
      .option('--json', 'print {topic, partition, offset} per record')
      .option('--keys <file>', 'your end-to-end key file (sealbus keys generate): seal and sign for topics that require encryption'),
  ).action(async (topic: string, options: ConnectionFlags & { key?: string; partition?: number; json?: boolean; keys?: string }) => {
    const keys = options.keys === undefined ? undefined : await readKeyFile(options.keys);
    const producer = new Producer({ connection: connectionFrom(options), ...(keys !== undefined && { encryption: { keys } }) });
    const pending: Promise<RecordMetadata>[] = [];
    try {
      const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of lines) {
        pending.push(
          producer.send({
            topic,
            value: line,
            ...(options.key !== undefined && { key: options.key }),
            ...(options.partition !== undefined && { partition: options.partition }),
          }),
        );
      }
      const results = await Promise.allSettled(pending);
      let failed = 0;
      for (const result of results) {
        if (result.status === 'rejected') {
          failed++;
          const err = result.reason as { code?: string; message?: string };
          process.stderr.write(`sealbus: ${err.code ?? 'error'}: ${err.message ?? String(err)}\n`);
          continue;
        }
        const { partition, offset } = result.value;
        process.stdout.write(options.json === true ? `${JSON.stringify({ topic, partition, offset })}\n` : `${partition}:${offset}\n`);
      }
      if (failed > 0) process.exitCode = 1;
    } finally {
      await producer.close();
    }
  });
}
