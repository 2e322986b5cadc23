import { describe, expect, it } from 'vitest';
import { VerifyUsageError, runAuditVerify } from '../../src/cli/audit-verify.js';
import { auditQueryString } from '../../src/client/admin-audit.js';
import { eventDetail, parseSince } from '../../src/cli/commands/audit.js';

describe('sealbus audit query helpers', () => {
  it('reads --since as a duration ago, a time, or ms since the epoch', () => {
    const now = () => 10_000_000;
    expect(parseSince('15m', now)).toBe(10_000_000 - 900_000);
    expect(parseSince('2h', now)).toBe(10_000_000 - 7_200_000);
    expect(parseSince('2026-01-01T00:00:00Z', now)).toBe(Date.UTC(2026, 0, 1));
    expect(parseSince('1234', now)).toBe(1234);
    expect(() => parseSince('yesterday', now)).toThrow('expected now, an ISO 8601 time');
  });

  it('shows what an event says beyond who, what and the decision', () => {
    expect(eventDetail({ principal: 'a', records: 10, bytes: 99, partition: 0, firstOffset: 5, lastOffset: 14, rule: 'r1' })).toBe('partition=0 records=10 bytes=99 offsets=5..14 rule=r1');
    expect(eventDetail({ code: 'SEALBUS_ERR_AUTH_TOKEN_EXPIRED', sourceIp: '10.0.0.1', reason: 'two words' })).toBe('code=SEALBUS_ERR_AUTH_TOKEN_EXPIRED sourceIp=10.0.0.1 reason="two words"');
    expect(eventDetail({})).toBe('');
  });

  it('asks for another broker\'s chain with --broker, which only goes with a running broker', async () => {
    expect(auditQueryString({ broker: 'broker-b', type: 'sealbus.auth.' })).toBe('?broker=broker-b&type=sealbus.auth.');
    const quiet = (): void => undefined;
    for (const offline of [{ data: '/nonexistent' }, { file: '/nonexistent', pubkey: '/nonexistent' }]) {
      const refused = runAuditVerify({ broker: 'broker-b', ...offline }, quiet, quiet);
      await expect(refused).rejects.toThrow(VerifyUsageError);
      await expect(refused).rejects.toThrow('--broker reads through a running broker');
    }
  });
});
