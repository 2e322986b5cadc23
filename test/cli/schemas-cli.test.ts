import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SCHEMA_FILE_BYTES } from '../../src/cli/commands/schemas.js';
import { COMPATIBILITY_MODES } from '../../src/schema/index.js';
import { cliEnv, runCli } from '../helpers/cli.js';
import { useTempDirs } from '../helpers/temp-dirs.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const ORDER_V1 = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'amount'],
  properties: { id: { type: 'integer' }, amount: { type: 'number', minimum: 0 } },
};
/** A new optional field in a closed model: BACKWARD compatible. */
const ORDER_V2 = { ...ORDER_V1, properties: { ...ORDER_V1.properties, currency: { type: 'string', maxLength: 3 } } };
/** `id` narrowed from integer to string: values v1 accepted are refused, not BACKWARD compatible. */
const ORDER_BROKEN = { ...ORDER_V1, properties: { ...ORDER_V1.properties, id: { type: 'string' } } };

/**
 * `sealbus schemas ...` and `sealbus produce` on a topic with a schema, against a running broker.
 * Each CLI run starts node and tsx (a second or two on a busy machine): the tests get room for that.
 */
describe('sealbus schemas', { timeout: 90_000 }, () => {
  let t: TestBroker;
  let env: NodeJS.ProcessEnv;
  const tempDir = useTempDirs('sealbus-schemas-cli-');
  let topics = 0;

  beforeAll(async () => {
    t = await startTestBroker();
    env = cliEnv(t);
  });
  afterAll(async () => t?.close());

  /** A fresh topic (each test has its own, so that none depends on another). */
  async function newTopic(prefix: string): Promise<string> {
    const name = `${prefix}.${topics++}`;
    expect((await t.request('POST', '/v1/topics', { body: { name, partitions: 1 } })).status).toBe(201);
    return name;
  }

  /** A fresh topic with ORDER_V1 as version 1 of its value schema (through the HTTP API); returns its name and the schema id. */
  async function topicWithSchema(prefix: string): Promise<{ topic: string; id: number }> {
    const topic = await newTopic(prefix);
    const registered = await t.request('POST', `/v1/topics/${topic}/schemas`, { body: { schema: ORDER_V1 } });
    expect(registered.status).toBe(201);
    return { topic, id: registered.body.id as number };
  }

  async function schemaFile(content: unknown, name = 'schema.json'): Promise<string> {
    const file = join(await tempDir(), name);
    await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return file;
  }

  it('registers a schema file, then reports the same schema unchanged', async () => {
    const topic = await newTopic('orders');
    const file = await schemaFile(ORDER_V1);
    const created = await runCli(['schemas', 'register', topic, file], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const match = /^registered version 1 of the value schema of (\S+) \(id (\d+)\)\n$/.exec(created.stdout);
    expect(match?.[1]).toBe(topic);
    const id = Number(match?.[2]);

    const again = await runCli(['schemas', 'register', topic, file], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`unchanged: version 1 (id ${id}) is already the latest\n`);

    const json = await runCli(['schemas', 'register', topic, file, '--json'], env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ id, topic, subject: 'value', version: 1, registeredBy: 'admin', schema: ORDER_V1, created: false });

    // From standard input, as the key schema.
    const key = await runCli(['schemas', 'register', topic, '-', '--key'], env, JSON.stringify({ type: 'string', maxLength: 64 }));
    expect(key.code).toBe(0);
    expect(key.stdout).toMatch(new RegExp(`^registered version 1 of the key schema of ${topic.replace('.', '\\.')} \\(id \\d+\\)\\n$`));
  });

  it('lists the settings and the versions of the value and the key schema', async () => {
    const { topic, id } = await topicWithSchema('listed');
    const listed = await runCli(['schemas', 'list', topic], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^compatibility +BACKWARD$/m);
    expect(listed.stdout).toMatch(/^on invalid +reject$/m);
    expect(listed.stdout).toMatch(/^dead-letter +-$/m);
    expect(listed.stdout).toMatch(new RegExp(`^value  version 1  id ${id}  registered by admin at \\d{4}-\\d\\d-\\d\\dT`, 'm'));
    expect(listed.stdout).toMatch(/^key +no schema$/m);

    const json = JSON.parse((await runCli(['schemas', 'list', topic, '--json'], env)).stdout);
    expect(json).toMatchObject({ topic, settings: { compatibility: 'BACKWARD', onInvalid: 'reject', deadLetterTopic: null }, value: [{ id, version: 1, registeredBy: 'admin' }], key: [] });
  });

  it('shows a version by number and by id, as pretty JSON with a header on stderr', async () => {
    const { topic, id } = await topicWithSchema('shown');
    const byVersion = await runCli(['schemas', 'show', topic, '--version', '1'], env);
    expect(byVersion.code).toBe(0);
    expect(byVersion.stdout).toBe(`${JSON.stringify(ORDER_V1, null, 2)}\n`);
    expect(byVersion.stderr).toMatch(new RegExp(`^version 1 of the value schema of ${topic.replace('.', '\\.')} \\(id ${id}\\), registered by admin at `));

    const byId = await runCli(['schemas', 'show', '--id', String(id)], env);
    expect(byId.code).toBe(0);
    expect(JSON.parse(byId.stdout)).toEqual(ORDER_V1);
    expect(byId.stderr).toContain(`(id ${id})`);

    const latest = JSON.parse((await runCli(['schemas', 'show', topic, '--json'], env)).stdout);
    expect(latest).toMatchObject({ id, topic, subject: 'value', version: 1, schema: ORDER_V1 });

    const missing = await runCli(['schemas', 'show', topic, '--version', '7'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('SEALBUS_ERR_SCHEMA_NOT_FOUND');

    const both = await runCli(['schemas', 'show', topic, '--id', String(id)], env);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give a topic, or --id ID (not both)');
    const badVersion = await runCli(['schemas', 'show', topic, '--version', 'first'], env);
    expect(badVersion.code).toBe(2);
    expect(badVersion.stderr).toContain('expected a version number (1, 2, ...) or "latest"');
  });

  it('checks compatibility without registering: exit 0 when compatible, 1 with the problems and their pointers when not', async () => {
    const { topic } = await topicWithSchema('checked');
    const compatible = await runCli(['schemas', 'check', topic, await schemaFile(ORDER_V2)], env);
    expect(compatible.stderr).toBe('');
    expect(compatible.code).toBe(0);
    expect(compatible.stdout).toBe(`compatible with the value schema of ${topic} (mode BACKWARD)\n`);

    const broken = await schemaFile(ORDER_BROKEN);
    const incompatible = await runCli(['schemas', 'check', topic, broken], env);
    expect(incompatible.code).toBe(1);
    expect(incompatible.stdout).toContain(`not compatible with the value schema of ${topic} (mode BACKWARD)`);
    expect(incompatible.stdout).toMatch(/^ {2}version 1, backward: \/properties\/id\S* /m);

    const json = await runCli(['schemas', 'check', topic, broken, '--json'], env);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ compatible: false, mode: 'BACKWARD' });
    expect(report.problems[0]).toMatchObject({ version: 1, direction: 'backward', pointer: expect.stringContaining('/properties/id') });

    // Nothing was written.
    expect((await t.request('GET', `/v1/topics/${topic}/schemas`)).body.value).toHaveLength(1);
  });

  it('refuses to register an incompatible version: exit 1, each problem on stderr, nothing written', async () => {
    const { topic } = await topicWithSchema('refused');
    const refused = await runCli(['schemas', 'register', topic, await schemaFile(ORDER_BROKEN)], env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('SEALBUS_ERR_SCHEMA_INCOMPATIBLE');
    expect(refused.stderr).toMatch(/^ {2}version 1, backward: \/properties\/id\S* /m);
    expect((await t.request('GET', `/v1/topics/${topic}/schemas`)).body.value).toHaveLength(1);

    const next = await runCli(['schemas', 'register', topic, await schemaFile(ORDER_V2)], env);
    expect(next.code).toBe(0);
    expect(next.stdout).toContain('registered version 2 of the value schema');
  });

  it('changes the settings; a dead-letter topic must exist; the mode is checked before anything is sent', async () => {
    const { topic } = await topicWithSchema('settled');
    const dlq = await newTopic('settled-dlq');

    const nowhere = await runCli(['schemas', 'settings', topic, '--on-invalid', 'dead-letter', '--dead-letter-topic', 'nowhere'], env);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toContain('SEALBUS_ERR_SCHEMA_SETTINGS_INVALID');
    expect(nowhere.stderr).toContain('the dead-letter topic nowhere does not exist; create it first');

    const badMode = await runCli(['schemas', 'settings', topic, '--compatibility', 'SIDEWAYS'], env);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toContain(`argument 'SIDEWAYS' is invalid. expected one of ${COMPATIBILITY_MODES.join(', ')}`);
    const noFlag = await runCli(['schemas', 'settings', topic], env);
    expect(noFlag.code).toBe(2);
    expect(noFlag.stderr).toContain('give at least one of --compatibility, --on-invalid, --dead-letter-topic');

    const set = await runCli(['schemas', 'settings', topic, '--compatibility', 'full', '--on-invalid', 'dead-letter', '--dead-letter-topic', dlq], env);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/^compatibility +FULL$/m);
    expect(set.stdout).toMatch(/^on invalid +dead-letter$/m);
    expect(set.stdout).toMatch(new RegExp(`^dead-letter +${dlq.replace('.', '\\.')}$`, 'm'));

    const back = await runCli(['schemas', 'settings', topic, '--on-invalid', 'reject', '--json'], env);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toEqual({ topic, settings: { compatibility: 'FULL', onInvalid: 'reject', deadLetterTopic: null } });
  });

  it('says what is wrong with a schema file, and sends nothing', async () => {
    const topic = await newTopic('files');
    const register = (file: string) => runCli(['schemas', 'register', topic, file], env);

    const notJson = await register(await schemaFile('{"type": "object",'));
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/SEALBUS_ERR_JSON_INVALID: The schema file \S+schema\.json is not valid JSON/);

    const deep = await register(await schemaFile(`${'{"not":'.repeat(100)}{}${'}'.repeat(100)}`));
    expect(deep.code).toBe(1);
    expect(deep.stderr).toMatch(/SEALBUS_ERR_JSON_LIMIT: The schema file \S+schema\.json exceeds a JSON limit/);

    const huge = await register(await schemaFile(`{"description": "${'x'.repeat(MAX_SCHEMA_FILE_BYTES)}"}`));
    expect(huge.code).toBe(1);
    expect(huge.stderr).toContain(`is larger than ${MAX_SCHEMA_FILE_BYTES} bytes; a schema is at most 262144 bytes (256 KiB)`);

    const array = await register(await schemaFile([{ type: 'object' }]));
    expect(array.code).toBe(1);
    expect(array.stderr).toContain('holds an array; a JSON Schema is an object, or true / false');

    const absent = await register(join(await tempDir(), 'absent.json'));
    expect(absent.code).toBe(1);
    expect(absent.stderr).toMatch(/cannot read the schema file \S+absent\.json: ENOENT/);

    // Parsed, but not a schema the broker accepts: its message comes through.
    const typo = await register(await schemaFile({ type: 'object', requird: ['id'] }));
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('SEALBUS_ERR_SCHEMA_INVALID');

    expect((await t.request('GET', `/v1/topics/${topic}/schemas`)).body.value).toEqual([]);
  });

  it('refuses a principal without manage-schemas, and its help names the right', async () => {
    const { topic } = await topicWithSchema('guarded');
    const credentials = await t.client('erin');
    const dir = await tempDir();
    await writeFile(join(dir, 'erin.crt'), credentials.cert);
    await writeFile(join(dir, 'erin.key'), credentials.key, { mode: 0o600 });
    const erin = cliEnv(t, { SEALBUS_CERT: join(dir, 'erin.crt'), SEALBUS_KEY: join(dir, 'erin.key'), SEALBUS_TOKEN: credentials.token });

    const denied = await runCli(['schemas', 'register', topic, await schemaFile(ORDER_V2)], erin);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('SEALBUS_ERR_FORBIDDEN');
    expect((await t.request('GET', `/v1/topics/${topic}/schemas`)).body.value).toHaveLength(1);

    const help = await runCli(['schemas', 'register', '--help'], env);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('needs manage-schemas on the topic');
  });

  it('produce: a valid JSON value is stored, an invalid one refused with the pointer of the failing field', async () => {
    const { topic } = await topicWithSchema('produced');
    const valid = await runCli(['produce', topic], env, '{"id": 1, "amount": 9.5}\n');
    expect(valid.stderr).toBe('');
    expect(valid.code).toBe(0);
    expect(valid.stdout).toBe('0:0\n');

    const invalid = await runCli(['produce', topic], env, '{"id": "one", "amount": 1}\n');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('SEALBUS_ERR_SCHEMA_VALIDATION');
    expect(invalid.stderr).toContain('/id');
    const partition = (await t.request('GET', `/v1/topics/${topic}`)).body.partitions[0];
    expect(partition.highWatermark).toBe(1);
  });
});
