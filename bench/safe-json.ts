/**
 * parseJson against bare JSON.parse on ~1 KiB JSON records (`npm run bench:json`).
 *
 * JSON.parse(buf.toString())  what the broker did before: decode the record, parse it. The
 *                             reference the target (parseJson at most 1.3x its time) is set against.
 * JSON.parse(string)          the parse alone, on text decoded beforehand, for reference.
 * parseJson(buffer)           the pre-scan (depth, strings, keys, integers) plus decode and parse.
 * parseJson(string)           the same on a string: the text is encoded to UTF-8 for the scan.
 *
 * Two documents: ASCII only, and one with non-ASCII text (decoded as UTF-8 after a validity
 * check). All measurements interleaved; each runs RUNS short rounds after a warm-up, and the best
 * round is printed (the least disturbed by other work on the machine), then the median.
 */
import { parseJson } from '../src/json/safe-json.js';

const RUNS = 31;
const ITERATIONS = 20_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function documentOf(name: string, note: string): Buffer {
  const value = {
    id: 'evt-0193a3c2-7f1e-7cc4-9a52-2e1d4b8f0c11',
    type: 'order.created',
    occurredAt: '2025-01-17T10:21:33.120Z',
    sequence: 1_234_567_890_123,
    customer: { id: 48213, name, email: 'someone@example.com', tier: 'gold', tags: ['b2b', 'eu', 'priority'] },
    lines: [
      { sku: 'SKU-000123', quantity: 2, unitPrice: 19.99, currency: 'EUR', note },
      { sku: 'SKU-004711', quantity: 1, unitPrice: 249.5, currency: 'EUR', note: 'gift wrap, "fragile" \\ handle with care' },
      { sku: 'SKU-010203', quantity: 12, unitPrice: 0.35, currency: 'EUR', note: '' },
    ],
    shipping: { method: 'express', address: { street: 'Hauptstraße 5', city: 'Berlin', postalCode: '10115', country: 'DE' } },
    totals: { net: 293.68, tax: 55.8, gross: 349.48, discount: null, paid: true },
    trace: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: false },
    source: { service: 'checkout-api', version: '4.12.0', region: 'eu-central-1', host: 'checkout-api-7d9f8c6b5-x2x7q' },
  };
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function time(work: () => void): number {
  const start = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function measure(label: string, bytes: Buffer): string {
  const text = bytes.toString('utf8');
  let sink = 0;
  const rows: Array<[string, () => void]> = [
    ['JSON.parse(buf.toString())', () => { for (let i = 0; i < ITERATIONS; i++) sink += (JSON.parse(bytes.toString('utf8')) as { lines: unknown[] }).lines.length; }],
    ['JSON.parse(string)', () => { for (let i = 0; i < ITERATIONS; i++) sink += (JSON.parse(text) as { lines: unknown[] }).lines.length; }],
    ['parseJson(buffer)', () => { for (let i = 0; i < ITERATIONS; i++) sink += (parseJson(bytes, 'record') as { lines: unknown[] }).lines.length; }],
    ['parseJson(string)', () => { for (let i = 0; i < ITERATIONS; i++) sink += (parseJson(text, 'record') as { lines: unknown[] }).lines.length; }],
  ];
  for (const [, run] of rows) run();
  const seconds = new Map<string, number[]>(rows.map(([name]) => [name, []]));
  for (let run = 0; run < RUNS; run++) for (const [name, work] of rows) seconds.get(name)!.push(time(work));
  const best = (name: string) => Math.min(...seconds.get(name)!);
  const middle = (name: string) => median(seconds.get(name)!);
  const reference = rows[0]![0];
  const lines = rows.map(([name]) => {
    const perCall = (s: number) => ((s / ITERATIONS) * 1e6).toFixed(2).padStart(6);
    return (
      `  ${name.padEnd(28)} best ${perCall(best(name))} µs ${(best(name) / best(reference)).toFixed(2)}x` +
      `   median ${perCall(middle(name))} µs ${(middle(name) / middle(reference)).toFixed(2)}x`
    );
  });
  if (sink === 0) throw new Error('unreachable');
  return [`${label}, ${bytes.length} bytes:`, ...lines].join('\n');
}

console.log(measure('ASCII record', documentOf('Jane Doe', 'leave at the door')));
console.log(measure('UTF-8 record', documentOf('Zoë Ødegård-Müller', 'bitte beim Nachbarn abgeben — danke! 🙂')));
