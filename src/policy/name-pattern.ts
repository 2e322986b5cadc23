/**
 * Topic and consumer-group patterns. Patterns exist only on the policy side: a requested name is
 * always a literal string, so a name holding '*', '>', '%' or '..' matches exactly what a name of
 * those characters would, never more. Comparison is by UTF-16 code units: no case folding, no
 * Unicode normalization, no trimming, no percent-decoding.
 *
 * - literal `orders.eu`: that name only;
 * - `*` is exactly one whole, non-empty segment (`orders.*` matches `orders.eu`, not `orders` nor `orders.eu.1`);
 * - `>` is one or more trailing non-empty segments, and only as the last segment;
 * - prefix (`topicPrefix`, `groupPrefix`): a plain string prefix, no wildcards at all.
 *
 * A name with an empty segment (`a..b`, `.a`, `a.`) is matched by literals and prefixes only,
 * never by a wildcard, so `..` cannot stretch a wildcard over segments it does not see.
 */
export type NamePattern =
  | { readonly type: 'literal'; readonly text: string }
  /** `segments` holds '*' or literal segments before the tail; `tail` is a final '>'. */
  | { readonly type: 'segments'; readonly text: string; readonly segments: readonly string[]; readonly tail: boolean }
  | { readonly type: 'prefix'; readonly text: string };

/** A requested name cut at the dots once, shared by every pattern it is tested against. */
export interface SplitName {
  readonly name: string;
  readonly parts: readonly string[];
  readonly hasEmptySegment: boolean;
}

export function splitName(name: string): SplitName {
  const parts = name.split('.');
  return { name, parts, hasEmptySegment: parts.includes('') };
}

/** Parses a segment pattern (`orders`, `orders.*`, `orders.>`); returns why it can never match otherwise. */
export function parseSegmentPattern(text: string): NamePattern | { readonly invalid: string } {
  if (text.length === 0) return { invalid: 'the pattern is empty' };
  const parts = text.split('.');
  let wildcard = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '') return { invalid: `pattern "${text}" can never match: it has an empty segment (a leading, trailing or doubled ".")` };
    if (part === '>') {
      if (i !== parts.length - 1) {
        return { invalid: `pattern "${text}" can never match: ">" stands for the rest of a name, so it must be the last segment` };
      }
      wildcard = true;
    } else if (part === '*') {
      wildcard = true;
    } else if (part.includes('*') || part.includes('>')) {
      return {
        invalid:
          `pattern "${text}" can never match: "${part}" mixes a wildcard with other characters; ` +
          '"*" and ">" must be a whole segment (write "orders.*"), and a plain prefix is written with topicPrefix or groupPrefix',
      };
    }
  }
  if (!wildcard) return { type: 'literal', text };
  const tail = parts[parts.length - 1] === '>';
  return { type: 'segments', text, segments: tail ? parts.slice(0, -1) : parts, tail };
}

export function prefixPattern(text: string): NamePattern {
  return { type: 'prefix', text };
}

export function matchesSplit(pattern: NamePattern, name: SplitName): boolean {
  switch (pattern.type) {
    case 'literal':
      return pattern.text === name.name;
    case 'prefix':
      return name.name.startsWith(pattern.text);
    case 'segments': {
      if (name.hasEmptySegment) return false;
      const { segments, tail } = pattern;
      const parts = name.parts;
      if (tail ? parts.length <= segments.length : parts.length !== segments.length) return false;
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i]!;
        if (segment !== '*' && segment !== parts[i]) return false;
      }
      return true;
    }
  }
}

export function matchesName(pattern: NamePattern, name: string): boolean {
  return matchesSplit(pattern, splitName(name));
}

/**
 * Whether every name `inner` matches is also matched by `outer`. Conservative: false when unsure,
 * so lint never claims a rule is shadowed when it is not.
 */
export function patternCovers(outer: NamePattern, inner: NamePattern): boolean {
  if (inner.type === 'literal') return matchesName(outer, inner.text);
  if (outer.type === 'literal') return false;
  if (outer.type === 'prefix') {
    if (inner.type === 'prefix') return inner.text.startsWith(outer.text);
    const fixed: string[] = [];
    for (const segment of inner.segments) {
      if (segment === '*') break;
      fixed.push(segment);
    }
    // Every name of `inner` starts with its literal leading segments and a dot.
    return fixed.length > 0 && `${fixed.join('.')}.`.startsWith(outer.text);
  }
  if (inner.type === 'prefix') return false;
  const innerMin = inner.segments.length + (inner.tail ? 1 : 0);
  if (outer.tail) {
    if (innerMin < outer.segments.length + 1) return false;
  } else if (inner.tail || inner.segments.length !== outer.segments.length) {
    return false;
  }
  for (let i = 0; i < outer.segments.length; i++) {
    const segment = outer.segments[i]!;
    if (segment !== '*' && inner.segments[i] !== segment) return false;
  }
  return true;
}

/**
 * Whether some name can match both patterns. Callers use it to find the deny rules that might
 * apply, so it must never say false when a name matches both; it is exact for the three kinds of
 * pattern, and any kind added later must answer true when unsure.
 */
export function patternsIntersect(a: NamePattern, b: NamePattern): boolean {
  if (a.type === 'literal') return matchesName(b, a.text);
  if (b.type === 'literal') return matchesName(a, b.text);
  if (a.type === 'prefix') return b.type === 'prefix' ? a.text.startsWith(b.text) || b.text.startsWith(a.text) : prefixMeetsSegments(a.text, b);
  if (b.type === 'prefix') return prefixMeetsSegments(b.text, a);
  return segmentsMeet(a, b);
}

type SegmentsPattern = Extract<NamePattern, { type: 'segments' }>;

/** Two segment patterns: a length both allow, and no position where both hold different literals. */
function segmentsMeet(a: SegmentsPattern, b: SegmentsPattern): boolean {
  const lengthsMeet =
    (a.tail && b.tail) ||
    (a.tail ? b.segments.length > a.segments.length : b.tail ? a.segments.length > b.segments.length : a.segments.length === b.segments.length);
  if (!lengthsMeet) return false;
  // Past the shorter list, the other pattern's '>' takes any non-empty segments.
  const shared = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < shared; i++) {
    const left = a.segments[i]!;
    const right = b.segments[i]!;
    if (left !== '*' && right !== '*' && left !== right) return false;
  }
  return true;
}

/**
 * A name starting with `prefix` and matching `pattern`: the prefix's complete segments must fit
 * the pattern's, and its last, partial segment must begin one the pattern allows there.
 */
function prefixMeetsSegments(prefix: string, pattern: SegmentsPattern): boolean {
  const { segments, tail } = pattern;
  const whole = prefix.split('.');
  const partial = whole.pop()!;
  // A wildcard never matches an empty segment, and literal segments are never empty.
  if (whole.includes('')) return false;
  for (let i = 0; i < whole.length; i++) {
    if (i >= segments.length) return tail;
    const segment = segments[i]!;
    if (segment !== '*' && segment !== whole[i]) return false;
  }
  if (whole.length >= segments.length) return tail;
  const segment = segments[whole.length]!;
  return segment === '*' || segment.startsWith(partial);
}
