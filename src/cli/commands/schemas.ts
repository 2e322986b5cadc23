import { createReadStream } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import type { CompatibilityMode, CompatibilityProblem, InvalidRecordAction, JsonSchema, SchemaInfo, SchemaSettings, SchemaSubject, SchemaVersionInfo } from '../../client/index.js';
import { isSealbusError } from '../../errors/index.js';
import { COMPATIBILITY_MODES, SCHEMA_LIMITS, parseJson } from '../../schema/index.js';
import { printJson, withAdmin } from '../admin-client.js';
import { withConnectionOptions, type ConnectionFlags } from '../connection.js';

/**
 * The broker takes at most 256 KiB of compact JSON; a file may be pretty-printed, and indentation
 * of a deeply nested schema can triple its size. Beyond this, the file is refused before it is
 * read whole, so that a wrong path (a log, an image) does not fill the memory.
 */
export const MAX_SCHEMA_FILE_BYTES = 4 * SCHEMA_LIMITS.maxBytes;

type SubjectFlags = ConnectionFlags & { key?: boolean; json?: boolean };

const subjectOf = (flags: { key?: boolean }): SchemaSubject => (flags.key === true ? 'key' : 'value');

class TooLargeError extends Error {}

/** The bytes of `file` (`-`: standard input), refused beyond `limit`. */
async function readBounded(file: string, label: string, limit: number): Promise<Buffer> {
  const input = file === '-' ? process.stdin : createReadStream(file);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of input) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
      size += bytes.length;
      if (size > limit) {
        throw new TooLargeError(`the ${label} is larger than ${limit} bytes; a schema is at most ${SCHEMA_LIMITS.maxBytes} bytes (256 KiB) as compact JSON`);
      }
      chunks.push(bytes);
    }
  } catch (err) {
    if (err instanceof TooLargeError) throw err;
    throw new Error(`cannot read the ${label}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads and parses a JSON Schema file with the project's bounded parser (depth, sizes, integers
 * beyond 2^53): the file is untrusted input like any other document. Throws SEALBUS_ERR_JSON_*
 * naming the file, or an Error when it cannot be read or is no schema at all.
 */
export async function readSchemaFile(file: string): Promise<JsonSchema> {
  const label = file === '-' ? 'schema on standard input' : `schema file ${file}`;
  const parsed = parseJson(await readBounded(file, label, MAX_SCHEMA_FILE_BYTES), label, { maxDepth: SCHEMA_LIMITS.maxDepth });
  if (typeof parsed === 'boolean' || (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))) return parsed as JsonSchema;
  const kind = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
  throw new Error(`the ${label} holds ${kind}; a JSON Schema is an object, or true / false`);
}

function parseMode(value: string): CompatibilityMode {
  const mode = COMPATIBILITY_MODES.find((candidate) => candidate === value.toUpperCase());
  if (mode === undefined) throw new InvalidArgumentError(`expected one of ${COMPATIBILITY_MODES.join(', ')}`);
  return mode;
}

function parseOnInvalid(value: string): InvalidRecordAction {
  if (value !== 'reject' && value !== 'dead-letter') throw new InvalidArgumentError('expected "reject" or "dead-letter"');
  return value;
}

function parseVersion(value: string): number | 'latest' {
  if (value === 'latest') return value;
  if (!/^[1-9]\d{0,5}$/.test(value)) throw new InvalidArgumentError('expected a version number (1, 2, ...) or "latest"');
  return Number(value);
}

function parseId(value: string): number {
  const id = Number(value);
  if (!/^[1-9]\d*$/.test(value) || !Number.isSafeInteger(id)) throw new InvalidArgumentError('expected a schema id: a whole number >= 1');
  return id;
}

/** The problems of a compatibility report or of SEALBUS_ERR_SCHEMA_INCOMPATIBLE's details, as sent. */
function problemsOf(details: unknown): CompatibilityProblem[] {
  const problems = typeof details === 'object' && details !== null ? (details as { problems?: unknown }).problems : undefined;
  return Array.isArray(problems) ? problems.filter((problem): problem is CompatibilityProblem => typeof problem === 'object' && problem !== null) : [];
}

export function describeProblem(problem: CompatibilityProblem): string {
  return `version ${problem.version}, ${problem.direction}: ${problem.pointer === '' ? '/' : problem.pointer} ${problem.reason}`;
}

function printSettings(settings: SchemaSettings): void {
  process.stdout.write(`compatibility    ${settings.compatibility}\n`);
  process.stdout.write(`on invalid       ${settings.onInvalid}\n`);
  process.stdout.write(`dead-letter      ${settings.deadLetterTopic ?? '-'}\n`);
}

function printVersions(subject: SchemaSubject, versions: readonly SchemaVersionInfo[]): void {
  if (versions.length === 0) process.stdout.write(`${subject.padEnd(5)}  no schema\n`);
  for (const info of versions) {
    process.stdout.write(`${subject.padEnd(5)}  version ${info.version}  id ${info.id}  registered by ${info.registeredBy} at ${info.registeredAt}\n`);
  }
}

/** `sealbus schemas register|check`: a schema file as the next version, or what it would break. */
function registerWriteVerbs(schemas: Command): void {
  withConnectionOptions(
    schemas
      .command('register')
      .description('register a JSON Schema (draft 2020-12) as the next version of the topic\'s value (or key) schema, checked against its compatibility mode; needs manage-schemas on the topic')
      .argument('<topic>', 'the topic')
      .argument('<file>', 'the JSON Schema file ("-": standard input)')
      .option('--key', 'the key schema instead of the value schema')
      .option('--json', 'print the registered version as JSON'),
  ).action(async (topic: string, file: string, flags: SubjectFlags) => {
    const subject = subjectOf(flags);
    const schema = await readSchemaFile(file);
    let registered: SchemaInfo & { created: boolean };
    try {
      registered = await withAdmin(flags, (admin) => admin.registerSchema(topic, schema, subject));
    } catch (err) {
      if (!isSealbusError(err, 'SEALBUS_ERR_SCHEMA_INCOMPATIBLE')) throw err;
      process.stderr.write(`sealbus: ${err.code}: ${err.message}\nnot registered; what breaks (version, direction: pointer reason):\n`);
      for (const problem of problemsOf(err.details)) process.stderr.write(`  ${describeProblem(problem)}\n`);
      process.exitCode = 1;
      return;
    }
    if (flags.json === true) return printJson(registered);
    process.stdout.write(
      registered.created
        ? `registered version ${registered.version} of the ${subject} schema of ${topic} (id ${registered.id})\n`
        : `unchanged: version ${registered.version} (id ${registered.id}) is already the latest\n`,
    );
  });

  withConnectionOptions(
    schemas
      .command('check')
      .description('dry run of register: would this schema be compatible with the topic\'s versions under its compatibility mode? Writes nothing; exits 0 when compatible, 1 when not; needs manage-schemas on the topic')
      .argument('<topic>', 'the topic')
      .argument('<file>', 'the JSON Schema file ("-": standard input)')
      .option('--key', 'the key schema instead of the value schema')
      .option('--json', 'print the compatibility report as JSON'),
  ).action(async (topic: string, file: string, flags: SubjectFlags) => {
    const subject = subjectOf(flags);
    const schema = await readSchemaFile(file);
    const report = await withAdmin(flags, (admin) => admin.checkSchema(topic, schema, subject));
    if (!report.compatible) process.exitCode = 1;
    if (flags.json === true) return printJson(report);
    if (report.compatible) {
      process.stdout.write(`compatible with the ${subject} schema of ${topic} (mode ${report.mode})\n`);
      return;
    }
    process.stdout.write(`not compatible with the ${subject} schema of ${topic} (mode ${report.mode}); what breaks (version, direction: pointer reason):\n`);
    for (const problem of report.problems) process.stdout.write(`  ${describeProblem(problem)}\n`);
  });
}

/** `sealbus schemas list|show`: what is registered. */
function registerReadVerbs(schemas: Command): void {
  withConnectionOptions(
    schemas
      .command('list')
      .description('the schema settings of a topic and the versions of its value and key schemas, oldest first (the last is current); needs describe, produce or consume on the topic')
      .argument('<topic>', 'the topic')
      .option('--json', 'print JSON'),
  ).action(async (topic: string, flags: ConnectionFlags & { json?: boolean }) => {
    const listed = await withAdmin(flags, (admin) => admin.listSchemas(topic));
    if (flags.json === true) return printJson(listed);
    printSettings(listed.settings);
    printVersions('value', listed.value);
    printVersions('key', listed.key);
  });

  withConnectionOptions(
    schemas
      .command('show')
      .description('print one version of a topic\'s schema (default the latest value schema), or with --id the schema a record\'s sealbus-schema header names; needs describe, produce or consume on the topic')
      .argument('[topic]', 'the topic (not with --id)')
      .option('--version <n>', 'a version number, or "latest" (the default)', parseVersion)
      .option('--key', 'the key schema instead of the value schema')
      .option('--id <id>', 'the schema with this id, whatever its topic', parseId)
      .option('--json', 'print the version with its schema and registration as JSON'),
  ).action(async (topic: string | undefined, flags: SubjectFlags & { version?: number | 'latest'; id?: number }, command: Command) => {
    if ((topic === undefined) === (flags.id === undefined)) command.error('give a topic, or --id ID (not both)');
    if (flags.id !== undefined && (flags.version !== undefined || flags.key === true)) command.error('--version and --key go with a topic, not with --id');
    const id = flags.id;
    const shown = await withAdmin(flags, (admin) => (id !== undefined ? admin.schemaById(id) : admin.schemaVersion(topic!, flags.version ?? 'latest', subjectOf(flags))));
    if (flags.json === true) return printJson(shown);
    process.stderr.write(`version ${shown.version} of the ${shown.subject} schema of ${shown.topic} (id ${shown.id}), registered by ${shown.registeredBy} at ${shown.registeredAt}\n`);
    printJson(shown.schema);
  });
}

/** `sealbus schemas settings`: the compatibility mode and what happens to invalid records. */
function registerSettings(schemas: Command): void {
  withConnectionOptions(
    schemas
      .command('settings')
      .description('change the compatibility mode of a topic, or what happens to records that do not match its schema; needs manage-schemas on the topic, and produce on a dead-letter topic')
      .argument('<topic>', 'the topic')
      .option('--compatibility <mode>', `what a new version is checked against: ${COMPATIBILITY_MODES.join(', ')}`, parseMode)
      .option('--on-invalid <action>', 'reject: refuse the whole batch (default); dead-letter: send invalid records to the dead-letter topic', parseOnInvalid)
      .option('--dead-letter-topic <topic>', 'where invalid records go with --on-invalid dead-letter; an existing topic, not this one')
      .option('--json', 'print the new settings as JSON'),
  ).action(
    async (topic: string, flags: ConnectionFlags & { compatibility?: CompatibilityMode; onInvalid?: InvalidRecordAction; deadLetterTopic?: string; json?: boolean }, command: Command) => {
      if (flags.compatibility === undefined && flags.onInvalid === undefined && flags.deadLetterTopic === undefined) {
        command.error('give at least one of --compatibility, --on-invalid, --dead-letter-topic');
      }
      if (flags.onInvalid === 'reject' && flags.deadLetterTopic !== undefined) command.error('--dead-letter-topic goes with --on-invalid dead-letter, not reject');
      const changes: Partial<SchemaSettings> = {
        ...(flags.compatibility !== undefined && { compatibility: flags.compatibility }),
        ...(flags.onInvalid !== undefined && { onInvalid: flags.onInvalid }),
        ...(flags.deadLetterTopic !== undefined && { deadLetterTopic: flags.deadLetterTopic }),
      };
      const settings = await withAdmin(flags, (admin) => admin.updateSchemaSettings(topic, changes));
      if (flags.json === true) return printJson({ topic, settings });
      printSettings(settings);
    },
  );
}

/**
 * `sealbus schemas register|check|list|show|settings`: the schema registry (docs/schemas.md).
 * Records of a topic with a schema are checked by the broker against it.
 */
export function register(program: Command): void {
  const schemas = program
    .command('schemas')
    .description('the schema registry: JSON Schemas the broker checks every record of a topic against (register, check, list, show, settings)');
  registerWriteVerbs(schemas);
  registerReadVerbs(schemas);
  registerSettings(schemas);
}
