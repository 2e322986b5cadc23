/**
 * Writes a generated value as the bytes of a record, in a style drawn by fast-check: whitespace,
 * \u escapes, integers written with a fraction, repeated keys, and damage to the bytes. Records
 * whether the result is plain (see fast-validator-arbitraries.ts).
 */
import fc from 'fast-check';
import { Entries, Literal, type Json } from './fast-validator-arbitraries.js';

const SPACES = [' ', '\n', '\t', '\r\n', '  \n\t '];
const GARBAGE = [',', 'x', '}', ']', ' 1', '\u0000', '"'];
/** Inserted right after a quote: bytes that are not UTF-8, raw control characters, bad escapes. */
const IN_STRING = [
  [0x80], [0xc3], [0xed, 0xa0, 0x80], [0xff], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82],
  [0x00], [0x0a], [0x1f], [0x09],
  [0x5c, 0x78], [0x5c, 0x75, 0x31, 0x32], [0x5c, 0x27], [0x5c],
];

type Damage = { readonly kind: 'truncate' | 'insert' | 'replace' | 'append' | 'trailing comma' | 'in a string'; readonly at: number; readonly byte: number };

export interface Style {
  readonly seed: number;
  readonly whitespace: boolean;
  readonly escapeRate: number;
  readonly integersWithFraction: boolean;
  readonly repeatKeys: boolean;
  readonly damage: Damage | undefined;
}

export const styleArbitrary: fc.Arbitrary<Style> = fc.record({
  seed: fc.integer(),
  whitespace: fc.boolean(),
  escapeRate: fc.constantFrom(0, 0, 0, 0.1, 0.5),
  integersWithFraction: fc.boolean(),
  repeatKeys: fc.boolean(),
  // One record in five.
  damage: fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('truncate', 'insert', 'replace', 'append', 'trailing comma', 'in a string', 'in a string', 'in a string', 'in a string'), at: fc.nat(), byte: fc.nat(255) }) },
  ),
});

export interface Written {
  readonly bytes: Buffer;
  readonly plain: boolean;
}

/** A small deterministic generator, so that a failing case replays from its seed. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32;
  };
}

const hex = (unit: number): string => `\\u${unit.toString(16).padStart(4, '0')}`;

function damage(bytes: Buffer, { kind, at, byte }: Damage): Buffer {
  const position = bytes.length === 0 ? 0 : at % bytes.length;
  const insert = (where: number, inserted: readonly number[]): Buffer => Buffer.concat([bytes.subarray(0, where), Buffer.from(inserted), bytes.subarray(where)]);
  switch (kind) {
    case 'truncate':
      return bytes.subarray(0, position);
    case 'insert':
      return insert(position, [byte]);
    case 'replace':
      return bytes.length === 0 ? bytes : Buffer.from(bytes.map((value, index) => (index === position ? byte : value)));
    case 'append':
      return Buffer.concat([bytes, Buffer.from(GARBAGE[at % GARBAGE.length]!)]);
    case 'trailing comma': {
      const close = Math.max(bytes.lastIndexOf(0x5d), bytes.lastIndexOf(0x7d));
      return close < 0 ? insert(position, [0x2c]) : insert(close, [0x2c]);
    }
    case 'in a string': {
      const quotes = [...bytes.keys()].filter((index) => bytes[index] === 0x22);
      const where = quotes.length === 0 ? position : quotes[at % quotes.length]! + 1;
      return insert(where, IN_STRING[byte % IN_STRING.length]!);
    }
  }
}

export function write(value: Json, style: Style): Written {
  const random = generator(style.seed);
  let plain = true;
  const space = (): string => (style.whitespace && random() < 0.4 ? SPACES[Math.floor(random() * SPACES.length)]! : '');

  const string = (text: string): string => {
    let out = '"';
    for (const character of text) {
      const code = character.codePointAt(0)!;
      const lone = code >= 0xd800 && code <= 0xdfff;
      if (lone || random() < style.escapeRate) {
        out += [...Array(character.length).keys()].map((index) => hex(character.charCodeAt(index))).join('');
        plain = false;
      } else if (character === '"' || character === '\\' || code < 0x20) {
        out += JSON.stringify(character).slice(1, -1);
        plain = false;
      } else {
        if (code >= 0x80) plain = false;
        out += character;
      }
    }
    return `${out}"`;
  };

  const number = (written: number | Literal): string => {
    let text = written instanceof Literal ? written.text : JSON.stringify(written);
    if (style.integersWithFraction && /^-?\d+$/.test(text) && text.length < 15) text += '.0';
    if (/[eE]/.test(text) || /^-?\d{16}/.test(text)) plain = false;
    return text;
  };

  const object = (entries: (readonly [string, Json])[]): string => {
    if (style.repeatKeys && entries.length > 0 && random() < 0.3) {
      const [key, original] = entries[Math.floor(random() * entries.length)]!;
      const repeated: Json = [original, null, 0, 'x', []][Math.floor(random() * 5)]!;
      entries.splice(Math.floor(random() * (entries.length + 1)), 0, [key, repeated]);
    }
    if (new Set(entries.map(([key]) => key)).size !== entries.length) plain = false;
    const members = entries.map(([key, member]) => `${string(key)}${space()}:${space()}${any(member)}`);
    return `{${space()}${members.join(`${space()},${space()}`)}${space()}}`;
  };

  const any = (written: Json): string => {
    if (written === null || typeof written === 'boolean') return String(written);
    if (typeof written === 'number' || written instanceof Literal) return number(written);
    if (typeof written === 'string') return string(written);
    if (Array.isArray(written)) return `[${space()}${written.map(any).join(`${space()},${space()}`)}${space()}]`;
    return object(written instanceof Entries ? [...written.entries] : Object.entries(written));
  };

  let bytes: Buffer = Buffer.from(`${space()}${any(value)}${space()}`, 'utf8');
  if (style.damage !== undefined) {
    bytes = damage(bytes, style.damage);
    plain = false;
  }
  return { bytes, plain };
}
