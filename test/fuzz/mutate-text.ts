/**
 * Mutations of valid text documents (YAML, JSON): insertions of syntax that means something to a
 * parser, removed and duplicated lines, indentation changes, deep nesting; and hostile YAML
 * documents (alias bombs, long lists, many keys, deep blocks, tags, merge keys).
 */
import fc from 'fast-check';

export type TextMutation =
  | { readonly kind: 'insert'; readonly at: number; readonly text: string }
  | { readonly kind: 'remove'; readonly at: number; readonly length: number }
  | { readonly kind: 'replace-char'; readonly at: number; readonly text: string }
  | { readonly kind: 'duplicate-line'; readonly line: number; readonly to: number }
  | { readonly kind: 'swap-lines'; readonly line: number; readonly other: number }
  | { readonly kind: 'indent'; readonly line: number; readonly by: number }
  | { readonly kind: 'nest'; readonly at: number; readonly open: string; readonly depth: number }
  | { readonly kind: 'cut'; readonly at: number };

/** Fragments that mean something to YAML or JSON parsers: tags, anchors, aliases, merge keys, documents, odd scalars. */
export const SYNTAX_FRAGMENTS = [
  '&a ', '*a', '<<: *a', '!!binary ', '!!set ', '!!map ', '!!str ', '!!int ', '!!float ', '!!omap ', '!custom ', '!<tag:x> ',
  '? ', ': ', '- ', '---\n', '...\n', '%YAML 1.1\n', '%TAG ! tag:x,2000:\n', '~', 'null', '.inf', '-.inf', '.nan', '0x1F', '0o17',
  '1e400', '-0', '9007199254740993', '1_000', 'true', 'yes', 'on', '{', '}', '[', ']', ',', '"', "'", '#', '|', '>', '\t', '\r',
  '\u0000', '\u0085', '\u2028', '\ufeff', '\ud800', '\\u0000', '\\ud800', '__proto__', 'constructor', '"__proto__": {}', '\n',
];

const fragment = fc.oneof(
  fc.constantFrom(...SYNTAX_FRAGMENTS),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fragment }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('replace-char' as const), at: fc.nat(), text: fragment }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate-line' as const), line: fc.nat(), to: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('swap-lines' as const), line: fc.nat(), other: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('indent' as const), line: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('nest' as const),
      at: fc.nat(),
      open: fc.constantFrom('[', '{"a":', '{a: ', '- ', '? ', '[{', '&x [', '!!seq ['),
      depth: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 40, max: 3000 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }) },
);

export const textMutations = (max = 4): fc.Arbitrary<TextMutation[]> => fc.array(textMutation, { minLength: 1, maxLength: max });

export function mutateText(original: string, steps: readonly TextMutation[]): string {
  let text = original;
  for (const step of steps) {
    const lines = text.split('\n');
    switch (step.kind) {
      case 'insert': {
        const at = step.at % (text.length + 1);
        text = text.slice(0, at) + step.text + text.slice(at);
        break;
      }
      case 'remove': {
        const at = step.at % (text.length + 1);
        text = text.slice(0, at) + text.slice(at + step.length);
        break;
      }
      case 'replace-char': {
        const at = step.at % (text.length + 1);
        text = text.slice(0, at) + step.text + text.slice(at + 1);
        break;
      }
      case 'duplicate-line': {
        const line = lines[step.line % lines.length]!;
        lines.splice(step.to % (lines.length + 1), 0, line);
        text = lines.join('\n');
        break;
      }
      case 'swap-lines': {
        const a = step.line % lines.length;
        const b = step.other % lines.length;
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        text = lines.join('\n');
        break;
      }
      case 'indent': {
        const index = step.line % lines.length;
        const line = lines[index]!;
        lines[index] = step.by >= 0 ? ' '.repeat(step.by) + line : line.replace(new RegExp(`^ {0,${-step.by}}`), '');
        text = lines.join('\n');
        break;
      }
      case 'nest': {
        const at = step.at % (text.length + 1);
        text = text.slice(0, at) + step.open.repeat(step.depth) + text.slice(at);
        break;
      }
      case 'cut':
        text = text.slice(0, step.at % (text.length + 1));
        break;
    }
  }
  return text;
}

/**
 * Hostile YAML documents of a few hundred bytes: alias bombs (each level repeats the one before),
 * long flow lists, many keys, deep block nesting, merge keys and tags.
 */
const size = (small: number, large: number) => fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: small }) }, { weight: 1, arbitrary: fc.integer({ min: small, max: large }) });

export const hostileYaml: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 2, max: 12 }).map((levels) => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
    return `${lines.join('\n')}\n`;
  }),
  size(50, 20_000).map((count) => `list: [${Array.from({ length: count }, () => '1').join(',')}]\n`),
  size(50, 5_000).map((count) => Array.from({ length: count }, (_, i) => `k${i}: ${i}`).join('\n')),
  size(40, 200).map((depth) => Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + ' 1\n'),
  size(40, 2_000).map((depth) => '- '.repeat(depth) + 'x\n'),
  fc.constantFrom(
    'base: &b {version: 1}\nmerged:\n  <<: *b\n',
    '!!binary aGVsbG8=\n',
    '? [a, b]\n: c\n',
    '? {a: 1}\n: c\n',
    '--- 1\n--- 2\n',
    'a: 1\na: 2\n',
    '{"a": 1, "a": 2}',
    '!!set {a, b}\n',
    'a: !!js/function "function(){}"\n',
    '%YAML 1.1\n---\na: yes\n',
    'a: &x\n  b: *x\n',
    '"\\ud800"',
    '\ufeff{}',
  ),
);
