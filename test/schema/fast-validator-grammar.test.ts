import { describe, expect, it } from 'vitest';
import { JSON_LIMITS } from '../../src/json/safe-json.js';
import type { JsonSchema } from '../../src/schema/schema-document.js';
import { checker } from './fast-validator-helpers.js';

/** Trivial, and one that reads every value: the grammar and the limits do not depend on the schema. */
const SCHEMAS: JsonSchema[] = [true, { items: { type: ['string', 'number', 'object', 'array', 'boolean', 'null'], minLength: 0, minimum: -1e308 }, properties: { a: { pattern: '' } } }];

function expectRefused(input: string | Uint8Array): void {
  for (const schema of SCHEMAS) {
    const verdicts = checker(schema).verdicts(input);
    expect(verdicts, typeof input === 'string' ? JSON.stringify(input.slice(0, 60)) : `bytes ${Buffer.from(input).toString('hex').slice(0, 60)}`).toEqual({ fast: 'invalid', slow: false });
  }
}

function expectAccepted(input: string | Uint8Array): void {
  for (const schema of SCHEMAS) {
    const verdicts = checker(schema).verdicts(input);
    expect(verdicts, typeof input === 'string' ? JSON.stringify(input.slice(0, 60)) : 'bytes').toEqual({ fast: 'valid', slow: true });
  }
}

const bytes = (...parts: (string | number[])[]): Buffer => Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part))));

describe('compileFastValidator: the JSON grammar, as JSON.parse has it', () => {
  it('accepts every kind of value and the four whitespace characters', () => {
    for (const text of ['0', '-0', '1.5', '-12.25', '"x"', '""', 'true', 'false', 'null', '[]', '{}', ' [ 1 , { "a" : [ ] } ] ', '\t\n\r 1', '["\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00"]', '"\u007f"', '"\u2028\u2029"']) {
      expectAccepted(text);
    }
  });

  it('refuses trailing commas, missing separators and structure that does not close', () => {
    for (const text of ['[1,]', '{"a":1,}', '[,1]', '{,}', '[1 2]', '{"a" 1}', '{"a":1 "b":2}', '{"a"}', '{a:1}', "{'a':1}", '[', '{', '{"a":', '[1', ']', '}', '[1]]', '{"a":1}}', '[}', '{]']) {
      expectRefused(text);
    }
  });

  it('refuses numbers outside the grammar', () => {
    for (const text of ['01', '-01', '00', '+1', '-', '1.', '.5', '-.5', '1e', '1e+', '1E-', '0x10', '1_000', 'NaN', 'Infinity', '-Infinity', '1.5.2', '--1', '1-2']) {
      expectRefused(text);
    }
  });

  it('refuses bad strings: control characters, bad escapes, unclosed', () => {
    for (const text of ['"\u0000"', '"a\nb"', '"\t"', '"\u001f"', '"\\x41"', '"\\u12"', '"\\u12G4"', '"\\U0041"', '"\\\'"', '"abc', '"\\"', '"\\']) {
      expectRefused(text);
    }
  });

  it('refuses bad literals, empty input, comments and garbage after the value', () => {
    for (const text of ['', ' ', '\n', 'tru', 'nul', 'True', 'falsey', 'nulll', '1 2', '{} {}', '[]x', '"a" "b"', '1 // c', '/* c */ 1', '\f1', '1\u000b', '\u00a01', '\ufeff{}']) {
      expectRefused(text);
    }
  });

  it('refuses bytes that are not UTF-8, inside strings and out', () => {
    for (const input of [
      bytes('"', [0x80], '"'),
      bytes('"', [0xc0, 0x80], '"'),
      bytes('"', [0xc3], '"'),
      bytes('"', [0xe2, 0x82], '"'),
      bytes('"', [0xed, 0xa0, 0x80], '"'),
      bytes('"', [0xe0, 0x80, 0x80], '"'),
      bytes('"', [0xf0, 0x80, 0x80, 0x80], '"'),
      bytes('"', [0xf4, 0x90, 0x80, 0x80], '"'),
      bytes('"', [0xf5, 0x80, 0x80, 0x80], '"'),
      bytes('"', [0xff], '"'),
      bytes('"\\', [0xc3, 0xa9], '"'),
      bytes([0xc3, 0xa9]),
      bytes('[1]', [0xc2, 0xa0]),
    ]) {
      expectRefused(input);
    }
    expectAccepted(bytes('"', [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xf4, 0x8f, 0xbf, 0xbf, 0xef, 0xbf, 0xbd], '"'));
  });
});

describe('compileFastValidator: the limits of parseJson', () => {
  const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

  it('nests at most maxDepth containers', () => {
    expectAccepted(nested(JSON_LIMITS.maxDepth));
    expectRefused(nested(JSON_LIMITS.maxDepth + 1));
    expectAccepted(`${'{"a":'.repeat(JSON_LIMITS.maxDepth)}1${'}'.repeat(JSON_LIMITS.maxDepth)}`);
    expectRefused(`${'{"a":'.repeat(JSON_LIMITS.maxDepth)}[]${'}'.repeat(JSON_LIMITS.maxDepth)}`);
    expectRefused('['.repeat(100_000));
  });

  it('holds at most maxKeys keys per object (repeats counted) and maxArrayItems items per array', () => {
    const keys = (count: number): string => `{${Array.from({ length: count }, (_, index) => `"k${index}":0`).join(',')}}`;
    expectAccepted(keys(JSON_LIMITS.maxKeys));
    expectRefused(keys(JSON_LIMITS.maxKeys + 1));
    expectRefused(`{${Array.from({ length: JSON_LIMITS.maxKeys + 1 }, () => '"k":0').join(',')}}`);
    const items = (count: number): string => `[${'0,'.repeat(count - 1)}0]`;
    expectAccepted(items(JSON_LIMITS.maxArrayItems));
    expectRefused(items(JSON_LIMITS.maxArrayItems + 1));
  });

  it('holds strings of at most maxStringBytes bytes as written, keys included', () => {
    const limit = JSON_LIMITS.maxStringBytes;
    expectAccepted(`"${'x'.repeat(limit)}"`);
    expectRefused(`"${'x'.repeat(limit + 1)}"`);
    expectRefused(`{"${'x'.repeat(limit + 1)}":1}`);
    expectAccepted(`"${'\\n'.repeat(limit / 2)}"`);
    expectRefused(`"${'\\n'.repeat(limit / 2)}x"`);
    expectRefused(`"${'é'.repeat(limit / 2)}x"`);
  });

  it('refuses a text longer than maxTotalBytes', () => {
    const text = Buffer.alloc(JSON_LIMITS.maxTotalBytes + 1, 0x20);
    text[0] = 0x30;
    expectRefused(text);
  });

  it('leaves 16-digit integers and exponents to parseJson, which refuses the unsafe and the infinite', () => {
    for (const schema of SCHEMAS) {
      const check = checker(schema);
      expect(check.verdicts('9007199254740991')).toEqual({ fast: 'fallback', slow: true });
      expect(check.verdicts('-9007199254740992')).toEqual({ fast: 'fallback', slow: false });
      expect(check.verdicts('1e400')).toEqual({ fast: 'fallback', slow: false });
      expect(check.verdicts('[6.02e23]')).toEqual({ fast: 'fallback', slow: true });
      expect(check.verdicts('900719925474099.1')).toEqual({ fast: 'valid', slow: true });
    }
  });
});
