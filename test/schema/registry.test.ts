import { describe, expect, it } from 'vitest';
import {
  REGISTRY_LIMITS,
  RegistryState,
  ValidatorCache,
  checkSchemaDocument,
  compileValidator,
  decodeRegistryEntry,
  encodeRegistryEntry,
  schemaIdOf,
  type JsonSchema,
  type RegistryEntry,
} from '../../src/schema/index.js';
import { codeOfThrow } from '../helpers/error-code.js';

const schemaEntry = (topic: string, schema: JsonSchema = true): RegistryEntry => ({ type: 'schema', topic, subject: 'value', schema, by: 'admin', at: 1 });

describe('RegistryState', () => {
  it('numbers versions per topic and subject, and finds schemas by id', () => {
    const state = new RegistryState();
    state.apply(1, schemaEntry('a'));
    state.apply(2, schemaEntry('b'));
    state.apply(3, { ...schemaEntry('a', { type: 'object' }) });
    state.apply(4, { type: 'schema', topic: 'a', subject: 'key', schema: { type: 'string' }, by: 'admin', at: 2 });
    expect(state.versions('a', 'value').map((s) => [s.version, s.id])).toEqual([[1, 1], [2, 3]]);
    expect(state.latest('a', 'key')).toMatchObject({ id: 4, version: 1, subject: 'key' });
    expect(state.byId(2)).toMatchObject({ topic: 'b', version: 1 });
    expect(state.byId(5)).toBeNull();
    expect(state.governs('a')).toBe(true);
    expect(state.governs('c')).toBe(false);
  });

  it('keeps settings per topic; a settings entry alone does not make a topic governed', () => {
    const state = new RegistryState();
    state.apply(1, { type: 'settings', topic: 'a', compatibility: 'FULL', onInvalid: 'dead-letter', deadLetterTopic: 'a.dlq', by: 'admin', at: 1 });
    expect(state.settings('a')).toEqual({ compatibility: 'FULL', onInvalid: 'dead-letter', deadLetterTopic: 'a.dlq' });
    expect(state.settings('b')).toEqual({ compatibility: 'BACKWARD', onInvalid: 'reject', deadLetterTopic: null });
    expect(state.governs('a')).toBe(false);
  });

  it('refuses a version beyond the per-subject limit', () => {
    const state = new RegistryState();
    for (let id = 1; id <= REGISTRY_LIMITS.maxVersions; id++) state.apply(id, schemaEntry('a'));
    expect(codeOfThrow(() => state.apply(REGISTRY_LIMITS.maxVersions + 1, schemaEntry('a')))).toBe('SEALBUS_ERR_SCHEMA_INVALID');
    expect(state.versions('a', 'value')).toHaveLength(REGISTRY_LIMITS.maxVersions);
  });
});

describe('registry records read back from disk', () => {
  it('round-trip', () => {
    const entry = schemaEntry('orders', { type: 'object' });
    expect(decodeRegistryEntry(encodeRegistryEntry(entry))).toEqual(entry);
  });

  it.each([
    ['no value', null],
    ['not JSON', Buffer.from('{')],
    ['another version', Buffer.from('{"v":2,"type":"schema"}')],
    ['an unknown type', Buffer.from('{"v":1,"type":"drop","topic":"a","by":"x","at":1}')],
    ['a bad subject', Buffer.from('{"v":1,"type":"schema","topic":"a","subject":"both","schema":true,"by":"x","at":1}')],
    ['an array schema', Buffer.from('{"v":1,"type":"schema","topic":"a","subject":"value","schema":[],"by":"x","at":1}')],
    ['dead-letter without a topic', Buffer.from('{"v":1,"type":"settings","topic":"a","compatibility":"FULL","onInvalid":"dead-letter","deadLetterTopic":null,"by":"x","at":1}')],
    ['a bad mode', Buffer.from('{"v":1,"type":"settings","topic":"a","compatibility":"SOME","onInvalid":"reject","deadLetterTopic":null,"by":"x","at":1}')],
  ])('refuse %s', (_name, value) => {
    expect(codeOfThrow(() => decodeRegistryEntry(value))).toMatch(/^SEALBUS_ERR_(SCHEMA_INVALID|JSON_INVALID|JSON_LIMIT)$/);
  });
});

describe('validators', () => {
  const validator = compileValidator({
    type: 'object',
    properties: { items: { type: 'array', items: { type: 'object', required: ['qty'], properties: { qty: { type: 'integer', minimum: 1 } } } } },
  });

  it('name the JSON pointer of the first failing field', () => {
    expect(validator.validateBytes(Buffer.from('{"items":[{"qty":1},{"qty":0}]}'))).toMatchObject({ pointer: '/items/1/qty', reason: 'must be >= 1' });
    expect(validator.validateBytes(Buffer.from('{"items":[{}]}'))).toMatchObject({ pointer: '/items/0/qty', reason: 'is required' });
    expect(validator.validateBytes(Buffer.from('{"items":[{"qty":2}]}'))).toBeNull();
  });

  it('a value that is not bounded JSON fails at the root', () => {
    expect(validator.validateBytes(Buffer.from('{"items":'))).toMatchObject({ pointer: '/' });
    expect(validator.validateBytes(Buffer.from(`${'['.repeat(200)}${']'.repeat(200)}`))?.reason).toContain('deep');
  });

  it('pointer segments are escaped', () => {
    const strict = compileValidator({ type: 'object', additionalProperties: false });
    expect(strict.validate({ 'a/b~c': 1 })).toEqual({ pointer: '/a~1b~0c', reason: 'is not allowed (additionalProperties)' });
  });

  it('the cache compiles once per id and drops the least recently used', () => {
    const cache = new ValidatorCache(2);
    let compiled = 0;
    const schema = () => {
      compiled++;
      return true;
    };
    const first = cache.get(1, schema);
    expect(cache.get(1, schema)).toBe(first);
    cache.get(2, schema);
    cache.get(1, schema);
    cache.get(3, schema); // drops 2, the least recently used
    cache.get(1, schema);
    expect(compiled).toBe(3);
    cache.get(2, schema);
    expect(compiled).toBe(4);
    // A validator compiled at registration is kept: the first batch does not compile it again.
    const registered = checkSchemaDocument({ type: 'integer' }).validator;
    cache.put(5, registered);
    expect(cache.get(5, schema)).toBe(registered);
    expect(compiled).toBe(4);
  });

  it('a schema document that compiles is accepted as its JSON text', () => {
    const checked = checkSchemaDocument({ type: 'string', pattern: '^[a-z]+$' });
    expect(checked.text).toBe('{"type":"string","pattern":"^[a-z]+$"}');
    expect(checked.validator.validateBytes(Buffer.from('"abc"'))).toBeNull();
    expect(checked.validator.validateBytes(Buffer.from('"ABC"'))?.pointer).toBe('/');
    expect(codeOfThrow(() => checkSchemaDocument({ type: 'string', format: 'no-such-format' }))).toBe('SEALBUS_ERR_SCHEMA_INVALID');
    expect(codeOfThrow(() => checkSchemaDocument({ $defs: { a: { $ref: 'other.json#/x' } } }))).toBe('SEALBUS_ERR_SCHEMA_INVALID');
  });
});

describe('schema id headers', () => {
  it.each([
    ['42', 42],
    ['1', 1],
    ['0', null],
    ['042', null],
    ['-1', null],
    ['4x', null],
    ['', null],
    ['9999999999999999', null],
  ])('%s names %s', (text, id) => {
    expect(schemaIdOf(Buffer.from(text))).toBe(id);
  });
});
