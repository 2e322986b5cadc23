import { InvalidArgumentError, type Command } from 'commander';
import type { GroupDescription, GroupResetTarget } from '../../client/index.js';
import { printJson, withAdmin } from '../admin-client.js';
import { withConnectionOptions, type ConnectionFlags } from '../connection.js';
import { parseTime } from '../options.js';

/** `earliest`, `latest`, an ISO 8601 time, or milliseconds since the epoch. */
export function parseResetTarget(value: string): GroupResetTarget {
  if (value === 'earliest' || value === 'latest') return value;
  try {
    return { timestamp: parseTime(value) };
  } catch {
    throw new InvalidArgumentError('expected earliest, latest, an ISO 8601 time (2026-11-21T09:00:00Z) or milliseconds since the epoch');
  }
}

function table(description: GroupDescription): string {
  const lines = [`group ${description.group}  state=${description.state}  generation=${description.generation}  strategy=${description.strategy ?? '-'}`];
  lines.push('', 'MEMBER\tPRINCIPAL\tADDRESS\tPARTITIONS');
  for (const m of description.members) {
    const parts = m.assigned.map((p) => `${p.topic}/${p.partition}`).join(',') || '-';
    lines.push(`${m.memberId}\t${m.principal}\t${m.clientAddress ?? '-'}\t${parts}`);
  }
  lines.push('', 'TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tOWNER');
  for (const p of description.partitions) {
    lines.push(`${p.topic}\t${p.partition}\t${p.committedOffset ?? '-'}\t${p.highWatermark ?? '-'}\t${p.lag ?? '-'}\t${p.owner ?? '-'}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `sealbus groups list|describe|reset|delete`. */
export function register(program: Command): void {
  const groups = program.command('groups').description('list, describe, reset and delete consumer groups');

  withConnectionOptions(groups.command('list').description('the consumer groups you may describe').option('--json', 'JSON output')).action(
    async (options: ConnectionFlags & { json?: boolean }) => {
      const list = await withAdmin(options, (admin) => admin.listGroups());
      if (options.json === true) return printJson(list);
      for (const g of list) process.stdout.write(`${g.group}\tstate=${g.state}\tmembers=${g.members}\tgeneration=${g.generation}\n`);
    },
  );

  withConnectionOptions(
    groups.command('describe <group>').description('members, assignment, committed offset and lag per partition').option('--json', 'JSON output'),
  ).action(async (group: string, options: ConnectionFlags & { json?: boolean }) => {
    const description = await withAdmin(options, (admin) => admin.describeGroup(group));
    if (options.json === true) return printJson(description);
    process.stdout.write(table(description));
  });

  withConnectionOptions(
    groups
      .command('reset <group>')
      .description('move an inactive group\'s committed offsets')
      .requiredOption('--to <position>', 'earliest, latest, or a time (ISO 8601 or ms since the epoch)', parseResetTarget)
      .option('--topic <topic...>', 'only these topics (default: every topic the group committed)'),
  ).action(async (group: string, options: ConnectionFlags & { to: GroupResetTarget; topic?: string[] }) => {
    const offsets = await withAdmin(options, (admin) => admin.resetGroup(group, options.to, options.topic));
    for (const o of offsets) process.stdout.write(`${o.topic}\t${o.partition}\t${o.offset}\n`);
  });

  withConnectionOptions(groups.command('delete <group>').description('delete an inactive group\'s committed offsets')).action(
    async (group: string, options: ConnectionFlags) => {
      await withAdmin(options, (admin) => admin.deleteGroup(group));
      process.stdout.write(`deleted ${group}\n`);
    },
  );
}
