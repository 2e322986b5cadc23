import { describe, expect, it } from 'vitest';
import { AuditChain, GENESIS_HASH, buildEvent, hashEvent, headAfter } from '../../src/audit/index.js';
import { codeOfThrow } from '../helpers/error-code.js';
import { sampleInput, testEnvironment } from './helpers.js';


describe('AuditChain', () => {
  it('numbers events from 0 and links each to the hash of the one before', () => {
    const environment = testEnvironment();
    const chain = new AuditChain();
    expect(chain.head()).toEqual({ count: 0, headHash: GENESIS_HASH });
    const events = Array.from({ length: 5 }, (_, i) => chain.append(buildEvent(sampleInput(i), environment)));
    expect(events.map((event) => event.sealbusseq)).toEqual([0, 1, 2, 3, 4]);
    expect(events[0]?.sealbusprev).toBe(GENESIS_HASH);
    for (let i = 1; i < events.length; i++) expect(events[i]?.sealbusprev).toBe(hashEvent(events[i - 1]!));
    expect(chain.head()).toEqual({ count: 5, headHash: hashEvent(events[4]!) });
    expect(Object.isFrozen(events[2])).toBe(true);
  });

  it('resumes where the stored log ends, as if it had never stopped', () => {
    const environment = testEnvironment();
    const inputs = Array.from({ length: 6 }, (_, i) => buildEvent(sampleInput(i), environment));
    const straight = new AuditChain();
    const all = inputs.map((body) => straight.append(body));
    const first = new AuditChain();
    const stored = inputs.slice(0, 3).map((body) => first.append(body));
    const resumed = AuditChain.resume(headAfter(stored[2]!));
    expect(inputs.slice(3).map((body) => resumed.append(body))).toEqual(all.slice(3));
  });

  it('refuses a body that brings its own chain attributes, or is not a valid event', () => {
    const chain = new AuditChain();
    const body = buildEvent(sampleInput(0), testEnvironment());
    expect(codeOfThrow(() => chain.append({ ...body, sealbusseq: 7 } as never))).toBe('SEALBUS_ERR_AUDIT_INVALID');
    expect(codeOfThrow(() => chain.append({ ...body, data: { reason: 'a\u0007' } }))).toBe('SEALBUS_ERR_AUDIT_INVALID');
    expect(chain.head().count).toBe(0);
  });

  it('refuses to resume from a head that is not one', () => {
    expect(codeOfThrow(() => AuditChain.resume({ count: -1, headHash: GENESIS_HASH }))).toBe('SEALBUS_ERR_AUDIT_INVALID');
    expect(codeOfThrow(() => AuditChain.resume({ count: 3, headHash: 'ABC' }))).toBe('SEALBUS_ERR_AUDIT_INVALID');
    expect(codeOfThrow(() => AuditChain.resume({ count: 0, headHash: 'a'.repeat(64) }))).toBe('SEALBUS_ERR_AUDIT_INVALID');
  });
});
