import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AuditSigner, verifyAuditLog } from '../../src/audit/index.js';
import { type TestLog, buildLog, testSigner } from './helpers.js';

type Tamper =
  | { kind: 'delete'; seq: number }
  | { kind: 'swap'; seq: number; other: number }
  | { kind: 'edit'; seq: number; field: 'principal' | 'time' | 'subject' | 'sealbusseq' | 'sealbusprev'; amount: number }
  | { kind: 'duplicate'; seq: number; after: number };

/** Another sequence number than `seq`, above or below it. */
function otherSeq(seq: number, amount: number): number {
  return amount % 2 === 0 || seq - amount < 0 ? seq + amount : seq - amount;
}

/** Applies one tamper to a copy of the log; returns the entries and the position where they first differ. */
function tamper(log: TestLog, change: Tamper): { entries: Record<string, any>[]; position: number; exact: boolean } {
  const entries = JSON.parse(JSON.stringify(log.entries)) as Record<string, any>[];
  const position = log.eventPositions[change.seq]!;
  switch (change.kind) {
    case 'delete':
      entries.splice(position, 1);
      return { entries, position, exact: true };
    case 'swap': {
      const other = log.eventPositions[change.other]!;
      [entries[position], entries[other]] = [entries[other]!, entries[position]!];
      return { entries, position: Math.min(position, other), exact: true };
    }
    case 'edit': {
      const event = entries[position]!;
      if (change.field === 'principal') event['data']['principal'] = `${String(event['data']['principal'] ?? 'x')}!`;
      else if (change.field === 'time') event['time'] = new Date(Date.parse(event['time'] as string) + change.amount * 1000).toISOString();
      else if (change.field === 'subject') event['subject'] = `topic:edited-${change.amount}`;
      else if (change.field === 'sealbusseq') event['sealbusseq'] = otherSeq(event['sealbusseq'] as number, change.amount);
      else event['sealbusprev'] = change.amount.toString(16).padStart(64, 'a');
      // An edited sealbusprev breaks the link to the event before: which one was edited cannot be
      // told, so the earlier of the two may be named.
      return { entries, position, exact: change.field !== 'sealbusprev' };
    }
    case 'duplicate': {
      // The copy goes after the original; the first difference is where it was inserted.
      const at = Math.max(position + 1, Math.min(change.after, entries.length));
      entries.splice(at, 0, JSON.parse(JSON.stringify(entries[position])) as Record<string, any>);
      return { entries, position: at, exact: true };
    }
  }
}

const logShape = fc.record({ events: fc.integer({ min: 2, max: 90 }), every: fc.integer({ min: 1, max: 30 }) }).filter(({ events, every }) => events >= every);

/** A tamper of an event that a checkpoint covers (the ones after the last checkpoint are undetectable by design). */
function tamperOf(covered: number, length: number): fc.Arbitrary<Tamper> {
  const seq = fc.integer({ min: 0, max: covered - 1 });
  const arbitraries: fc.Arbitrary<Tamper>[] = [
    seq.map((s) => ({ kind: 'delete' as const, seq: s })),
    seq.map((s) => ({ kind: 'edit' as const, seq: s, field: 'principal' as const, amount: 1 })),
    fc.record({ seq, field: fc.constantFrom('time', 'subject', 'sealbusseq', 'sealbusprev') as fc.Arbitrary<'time' | 'subject' | 'sealbusseq' | 'sealbusprev'>, amount: fc.integer({ min: 1, max: 1000 }) }).map((edit) => ({ kind: 'edit' as const, ...edit })),
    fc.record({ seq, after: fc.integer({ min: 0, max: length }) }).map((dup) => ({ kind: 'duplicate' as const, ...dup })),
  ];
  if (covered >= 2) {
    arbitraries.push(
      fc
        .tuple(seq, seq)
        .filter(([a, b]) => a !== b)
        .map(([a, b]) => ({ kind: 'swap' as const, seq: Math.min(a, b), other: Math.max(a, b) })),
    );
  }
  return fc.oneof(...arbitraries);
}

describe('verifyAuditLog (property)', () => {
  let signer: AuditSigner;

  it('verifies every untampered log, and names a position no later than any single tamper', async () => {
    signer = await testSigner();
    const logs = new Map<string, TestLog>();
    async function logOf(events: number, every: number): Promise<TestLog> {
      const key = `${events}/${every}`;
      let log = logs.get(key);
      if (log === undefined) {
        log = await buildLog(events, every, signer);
        logs.set(key, log);
      }
      return log;
    }
    const scenario = logShape.chain(({ events, every }) => {
      const covered = Math.floor(events / every) * every;
      const length = events + Math.floor(events / every);
      return fc.record({ events: fc.constant(events), every: fc.constant(every), change: tamperOf(covered, length) });
    });
    const kinds = new Map<string, number>();
    const verifiedClean = new Set<TestLog>();
    await fc.assert(
      fc.asyncProperty(scenario, async ({ events, every, change }) => {
        const log = await logOf(events, every);
        if (!verifiedClean.has(log)) {
          const clean = await verifyAuditLog(log.entries, { publicKeys: [signer.publicKey] });
          expect(clean).toMatchObject({ ok: true, events, checkpoints: Math.floor(events / every), unsignedTail: events % every });
          verifiedClean.add(log);
        }
        const { entries, position, exact } = tamper(log, change);
        const report = await verifyAuditLog(entries, { publicKeys: [signer.publicKey] });
        expect(report.ok, JSON.stringify(change)).toBe(false);
        const first = report.problems[0]!;
        expect(first.position, JSON.stringify({ change, problems: report.problems })).toBeLessThanOrEqual(position);
        if (exact) expect(first.position, JSON.stringify({ change, problems: report.problems })).toBe(position);
        const label = change.kind === 'edit' ? `edit ${change.field}` : change.kind;
        kinds.set(label, (kinds.get(label) ?? 0) + 1);
      }),
      { numRuns: 800 },
    );
    // Every kind of tamper was tried a fair number of times.
    for (const label of ['delete', 'swap', 'duplicate', 'edit principal', 'edit time', 'edit subject', 'edit sealbusseq', 'edit sealbusprev']) {
      expect(kinds.get(label) ?? 0, label).toBeGreaterThan(20);
    }
  });
});
