import type { Command } from 'commander';
import type { TopicDescription } from '../../client/index.js';
import { printJson, withAdmin } from '../admin-client.js';
import { withConnectionOptions, type ConnectionFlags } from '../connection.js';
import { InvalidArgumentError } from 'commander';
import { topicEncryption } from '../../broker/topic-encryption.js';
import { parseCount, parseList } from '../options.js';

function parseEncryption(value: string): 'none' | 'required' {
  if (value !== 'none' && value !== 'required') throw new InvalidArgumentError('must be "none" or "required"');
  return value;
}


function summary(topic: TopicDescription): string {
  const records = topic.partitions.reduce((sum, p) => sum + (p.highWatermark - p.logStartOffset), 0);
  const encrypted = topicEncryption(topic.config).mode === 'required' ? '\tencryption=required' : '';
  return `${topic.name}\tpartitions=${topic.partitions.length}\trecords=${records}${encrypted}`;
}

/** `sealbus topics create|list|describe|delete`. */
export function register(program: Command): void {
  const topics = program.command('topics').description('create, list, describe and delete topics');

  withConnectionOptions(
    topics
      .command('create <name>')
      .description('create a topic')
      .option('--partitions <n>', 'partition count', parseCount)
      .option('--retention-ms <ms>', 'delete sealed segments older than this', parseCount)
      .option('--retention-bytes <bytes>', 'keep at most this many bytes per partition', parseCount)
      .option('--max-record-bytes <bytes>', 'largest record accepted', parseCount)
      .option('--segment-bytes <bytes>', 'segment size', parseCount)
      .option('--encryption <mode>', 'required: accept only end-to-end encrypted, signed batches (docs/envelope.md)', parseEncryption)
      .option('--recipients <principals>', 'with --encryption required: the principals batches are sealed for (default: whoever may consume)', parseList),
  ).action(
    async (
      name: string,
      options: ConnectionFlags & {
        partitions?: number;
        retentionMs?: number;
        retentionBytes?: number;
        maxRecordBytes?: number;
        segmentBytes?: number;
        encryption?: 'none' | 'required';
        recipients?: string[];
      },
    ) => {
      const created = await withAdmin(options, (admin) =>
        admin.createTopic({
          name,
          ...(options.partitions !== undefined && { partitions: options.partitions }),
          ...(options.retentionMs !== undefined && { retentionMs: options.retentionMs }),
          ...(options.retentionBytes !== undefined && { retentionBytes: options.retentionBytes }),
          ...(options.maxRecordBytes !== undefined && { maxRecordBytes: options.maxRecordBytes }),
          ...(options.segmentBytes !== undefined && { segmentBytes: options.segmentBytes }),
          ...(options.encryption !== undefined && { encryption: options.encryption }),
          ...(options.recipients !== undefined && { recipients: options.recipients }),
        }),
      );
      process.stdout.write(`created ${summary(created)}\n`);
    },
  );

  withConnectionOptions(topics.command('list').description('list the topics you may describe').option('--json', 'JSON output')).action(
    async (options: ConnectionFlags & { json?: boolean }) => {
      const list = await withAdmin(options, (admin) => admin.listTopics());
      if (options.json === true) return printJson(list);
      for (const topic of list) process.stdout.write(`${summary(topic)}\n`);
    },
  );

  withConnectionOptions(topics.command('describe <name>').description('settings and per-partition offsets')).action(
    async (name: string, options: ConnectionFlags) => {
      printJson(await withAdmin(options, (admin) => admin.describeTopic(name)));
    },
  );

  withConnectionOptions(topics.command('delete <name>').description('delete a topic and its data')).action(
    async (name: string, options: ConnectionFlags) => {
      await withAdmin(options, (admin) => admin.deleteTopic(name));
      process.stdout.write(`deleted ${name}\n`);
    },
  );
}
