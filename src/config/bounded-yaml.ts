import { Composer, Lexer, LineCounter, Parser, YAMLParseError, isMap, isScalar, isSeq, visit, type CST, type Document, type Node as YamlNode } from 'yaml';

/** Nesting of the parser's stack that untrusted YAML may reach; real configuration and policy files stay far below. */
export const MAX_YAML_NESTING = 32;

/** Thrown by `composeYaml` when collections nest deeper than MAX_YAML_NESTING; `offset` is where. */
export class YamlTooDeep extends Error {
  constructor(readonly offset: number) {
    super(`collections nest more than ${MAX_YAML_NESTING} levels deep`);
  }
}

/**
 * The yaml parser's tokens, stopped as soon as its stack grows past MAX_YAML_NESTING. The composer
 * recurses once per level, and deep enough input (`- - - - ...`, `[[[[...`) kills the process
 * outright (V8 runs out of stack inside a regular expression, which no try/catch sees), so depth
 * is bounded before anything is composed. This is `Parser.parse` with the check added.
 */
function* boundedTokens(parser: Parser, source: string): Generator<CST.Token> {
  for (const lexeme of new Lexer().lex(source)) {
    yield* parser.next(lexeme);
    if (parser.stack.length > MAX_YAML_NESTING) throw new YamlTooDeep(parser.offset);
  }
  yield* parser.end();
}

/**
 * Errors the yaml library does not report, added to the document's in file order:
 * - duplicate keys: its own `uniqueKeys` compares each key with every key before it in its map (a
 *   1 MiB file of distinct keys took minutes); this checks once per key, scalar keys by value (as
 *   the library does), other keys never equal;
 * - numbers that are not finite (`.nan`, `.inf`, `-.inf`, `1e999`): they have no JSON value, and a
 *   JSON Schema check of them says nothing sensible (NaN fails every bound, Infinity passes minimums).
 */
function reportUnsafeValues(doc: Document.Parsed): void {
  const found: YAMLParseError[] = [];
  const at = (node: YamlNode): number => node.range?.[0] ?? 0;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (seen.has(key.value)) found.push(new YAMLParseError([at(key), at(key) + 1], 'DUPLICATE_KEY', 'Map keys must be unique'));
        seen.add(key.value);
      }
    },
    Scalar(_, scalar) {
      if (typeof scalar.value === 'number' && !Number.isFinite(scalar.value)) {
        found.push(new YAMLParseError([at(scalar), at(scalar) + 1], 'TAG_RESOLVE_FAILED', `${scalar.source ?? String(scalar.value)} is not a finite number; JSON has no such value`));
      }
    },
  });
  if (found.length === 0) return;
  const ordered = [...doc.errors, ...found].sort((a, b) => a.pos[0] - b.pos[0]);
  doc.errors.splice(0, doc.errors.length, ...ordered);
}

/**
 * Composes one YAML (or, with `json`, JSON) document from untrusted text, with bounded nesting,
 * unique keys, finite numbers and no merge keys; a second document is an error on the first. Throws YamlTooDeep.
 * Read values with `doc.toJS({ maxAliasCount })` to bound alias expansion as well.
 */
export function composeYaml(text: string, lineCounter: LineCounter, options: { json: boolean }): Document.Parsed | null {
  // resolveKnownTags: false, or `!!omap`, `!!set`, `!!binary` and `!!timestamp` would make Maps, Sets,
  // buffers and Dates, whose entries a JSON Schema does not see: `auth: !!omap [...]` passed with every
  // setting in it left at its default. Those tags now read as what they tag (a list, a map, a string).
  const composer = new Composer({ uniqueKeys: false, strict: true, version: '1.2', schema: options.json ? 'json' : 'core', merge: false, resolveKnownTags: false });
  let doc: Document.Parsed | null = null;
  lineCounter.addNewLine(0); // what Parser.parse does first, so that line numbers start at 1
  for (const composed of composer.compose(boundedTokens(new Parser(lineCounter.addNewLine), text), true, text.length)) {
    if (doc !== null) {
      doc.errors.push(new YAMLParseError([composed.range[0], composed.range[1]], 'MULTIPLE_DOCS', 'a file holds one document'));
      break;
    }
    doc = composed;
  }
  if (doc !== null) reportUnsafeValues(doc);
  return doc;
}

/**
 * Where the first key that is not a scalar is, or null. toJS would stringify such a key, at a cost
 * that grows steeply with nesting, into a name no file means (and warns on stderr).
 */
export function firstComplexKey(root: unknown): number | null {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const node = pending.pop();
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isScalar(pair.key)) return (pair.key as YamlNode | null)?.range?.[0] ?? 0;
        pending.push(pair.value);
      }
    } else if (isSeq(node)) {
      pending.push(...node.items);
    }
  }
  return null;
}

/** Parses untrusted YAML or JSON text to a plain value; throws an Error whose message says what is wrong and on which line. */
export function parseBoundedYaml(text: string, options: { json: boolean; maxAliasCount: number }): unknown {
  const lineCounter = new LineCounter();
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  let doc: Document.Parsed | null;
  try {
    doc = composeYaml(text, lineCounter, options);
  } catch (err) {
    if (err instanceof YamlTooDeep) throw new Error(`line ${lineAt(err.offset)}: ${err.message}`);
    if (err instanceof RangeError) throw new Error('the document nests too deeply');
    throw err;
  }
  if (doc === null) return undefined;
  const error = doc.errors[0];
  if (error !== undefined) throw new Error(`line ${lineAt(error.pos[0])}: ${error.message.split('\n')[0] ?? 'cannot be parsed'}`);
  const complexKey = firstComplexKey(doc.contents);
  if (complexKey !== null) throw new Error(`line ${lineAt(complexKey)}: map keys must be plain strings`);
  return doc.toJS({ maxAliasCount: options.maxAliasCount });
}
