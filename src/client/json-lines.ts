/**
 * Splitting a byte stream into lines in bounded memory, for JSON-lines exports of any size. A
 * line is never held beyond `maxLineBytes + 1` bytes: the rest of an over-long line is dropped, so
 * the line handed on is still longer than the bound and whoever parses it can name it as malformed
 * instead of running out of memory.
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * The lines of `chunks`, without their `\n` (or `\r\n`). A last line without a final newline is
 * yielded too; the empty piece after a final newline is not.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer | string>, maxLineBytes: number): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  let size = 0;
  const take = (): string => {
    let line = Buffer.concat(parts, Math.min(size, maxLineBytes + 1));
    if (line.length <= maxLineBytes && line.at(-1) === CARRIAGE_RETURN) line = line.subarray(0, -1);
    parts = [];
    size = 0;
    return line.toString('utf8');
  };
  const keep = (piece: Buffer): void => {
    const room = maxLineBytes + 1 - Math.min(size, maxLineBytes + 1);
    if (room > 0) parts.push(piece.subarray(0, room));
    size += piece.length;
  };
  for await (const chunk of chunks) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    for (let end = bytes.indexOf(NEWLINE, start); end !== -1; end = bytes.indexOf(NEWLINE, start)) {
      keep(bytes.subarray(start, end));
      yield take();
      start = end + 1;
    }
    if (start < bytes.length) keep(bytes.subarray(start));
  }
  if (size > 0) yield take();
}
