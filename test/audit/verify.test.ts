import { describe, expect, it } from 'vitest';
import {
  type AuditVerifyReport,
  type VerifyAuditLogOptions,
  assertAuditLogVerified,
  parseAuditLines,
  verifyAuditLog,
} from '../../src/audit/index.js';
import { isSealbusError } from '../../src/errors/index.js';
import { rejectionOf } from '../helpers/error-code.js';
import { SOURCE, buildLog, sampleInput, testSigner, toJsonLines } from './helpers.js';

/** 210 events, a checkpoint after every 50th: at positions 50, 101, 152 and 203; 10 events unsigned. */
const log = await buildLog(210, 50);
const keys = { publicKeys: [log.signer.publicKey] };

function copyOf(entries: readonly unknown[]): Record<string, any>[] {
  return JSON.parse(JSON.stringify(entries)) as Record<string, any>[];
}

const at = (seq: number): number => log.eventPositions[seq]!;

async function verify(entries: readonly unknown[], options: Partial<VerifyAuditLogOptions> = {}): Promise<AuditVerifyReport> {
  return verifyAuditLog(entries, { ...keys, ...options });
}

async function firstProblem(entries: readonly unknown[], options: Partial<VerifyAuditLogOptions> = {}): Promise<{ position: number; seq: number | null; kind: string }> {
  const report = await verify(entries, options);
  expect(report.ok).toBe(false);
  const { position, seq, kind } = report.problems[0]!;
  return { position, seq, kind };
}

describe('verifyAuditLog on an intact log', () => {
  it('verifies 210 events and 4 checkpoints and counts the unsigned tail', async () => {
    expect(log.checkpoints.map((checkpoint) => checkpoint.position)).toEqual([50, 101, 152, 203]);
    const report = await verify(log.entries);
    expect(report).toEqual({
      ok: true,
      events: 210,
      checkpoints: 4,
      lastCheckpoint: { count: 200, headHash: log.checkpoints[3]!.headHash },
      unsignedTail: 10,
      problems: [],
      problemsOmitted: 0,
    });
  });

  it('verifies a JSON-lines export, parsed or streamed line by line', async () => {
    const text = toJsonLines(log.entries);
    expect((await verify(parseAuditLines(text))).ok).toBe(true);
    expect((await verify(parseAuditLines(text.replace(/\n/g, '\r\n')))).ok).toBe(true);
    async function* lines(): AsyncIterable<string> {
      for (const line of text.split('\n').slice(0, -1)) yield line;
    }
    expect(await verifyAuditLog(lines(), keys)).toMatchObject({ ok: true, events: 210, unsignedTail: 10 });
  });

  it('takes the public key as a JWK too, and refuses a key that is not Ed25519', async () => {
    expect((await verifyAuditLog(log.entries, { publicKeys: [log.signer.publicJwk()] })).ok).toBe(true);
    const err = await rejectionOf(verifyAuditLog(log.entries, { publicKeys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] }));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
  });

  it('reports a log without checkpoints as entirely unsigned, not as tampered', async () => {
    const events = log.entries.filter((entry) => entry['type'] !== 'sealbus.audit.checkpoint');
    expect(await verify(events)).toMatchObject({ ok: true, events: 210, checkpoints: 0, lastCheckpoint: null, unsignedTail: 210 });
  });

  it('accepts its own lastCheckpoint as lastVerified next time', async () => {
    const first = await verify(log.entries);
    expect((await verify(log.entries, { lastVerified: first.lastCheckpoint! })).ok).toBe(true);
  });
});

describe('verifyAuditLog names the first bad position', () => {
  it('for a deleted event', async () => {
    const entries = copyOf(log.entries);
    entries.splice(at(120), 1);
    expect(await firstProblem(entries)).toEqual({ position: at(120), seq: 120, kind: 'deleted' });
  });

  it('for a deleted event right before a checkpoint, and for the first event', async () => {
    const before = copyOf(log.entries);
    before.splice(at(149), 1);
    expect(await firstProblem(before)).toEqual({ position: at(149), seq: 149, kind: 'deleted' });
    const first = copyOf(log.entries);
    first.splice(0, 1);
    expect(await firstProblem(first)).toEqual({ position: 0, seq: 0, kind: 'deleted' });
  });

  it('for two events swapped, next to each other or far apart', async () => {
    const adjacent = copyOf(log.entries);
    [adjacent[at(120)], adjacent[at(121)]] = [adjacent[at(121)]!, adjacent[at(120)]!];
    const report = await verify(adjacent);
    expect(report.problems).toEqual([{ position: at(120), seq: 120, kind: 'reordered', detail: `seq 120 is out of order: seq 120 comes later, at position ${at(121)}` }]);
    const far = copyOf(log.entries);
    [far[at(60)], far[at(90)]] = [far[at(90)]!, far[at(60)]!];
    expect(await firstProblem(far)).toEqual({ position: at(60), seq: 60, kind: 'reordered' });
  });

  it('for one field of one event edited', async () => {
    const entries = copyOf(log.entries);
    expect(entries[at(122)]!['data']['decision']).toBe('allow');
    entries[at(122)]!['data']['decision'] = 'deny';
    expect(await firstProblem(entries)).toEqual({ position: at(122), seq: 122, kind: 'edited' });
  });

  it('for the last event before a checkpoint edited (only the checkpoint can tell)', async () => {
    const entries = copyOf(log.entries);
    entries[at(149)]!['time'] = '2030-01-01T00:00:00.000Z';
    const report = await verify(entries);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ position: at(149), seq: 149, kind: 'edited' });
  });

  it('for an edited sequence number', async () => {
    const entries = copyOf(log.entries);
    entries[at(77)]!['sealbusseq'] = 78;
    expect(await firstProblem(entries)).toEqual({ position: at(77), seq: 78, kind: 'edited' });
  });

  it('for an event duplicated further on', async () => {
    const entries = copyOf(log.entries);
    entries.splice(at(125) + 1, 0, copyOf([entries[at(120)]])[0]!);
    const report = await verify(entries);
    expect(report.problems).toEqual([{ position: at(125) + 1, seq: 120, kind: 'duplicated', detail: `a copy of the event at position ${at(120)} (seq 120)` }]);
  });

  it('for events truncated away while later checkpoints were kept', async () => {
    // Events 140..209 removed: the checkpoints for 150 and 200 now claim more than the log holds.
    const entries = log.entries.filter((entry) => entry['type'] === 'sealbus.audit.checkpoint' || (entry['sealbusseq'] as number) < 140);
    expect(entries).toHaveLength(at(140) + 2);
    expect(await firstProblem(entries)).toEqual({ position: at(140), seq: 140, kind: 'truncated' });
  });

  it('for a log cut after a checkpoint: invisible alone, a rollback given what was verified before', async () => {
    const lastVerified = (await verify(log.entries)).lastCheckpoint!;
    const cut = log.entries.slice(0, log.checkpoints[2]!.position + 1);
    expect((await verify(cut)).ok).toBe(true);
    const report = await verify(cut, { lastVerified });
    expect(report.problems).toEqual([
      { position: cut.length, seq: 150, kind: 'rolled-back', detail: 'the log ends at 150 events, fewer than the 200 verified before: it was truncated or restored from an older copy' },
    ]);
  });

  it('for a log rolled back and rewritten after it was verified', async () => {
    const lastVerified = (await verify(log.entries)).lastCheckpoint!;
    // The same first 150 events, then another history, signed with the broker's own key.
    const forked = await buildLog(210, 50, log.signer, (i) => (i < 150 ? sampleInput(i) : { ...sampleInput(i), subject: 'topic:rewritten' }));
    expect(forked.checkpoints[2]!.headHash).toBe(log.checkpoints[2]!.headHash);
    expect(forked.checkpoints[3]!.headHash).not.toBe(log.checkpoints[3]!.headHash);
    expect((await verify(forked.entries)).ok).toBe(true);
    expect(await firstProblem(forked.entries, { lastVerified })).toEqual({ position: forked.eventPositions[199], seq: 199, kind: 'rolled-back' });
  });

  it('for a checkpoint with a forged signature or an edited statement', async () => {
    const position = log.checkpoints[1]!.position;
    const forged = copyOf(log.entries);
    const signature = forged[position]!['data']['signature'] as string;
    forged[position]!['data']['signature'] = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    expect(await firstProblem(forged)).toEqual({ position, seq: null, kind: 'bad-signature' });
    const claimed = copyOf(log.entries);
    claimed[position]!['data']['count'] = 99;
    expect(await firstProblem(claimed)).toEqual({ position, seq: null, kind: 'bad-signature' });
    // Signed by another key that claims the broker's key id.
    const impostor = await testSigner();
    const lie = copyOf([impostor.sign({ count: 100, headHash: log.checkpoints[1]!.headHash, source: SOURCE })])[0]!;
    lie['data']['keyId'] = log.signer.keyId;
    const replaced = copyOf(log.entries);
    replaced[position] = lie;
    expect(await firstProblem(replaced)).toEqual({ position, seq: null, kind: 'bad-signature' });
  });

  it('for a checkpoint signed by an unknown key', async () => {
    const position = log.checkpoints[2]!.position;
    const other = await testSigner();
    const entries = copyOf(log.entries);
    entries[position] = copyOf([other.sign({ count: 150, headHash: log.checkpoints[2]!.headHash, source: SOURCE })])[0]!;
    const report = await verify(entries);
    expect(report.problems.map(({ position: p, kind }) => ({ p, kind }))).toEqual([{ p: position, kind: 'unknown-key' }]);
    // The events it would have covered are now covered only by the next valid checkpoint.
    expect(report.lastCheckpoint?.count).toBe(200);
  });

  it('for a checkpoint moved after the event that follows it, and for a replayed checkpoint', async () => {
    const position = log.checkpoints[0]!.position;
    const moved = copyOf(log.entries);
    [moved[position], moved[position + 1]] = [moved[position + 1]!, moved[position]!];
    expect(await firstProblem(moved)).toEqual({ position, seq: 50, kind: 'reordered' });
    const replayed = copyOf(log.entries);
    replayed.splice(at(60), 0, copyOf([log.entries[position]])[0]!);
    expect(await firstProblem(replayed)).toEqual({ position: at(60), seq: null, kind: 'duplicated' });
  });

  it('for malformed lines: not JSON, longer than 64 KiB, or with a bad chain attribute', async () => {
    const lines = toJsonLines(log.entries).split('\n');
    lines[at(10)] = lines[at(10)]!.slice(0, 40);
    expect(await firstProblem(parseAuditLines(lines.join('\n')))).toEqual({ position: at(10), seq: null, kind: 'malformed' });
    const long = copyOf(log.entries);
    long[at(20)]!['data']['reason'] = 'x'.repeat(70_000);
    expect(await firstProblem(toJsonLines(long).split('\n').slice(0, -1))).toEqual({ position: at(20), seq: null, kind: 'malformed' });
    const badSeq = copyOf(log.entries);
    badSeq[at(30)]!['sealbusseq'] = '30';
    expect(await firstProblem(badSeq)).toEqual({ position: at(30), seq: null, kind: 'malformed' });
  });

  it('reports the events before the first checkpoint of a partial export only when partial is not set', async () => {
    const fromEvent = log.entries.slice(at(50));
    expect(await verify(fromEvent, { partial: true })).toMatchObject({ ok: true, events: 160, unsignedTail: 10 });
    expect(await firstProblem(fromEvent)).toEqual({ position: 0, seq: 0, kind: 'deleted' });
    // Starting at a checkpoint anchors the chain: the first event must link to it.
    const fromCheckpoint = copyOf(log.entries.slice(log.checkpoints[0]!.position));
    expect((await verify(fromCheckpoint, { partial: true })).ok).toBe(true);
    fromCheckpoint[1]!['sealbusprev'] = 'f'.repeat(64);
    expect(await firstProblem(fromCheckpoint, { partial: true })).toEqual({ position: 1, seq: 50, kind: 'edited' });
  });
});

describe('assertAuditLogVerified', () => {
  it('throws SEALBUS_ERR_AUDIT_TAMPERED naming the first problem, and nothing for a clean log', async () => {
    assertAuditLogVerified(await verify(log.entries));
    const entries = copyOf(log.entries);
    entries.splice(at(120), 1);
    let thrown: unknown;
    try {
      assertAuditLogVerified(await verify(entries));
    } catch (err) {
      thrown = err;
    }
    expect(isSealbusError(thrown, 'SEALBUS_ERR_AUDIT_TAMPERED')).toBe(true);
    expect((thrown as Error).message).toBe(
      `The audit log does not verify at position ${at(120)}: deleted: after seq 119 the log goes on with seq 121 (position ${at(120)}): 1 event(s) missing`,
    );
  });
});

describe('verifyAuditLog bounds', () => {
  it('lists at most maxProblems problems and counts the rest', async () => {
    const entries = copyOf(log.entries);
    for (const seq of [10, 20, 30, 40]) entries[at(seq)]!['data']['principal'] = 'user:mallory';
    const report = await verify(entries, { maxProblems: 2 });
    expect(report.problems.map((problem) => problem.position)).toEqual([at(10), at(20)]);
    expect(report.problemsOmitted).toBe(2);
    expect(report.ok).toBe(false);
  });
});
