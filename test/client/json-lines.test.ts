import { describe, expect, it } from 'vitest';
import { splitLines } from '../../src/client/json-lines.js';

async function collect(chunks: readonly (Buffer | string)[], max = 64): Promise<string[]> {
  async function* source(): AsyncGenerator<Buffer | string> {
    yield* chunks;
  }
  const lines: string[] = [];
  for await (const line of splitLines(source(), max)) lines.push(line);
  return lines;
}

describe('splitLines', () => {
  it('splits on \\n across chunk boundaries, drops \\r before it, and keeps a last line without newline', async () => {
    expect(await collect(['a\nb', 'c\r\n', '\n', 'd'])).toEqual(['a', 'bc', '', 'd']);
    expect(await collect(['a\n'])).toEqual(['a']);
    expect(await collect([])).toEqual([]);
  });

  it('decodes a character split between chunks', async () => {
    const bytes = Buffer.from('é€\n', 'utf8');
    expect(await collect([bytes.subarray(0, 1), bytes.subarray(1, 3), bytes.subarray(3)])).toEqual(['é€']);
  });

  it('holds at most max + 1 bytes of an over-long line, so it still reads as too long, and goes on after it', async () => {
    const long = 'x'.repeat(1000);
    const lines = await collect([long.slice(0, 300), long.slice(300), '\nnext\n'], 64);
    expect(lines).toEqual(['x'.repeat(65), 'next']);
    // A cut in the middle of a multi-byte character still decodes to more than the bound.
    const wide = await collect([`${'€'.repeat(100)}\n`], 64);
    expect(Buffer.byteLength(wide[0]!, 'utf8')).toBeGreaterThan(64);
  });
});
