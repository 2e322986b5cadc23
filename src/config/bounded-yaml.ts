import { Composer, Lexer, LineCounter, Parser, YAMLParseError, type CST, type Document } from 'yaml';

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
 * Composes one YAML (or, with `json`, JSON) document from untrusted text, with bounded nesting,
 * unique keys and no merge keys; a second document is an error on the first. Throws YamlTooDeep.
 * Read values with `doc.toJS({ maxAliasCount })` to bound alias expansion as well.
 */
export function composeYaml(text: string, lineCounter: LineCounter, options: { json: boolean }): Document.Parsed | null {
  const composer = new Composer({ uniqueKeys: true, strict: true, version: '1.2', schema: options.json ? 'json' : 'core', merge: false });
  let doc: Document.Parsed | null = null;
  lineCounter.addNewLine(0); // what Parser.parse does first, so that line numbers start at 1
  for (const composed of composer.compose(boundedTokens(new Parser(lineCounter.addNewLine), text), true, text.length)) {
    if (doc !== null) {
      doc.errors.push(new YAMLParseError([composed.range[0], composed.range[1]], 'MULTIPLE_DOCS', 'a file holds one document'));
      break;
    }
    doc = composed;
  }
  return doc;
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
  return doc.toJS({ maxAliasCount: options.maxAliasCount });
}
