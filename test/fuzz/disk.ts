/**
 * Bytes read back from disk and documents from clients: safe JSON (src/json/safe-json.ts, every
 * request body, record value under a schema and JSON file), the CRC-framed journals of committed
 * offsets and producer ids (src/log/file/journal.ts), and the SDK's key files (src/payload/keys.ts).
 */
import { crc32 } from 'node:zlib';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { parseJson, type JsonLimits } from '../../src/json/safe-json.js';
import { parseJournal } from '../../src/log/file/journal.js';
import { encodeKeyFile, parseKeyFile } from '../../src/payload/keys.js';
import { keysFromSeeds } from '../payload/helpers.js';
import { ensure, ensureBounded, neverThrows, outcomeOf, timed, type FuzzTarget } from './contract.js';
import { byteMutations, mutateBytes, randomBytes } from './mutate-bytes.js';
import { mutateText, textMutations } from './mutate-text.js';
import { mutateValue, valueMutation } from './mutate-values.js';

const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 6 },
    fc.constantFrom(null, true, false, 0, -0, 1e20, 2 ** 53 - 1, -(2 ** 53) + 1, 0.1, '', '__proto__', '\u2028', '\ud800'),
    fc.maxSafeInteger(),
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor')), tie('value')), { maxLength: 5 }).map((entries) => Object.fromEntries(entries)),
  ),
})).value;

const jsonLimits: fc.Arbitrary<Partial<JsonLimits>> = fc.oneof(
  fc.constant({}),
  fc.record({
    maxTotalBytes: fc.integer({ min: 0, max: 400 }),
    maxDepth: fc.integer({ min: 0, max: 8 }),
    maxStringBytes: fc.integer({ min: 0, max: 16 }),
    maxKeys: fc.integer({ min: 0, max: 6 }),
    maxArrayItems: fc.integer({ min: 0, max: 6 }),
  }),
);

const jsonText = fc.oneof(
  jsonValue.map((value) => JSON.stringify(value)),
  fc.tuple(jsonValue, textMutations(3)).map(([value, steps]) => mutateText(JSON.stringify(value), steps)),
  fc.constantFrom('9007199254740993', '-9007199254740993', '1e400', '-1e400', '1E308', '[1,]', '{"a":1,}', '\ufeff{}', '"\\ud800"', '0x10', 'NaN', '[-]'),
  fc.integer({ min: 1, max: 10_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 1, max: 5_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc.integer({ min: 1, max: 20_000 }).map((count) => `[${Array.from({ length: count }, () => '0').join(',')}]`),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** Deepest nesting, longest string (UTF-8 bytes), most keys and items of a parsed value. */
function measure(value: unknown, depth = 0): { depth: number; string: number; keys: number; items: number } {
  const here = { depth, string: 0, keys: 0, items: 0 };
  const merge = (other: typeof here) => {
    here.depth = Math.max(here.depth, other.depth);
    here.string = Math.max(here.string, other.string);
    here.keys = Math.max(here.keys, other.keys);
    here.items = Math.max(here.items, other.items);
  };
  if (typeof value === 'string') here.string = Buffer.byteLength(value);
  else if (Array.isArray(value)) {
    here.depth = depth + 1;
    here.items = value.length;
    for (const item of value) merge(measure(item, depth + 1));
  } else if (value !== null && typeof value === 'object') {
    here.depth = depth + 1;
    here.keys = Object.keys(value).length;
    for (const [key, child] of Object.entries(value)) {
      here.string = Math.max(here.string, Buffer.byteLength(key));
      merge(measure(child, depth + 1));
    }
  }
  return here;
}

export const safeJsonTarget: FuzzTarget = {
  name: 'json/safe-json',
  covers: 'parseJson (src/json/safe-json.ts) under default and tight limits, from strings and bytes',
  weight: 30,
  quickRuns: 800,
  async build() {
    return {
      property: fc.property(jsonText, jsonLimits, fc.boolean(), (text, limits, asBytes) => {
        const input = asBytes ? Buffer.from(text) : text;
        const parsed = timed('safe json', () => outcomeOf('parseJson', ['SEALBUS_ERR_JSON_INVALID', 'SEALBUS_ERR_JSON_LIMIT'], () => parseJson(input, 'fuzz document', limits)));
        let reference: { value: unknown } | null;
        try {
          reference = { value: JSON.parse(asBytes ? Buffer.from(text).toString() : text) as unknown };
        } catch {
          reference = null;
        }
        if (!parsed.ok) {
          if (parsed.error.code === 'SEALBUS_ERR_JSON_INVALID') ensure(reference === null, () => `JSON_INVALID for JSON that JSON.parse reads: ${parsed.error.message}`);
          return;
        }
        ensure(reference !== null && isDeepStrictEqual(parsed.value, reference.value), 'parseJson accepted text JSON.parse refuses, or reads it otherwise');
        const bounds = { maxTotalBytes: 16 * 1024 * 1024, maxDepth: 64, maxStringBytes: 1024 * 1024, maxKeys: 1000, maxArrayItems: 100_000, ...limits };
        const seen = measure(parsed.value);
        ensure(Buffer.byteLength(text) <= bounds.maxTotalBytes && seen.depth <= bounds.maxDepth && seen.keys <= bounds.maxKeys && seen.items <= bounds.maxArrayItems, () => `a parsed value beyond the limits: ${JSON.stringify(seen)} / ${JSON.stringify(bounds)}`);
        // Strings are measured as written (escapes count): a parsed string is never longer.
        ensure(seen.string <= bounds.maxStringBytes, () => `a string of ${seen.string} bytes passed maxStringBytes ${bounds.maxStringBytes}`);
        ensureBounded(parsed.value, Buffer.byteLength(text), 2);
      }),
    };
  },
};

function journalFrame(value: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(value));
  const header = Buffer.alloc(8);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

/** What the broker journals: commits and producer ids, whose numbers are all below 2^53. */
const journalValues = fc.array(
  fc.oneof(
    fc.record({ group: fc.string({ maxLength: 8 }), topic: fc.string({ maxLength: 8 }), partition: fc.nat(), offset: fc.maxSafeNat() }),
    fc.record({ producerId: fc.maxSafeNat(), name: fc.string({ unit: 'binary', maxLength: 8 }), epoch: fc.nat({ max: 0xfffe }) }),
  ),
  { maxLength: 6 },
);

export const journalTarget: FuzzTarget = {
  name: 'disk/journal',
  covers: 'parseJournal (src/log/file/journal.ts): committed offsets and producer ids read back at start',
  weight: 40,
  quickRuns: 800,
  async build() {
    const input = fc.oneof(
      journalValues.map((values) => ({ values, bytes: Buffer.concat(values.map(journalFrame)) })),
      fc.tuple(journalValues, byteMutations()).map(([values, steps]) => ({ values: null, bytes: mutateBytes(Buffer.concat(values.map(journalFrame)), steps) })),
      randomBytes(200).map((bytes) => ({ values: null, bytes })),
    );
    return {
      property: fc.property(input, ({ values, bytes }) => {
        const journal = timed('journal', () => neverThrows('parseJournal', () => parseJournal(bytes)));
        ensure(journal.validEnd >= 0 && journal.validEnd <= bytes.length, 'validEnd outside the file');
        // Damage is reported in order, without overlaps, within the file.
        let previousEnd = 0;
        for (const damage of journal.damage) {
          ensure(damage.position >= previousEnd && damage.bytes > 0, 'damage out of order or empty');
          previousEnd = damage.position + damage.bytes;
        }
        ensure(previousEnd <= bytes.length, 'damage past the end of the file');
        const tail = journal.damage.at(-1);
        ensure(tail === undefined || tail.tail === (tail.position + tail.bytes === bytes.length), 'a tail flag that does not match the damage');
        if (values !== null) {
          ensure(journal.damage.length === 0 && journal.validEnd === bytes.length, 'an intact journal has damage');
          ensure(isDeepStrictEqual(journal.values, values.map((value) => JSON.parse(JSON.stringify(value)) as unknown)), 'an intact journal reads back other values');
        }
        ensureBounded(journal.values, bytes.length, 2);
      }),
    };
  },
};

export const keyFileTarget: FuzzTarget = {
  name: 'disk/key-file',
  covers: 'parseKeyFile (src/payload/keys.ts): the SDK\'s end-to-end key files',
  weight: 3,
  quickRuns: 100,
  async build() {
    // Deriving keys costs milliseconds in tweetnacl: a few files, made once, then mutated.
    const seed = (byte: number) => new Uint8Array(32).fill(byte);
    const files = [
      encodeKeyFile(keysFromSeeds(seed(1), seed(2))),
      encodeKeyFile(keysFromSeeds(seed(3), seed(4), [seed(5), seed(6)]), 'alice'),
      encodeKeyFile(keysFromSeeds(seed(7), seed(8), [seed(9)]), ''),
    ];
    const keyFile = fc.constantFrom(...files);
    const input = fc.oneof(
      keyFile.map((text) => ({ valid: true, text })),
      fc.tuple(keyFile, textMutations(2)).map(([text, steps]) => ({ valid: false, text: mutateText(text, steps) })),
      fc.tuple(keyFile, fc.array(valueMutation, { minLength: 1, maxLength: 2 })).map(([text, steps]) => ({ valid: false, text: JSON.stringify(mutateValue(JSON.parse(text), steps)) })),
      fc.tuple(keyFile, byteMutations(2)).map(([text, steps]) => ({ valid: false, text: mutateBytes(Buffer.from(text), steps).toString() })),
    );
    return {
      property: fc.property(input, ({ valid, text }) => {
        const parsed = timed('key file', () => outcomeOf('parseKeyFile', ['SEALBUS_ERR_KEY_FILE_INVALID'], () => parseKeyFile(text)));
        if (!parsed.ok) {
          ensure(!valid, () => `a valid key file was refused: ${parsed.error.message}`);
          return;
        }
        const keys = parsed.value;
        // Every key pair is one: the public keys are the ones the secret keys make.
        const signing = nacl.sign.keyPair.fromSeed(keys.signing.secretKey.subarray(0, 32));
        ensure(Buffer.from(signing.publicKey).equals(Buffer.from(keys.signing.publicKey)), 'a signing public key that its secret key does not make');
        for (const pair of [keys.encryption, ...keys.previousEncryption]) {
          ensure(Buffer.from(nacl.box.keyPair.fromSecretKey(pair.secretKey).publicKey).equals(Buffer.from(pair.publicKey)), 'an encryption public key that its secret key does not make');
        }
        const again = parseKeyFile(encodeKeyFile(keys, keys.principal));
        ensure(isDeepStrictEqual(again, keys), 'a key file does not read back the same after writing');
      }),
    };
  },
};
