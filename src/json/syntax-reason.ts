/**
 * The reason of a JSON syntax error, in words that never echo the input: V8's own messages quote
 * up to 20 characters of the text (`Unexpected token 'x', ..."{"secret": x}"... is not valid
 * JSON`), and the text may be a token, a key or a payload. What is kept is V8's description of the
 * problem, at most one offending character, and the byte position.
 *
 * V8 gives no structured position, so it is read from the message; where the message carries
 * none (an unexpected character), the text is parsed once more with spaces around it, which makes
 * V8 quote exactly 10 characters before the offending one, and that context is looked up. This is
 * the error path only: it costs a second parse of a document that was refused anyway.
 */

/** V8 quotes this many characters on each side of an unexpected one. */
const CONTEXT_CHARS = 10;
/** More than CONTEXT_CHARS, so that V8 quotes a full context on both sides. */
const PADDING = ' '.repeat(CONTEXT_CHARS + 1);

const AT_POSITION = /^([\s\S]*?)(?: in JSON)? at position (\d+)/;
const UNEXPECTED_IN_CONTEXT = /^Unexpected token '([\s\S]*?)', \.\.\."([\s\S]*)"\.\.\. is not valid JSON$/;

/** The offending character, shown only when it is printable ASCII. */
function characterName(character: string): string {
  const code = character.codePointAt(0) ?? 0;
  if (character.length === 1 && code > 0x20 && code < 0x7f) return `'${character}'`;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Byte offset in the UTF-8 form of `text` of character index `index`. */
function byteOffset(text: string, index: number, ascii: boolean): number {
  return ascii ? index : Buffer.byteLength(text.slice(0, index), 'utf8');
}

function endOfInput(text: string, ascii: boolean): string {
  return `the text ends too early (at byte ${byteOffset(text, text.length, ascii)})`;
}

/** Where V8 met an unexpected character, found from the context it quotes, or null. */
function unexpectedCharacter(text: string, ascii: boolean): string | null {
  try {
    JSON.parse(PADDING + text + PADDING);
  } catch (err) {
    const match = UNEXPECTED_IN_CONTEXT.exec((err as Error).message);
    if (match === null) return null;
    const found = (PADDING + text + PADDING).indexOf(match[2]!);
    if (found === -1) return null;
    const index = found + CONTEXT_CHARS - PADDING.length;
    // The character was one of the spaces after the text: a literal such as `tru` was cut short.
    if (index >= text.length) return endOfInput(text, ascii);
    return `unexpected character ${characterName(match[1]!)} at byte ${byteOffset(text, index, ascii)}`;
  }
  return null;
}

/**
 * The reason of `error`, thrown by `JSON.parse(text)`. `ascii` says that every character of
 * `text` is one byte, which spares the conversion of positions to bytes.
 */
export function syntaxReason(error: unknown, text: string, ascii: boolean): string {
  if (text.trim() === '') return 'it is empty';
  const message = error instanceof Error ? error.message : '';
  const positioned = AT_POSITION.exec(message);
  // V8's descriptions before "in JSON at position" quote nothing of the input; one that did is not used.
  if (positioned !== null && !positioned[1]!.includes('"')) {
    const index = Number(positioned[2]);
    return `${positioned[1]!} at byte ${byteOffset(text, Math.min(index, text.length), ascii)}`;
  }
  if (message.startsWith('Unexpected end of JSON input')) return endOfInput(text, ascii);
  return unexpectedCharacter(text, ascii) ?? 'the text is not JSON (V8 gave no position)';
}
