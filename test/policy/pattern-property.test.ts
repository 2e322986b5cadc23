import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesName, parseSegmentPattern, type NamePattern } from '../../src/policy/index.js';
import { patternCovers, prefixPattern } from '../../src/policy/name-pattern.js';

/**
 * The matcher against a reference written the other way: a pattern becomes an anchored regular
 * expression, '*' one segment of no dots and '>' one or more such segments.
 */
function reference(pattern: string, name: string): boolean {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const source = pattern
    .split('.')
    .map((segment) => (segment === '*' ? '[^.]+' : segment === '>' ? '[^.]+(?:\\.[^.]+)*' : escape(segment)))
    .join('\\.');
  return new RegExp(`^${source}$`, 'u').test(name);
}

// Small alphabets so that matches are frequent; names may hold pattern characters, dots, percent
// signs and a Cyrillic look-alike, patterns only valid segments.
const nameChar = fc.constantFrom('a', 'b', '.', '*', '>', '%', '\u043e', 'o');
const name = fc.string({ unit: nameChar, minLength: 1, maxLength: 12 });
const literalSegment = fc.string({ unit: fc.constantFrom('a', 'b', 'o'), minLength: 1, maxLength: 2 });
const segmentPattern = fc
  .tuple(fc.array(fc.oneof(literalSegment, fc.constant('*')), { minLength: 0, maxLength: 4 }), fc.boolean())
  .filter(([segments, tail]) => segments.length > 0 || tail)
  .map(([segments, tail]) => [...segments, ...(tail ? ['>'] : [])].join('.'));

function compile(text: string): NamePattern {
  const pattern = parseSegmentPattern(text);
  if ('invalid' in pattern) throw new Error(`generated an invalid pattern ${text}`);
  return pattern;
}

describe('pattern matching properties', () => {
  it('literal, "*" and ">" patterns match exactly what the reference matches', () => {
    fc.assert(
      fc.property(segmentPattern, name, (pattern, candidate) => {
        expect(matchesName(compile(pattern), candidate)).toBe(reference(pattern, candidate));
      }),
      { numRuns: 5000 },
    );
  });

  it('names built to match do match, and one segment more or less does not for "*"', () => {
    fc.assert(
      fc.property(fc.array(literalSegment, { minLength: 1, maxLength: 4 }), (segments) => {
        const full = segments.join('.');
        const starred = [...segments.slice(0, -1), '*'].join('.');
        expect(matchesName(compile(starred), full)).toBe(true);
        expect(matchesName(compile(starred), `${full}.x`)).toBe(false);
        expect(matchesName(compile(`${full}.>`), `${full}.x`)).toBe(true);
        expect(matchesName(compile(`${full}.>`), full)).toBe(false);
      }),
    );
  });

  it('prefix patterns are plain string prefixes', () => {
    fc.assert(
      fc.property(name, name, (prefix, candidate) => {
        expect(matchesName(prefixPattern(prefix), candidate)).toBe(candidate.startsWith(prefix));
      }),
    );
  });

  it('pattern characters in a name are literal: swapping them for a letter no pattern uses changes nothing', () => {
    fc.assert(
      fc.property(segmentPattern, name, (pattern, candidate) => {
        const plain = candidate.replace(/[*>%]/g, 'z');
        expect(matchesName(compile(pattern), candidate)).toBe(matchesName(compile(pattern), plain));
      }),
      { numRuns: 5000 },
    );
  });

  it('a name never matches a literal pattern it is not equal to', () => {
    fc.assert(
      fc.property(fc.array(literalSegment, { minLength: 1, maxLength: 3 }), name, (segments, candidate) => {
        const literal = segments.join('.');
        expect(matchesName(compile(literal), candidate)).toBe(candidate === literal);
      }),
    );
  });

  it("lint's coverage check is sound: a covered pattern's names are all matched by the cover", () => {
    const anyPattern = fc.oneof(
      segmentPattern.map(compile),
      fc.string({ unit: fc.constantFrom('a', 'b', '.'), minLength: 1, maxLength: 4 }).map(prefixPattern),
    );
    // Names of `inner` built from it (wildcards filled with generated segments), plus random ones.
    const instance = (pattern: NamePattern, fill: string[]): string => {
      if (pattern.type !== 'segments') return pattern.type === 'prefix' ? `${pattern.text}${fill.join('.')}` : pattern.text;
      const parts = pattern.segments.map((segment, i) => (segment === '*' ? fill[i % fill.length]! : segment));
      return [...parts, ...(pattern.tail ? fill.slice(0, 1 + (fill.length % 3)) : [])].join('.');
    };
    let covered = 0;
    fc.assert(
      fc.property(anyPattern, anyPattern, fc.array(literalSegment, { minLength: 1, maxLength: 5 }), name, (outer, inner, fill, random) => {
        if (!patternCovers(outer, inner)) return;
        covered += 1;
        for (const candidate of [instance(inner, fill), random]) {
          if (matchesName(inner, candidate)) expect(matchesName(outer, candidate), `${outer.text} ⊇ ${inner.text} for ${candidate}`).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
    expect(covered).toBeGreaterThan(100);
  });
});
