/**
 * The byte matchers of src/schema/fast-pattern.ts against the RegExp ajv builds (`u` flag), on the
 * strings the fast path hands them: any pattern they accept must answer as the RegExp does, on
 * matches, near misses (one repetition short or over), other ASCII and non-ASCII text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BytePattern, compileBytePattern, matchBytes, matchInPlace } from '../../src/schema/fast-pattern.js';
import type { JsonSchema } from '../../src/schema/schema-document.js';
import { checker } from './fast-validator-helpers.js';

/** Whether the fast path would hand `text` to the byte matcher: written in a JSON string without an escape. */
const unescaped = (text: string): boolean => !/["\\\u0000-\u001f]/.test(text);

function matches(pattern: BytePattern, text: string): boolean {
  const bytes = Buffer.from(text, 'utf8');
  return matchBytes(pattern, bytes, 0, bytes.length);
}

/** matchInPlace on `text` as JSON.stringify writes it, followed by a comma: the index of its closing quote, or -1. */
function inPlace(pattern: BytePattern, written: string): number {
  const bytes = Buffer.from(`${written},`, 'utf8');
  return matchInPlace(pattern, bytes, 1, bytes.length);
}

const ALPHABET = ['a', 'b', 'c', 'x', 'z', 'A', 'K', 'Z', '0', '5', '9', '-', '_', '.', '/', ' ', '"', '\\', '$', '^', '+', '*', '\n', '\u007f', 'é', '€', '😀', '\u0000'];

/** Strings near a match of `pattern`: each element repeated about its count, mostly with its own characters. */
function nearMatch(pattern: BytePattern): fc.Arbitrary<string> {
  const elements = Array.from({ length: pattern.count }, (_, element) => {
    const own = Array.from({ length: 128 }, (_, byte) => byte).filter((byte) => pattern.classes[128 * element + byte] === 1).map((byte) => String.fromCharCode(byte));
    const min = pattern.minimums[element]!;
    const max = Math.min(pattern.maximums[element]!, min + 3);
    const char = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...own) }, { weight: 1, arbitrary: fc.constantFrom(...ALPHABET) });
    return fc.array(char, { minLength: Math.max(0, min - 1), maxLength: max + 1 }).map((chars) => chars.join(''));
  });
  return fc.tuple(...elements).map((parts) => parts.join(''));
}

/** Pieces of patterns: most inside the subset, some outside it, some not even valid under `u`. */
const ATOMS = ['a', 'b', 'x', 'Z', '0', '-', '_', ' ', '"', '@', '\\d', '\\w', '\\.', '\\\\', '\\/', '\\$', '\\-', '\\s', '.', '[a-c]', '[A-Z0-9]', '[-a]', '[a-]', '[\\d_]', '[\\-x]', '[ab"]', '[\\\\/]', '[.+*$]', '[0-9-]', '[a-c-e]', '[^a]', '[]', '(a)', 'a|b', '\\p{L}', 'é'];
const QUANTIFIERS = ['', '', '', '?', '*', '+', '{0}', '{1}', '{2}', '{3}', '{1,3}', '{0,2}', '{2,}', '+?', '{2}?', '{,2}', '{3,1}'];

const patternSource = fc
  .tuple(fc.array(fc.tuple(fc.constantFrom(...ATOMS), fc.constantFrom(...QUANTIFIERS)), { maxLength: 5 }), fc.constantFrom('^$', '^$', '^$', '^', '$', ''))
  .map(([elements, anchors]) => `${anchors.startsWith('^') ? '^' : ''}${elements.map(([atom, quantifier]) => atom + quantifier).join('')}${anchors.endsWith('$') ? '$' : ''}`);

function regExpOf(source: string): RegExp | null {
  try {
    return new RegExp(source, 'u');
  } catch {
    return null;
  }
}

describe('compileBytePattern: which patterns become byte matchers', () => {
  it('compiles anchored sequences of ASCII classes and literals with quantifiers', () => {
    for (const source of ['^[A-Z]{3}-[0-9]{4}$', '^[a-z0-9-]+$', '^v\\d+\\.\\d+$', '^a*b?c$', '^a*b?c+a$', '^$', '^a?$', '^[a-c]{2,4}x*$', '^\\w{1,8}$', '^[-a]{2}$', '^\\$[0-9]+$', '^\\\\$']) {
      expect(compileBytePattern(source), source).not.toBeNull();
    }
  });

  it('leaves to the RegExp what it cannot match greedily or exactly', () => {
    for (const source of ['^a', 'b$', 'a', '^[^a]$', '^.$', '^(a|b)$', '^a|b$', '^[a-z]+a$', '^[a-z]*[a-z]$', '^a?a$', '^a*b?a$', '^a*b?[ab]$', '^b?a*b$', '^\\s$', '^a+?$', '^\\$', '^\\p{L}+$', '^é$', '^[a-c-e]$', '^\\D$', '^[\\w-z]$', '^a{1,2000000}$']) {
      expect(compileBytePattern(source), source).toBeNull();
    }
  });

  it('matches in place only fixed lengths without a byte JSON escapes', () => {
    expect(compileBytePattern('^[A-Z]{3}-[0-9]{4}$')!.inPlace).toBe(true);
    expect(compileBytePattern('^[a"]{2}$')!.inPlace).toBe(false);
    expect(compileBytePattern('^\\\\$')!.inPlace).toBe(false);
    expect(compileBytePattern('^a+$')!.inPlace).toBe(false);
    const sku = compileBytePattern('^[A-Z]{3}-[0-9]{4}$')!;
    expect(inPlace(sku, '"SKU-1000"')).toBe(9);
    expect(inPlace(sku, '"SKU-100"')).toBe(-1);
    expect(inPlace(sku, '"SKU-10000"')).toBe(-1);
    // Escaped, it may still match: the general scan and the RegExp decide.
    expect(inPlace(sku, '"S\\u004bU-1000"')).toBe(-1);
    expect(inPlace(sku, '"SKU-1000')).toBe(-1);
  });
});

describe('byte matchers against the RegExp (differential)', () => {
  it('answer as the RegExp on near matches and on any text, for random patterns', () => {
    const seen = { compiled: 0, matched: 0, missed: 0, inPlace: 0 };
    fc.assert(
      fc.property(
        patternSource.chain((source) => {
          const pattern = regExpOf(source) === null ? null : compileBytePattern(source);
          const texts = pattern === null ? fc.constant([] as string[]) : fc.array(fc.oneof(nearMatch(pattern), fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 8 })), { minLength: 20, maxLength: 20 });
          return fc.tuple(fc.constant(source), texts);
        }),
        ([source, texts]) => {
          const regExp = regExpOf(source);
          const pattern = compileBytePattern(source);
          // A pattern the RegExp refuses never reaches the fast path (ajv refuses the schema): it must not compile here either.
          if (regExp === null) {
            expect(pattern, source).toBeNull();
            return;
          }
          if (pattern === null) return;
          seen.compiled++;
          for (const text of texts) {
            const expected = regExp.test(text);
            if (unescaped(text)) expect(matches(pattern, text), `${source} ${JSON.stringify(text)}`).toBe(expected);
            if (expected) seen.matched++;
            else seen.missed++;
            if (pattern.inPlace) {
              const written = JSON.stringify(text);
              const quote = inPlace(pattern, written);
              // In place says match only for a true match written without escapes, and finds its closing quote.
              if (quote >= 0) {
                expect(expected, `${source} ${written}`).toBe(true);
                expect(quote, `${source} ${written}`).toBe(Buffer.byteLength(written) - 1);
                seen.inPlace++;
              } else {
                expect(expected && written === `"${text}"` && /^[\u0020-\u007e]*$/.test(text), `${source} ${written}`).toBe(false);
              }
            }
          }
        },
      ),
      { numRuns: 1500 },
    );
    // About 270 patterns compile in 1500 runs, a third of their texts match, most matches are in place.
    expect(seen.compiled).toBeGreaterThan(150);
    expect(seen.matched).toBeGreaterThan(800);
    expect(seen.missed).toBeGreaterThan(800);
    expect(seen.inPlace).toBeGreaterThan(400);
  });

  it('meet boundary counts exactly', () => {
    const cases: [string, string[]][] = [
      ['^[a-z]{3}$', ['', 'ab', 'abc', 'abcd', 'aBc', 'ab1']],
      ['^[a-z]{2,4}[0-9]$', ['a1', 'ab1', 'abcd1', 'abcde1', 'ab', 'ab12']],
      ['^x{0,2}-*$', ['', 'x', 'xx', 'xxx', '-', 'xx--', 'x-x']],
      ['^[0-9]+$', ['', '0', '0123456789', '12a', '١٢']],
      ['^a?b?c?$', ['', 'a', 'abc', 'ac', 'ca', 'aa']],
    ];
    for (const [source, texts] of cases) {
      const regExp = new RegExp(source, 'u');
      const pattern = compileBytePattern(source)!;
      for (const text of texts) expect(matches(pattern, text), `${source} ${text}`).toBe(regExp.test(text));
    }
  });
});

describe('compileFastValidator with byte matchers against ajv', () => {
  it('gives ajv verdicts on plain, escaped, non-ASCII and wrong-length strings', () => {
    const sku: JsonSchema = { type: 'object', properties: { sku: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{4}$', minLength: 8 } } };
    const slug: JsonSchema = { type: 'string', pattern: '^[a-z0-9-]+$', maxLength: 5 };
    const quoted: JsonSchema = { type: 'string', pattern: '^[a"]{2}$' };
    const cases: [JsonSchema, string, boolean][] = [
      [sku, '{"sku":"SKU-1000"}', true],
      [sku, '{"sku":"SKU-100"}', false],
      [sku, '{"sku":"SKU-10000"}', false],
      [sku, '{"sku":"S\\u004bU-1000"}', true],
      [sku, '{"sku":"SKU\\u002d1000"}', true],
      [sku, '{"sku":"SKU-100\\u0030"}', true],
      [sku, '{"sku":"SKU-100\\n"}', false],
      [sku, '{"sku":"ÀBC-1000"}', false],
      [sku, '{"sku":"SKU-1000","sku":"x"}', false],
      [sku, '{"sku":"SKU-1000"', false],
      [sku, '{"sku":"SKU-1000" }', true],
      [slug, '"a-b"', true],
      [slug, '"a-b-cd"', false],
      [slug, '""', false],
      [slug, '"A"', false],
      [slug, '"é"', false],
      [slug, '"a\\u002db"', true],
      [quoted, '"a\\""', true],
      [quoted, '"\\"\\""', true],
      [quoted, '"ab"', false],
    ];
    for (const [schema, text, valid] of cases) {
      const verdicts = checker(schema).verdicts(text);
      expect(verdicts.slow, text).toBe(valid);
      // The fast path may fall back, never contradict.
      expect(verdicts.fast === 'valid' ? true : verdicts.fast === 'invalid' ? false : valid, `${JSON.stringify(schema)} ${text}`).toBe(valid);
    }
    expect(checker(sku).verdicts('{"sku":"SKU-1000"}').fast).toBe('valid');
    expect(checker(slug).verdicts('"a-b"').fast).toBe('valid');
  });
});
