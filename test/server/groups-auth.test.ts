import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AssignmentFrame, BrokerFrame, GroupJoinedFrame } from '../../src/protocol/index.js';
import { connectRawSession, roundTrip, type RawSession } from '../helpers/raw-session.js';
import { certificateThumbprint } from '../../src/auth/index.js';
import { startTestBroker, type ClientCredentials, type TestBroker } from '../helpers/test-broker.js';
import { encodeRecords } from '../../src/log/index.js';
import { waitFor } from '../helpers/wait-for.js';

const ONE = encodeRecords([{ value: Buffer.from('x') }]);

const POLICY = `
version: 1
rules:
  - id: admin-all
    effect: allow
    principals: [{ name: admin }]
    resources: [{ topic: ">" }, { group: ">" }, { cluster: true }]
    actions: [produce, consume, describe, create, delete, alter, commit-offset]
  - id: billing-consumers
    effect: allow
    principals: [{ name: alice }, { name: mallory }]
    resources: [{ topic: "orders" }]
    actions: [consume, describe]
  - id: alice-billing-group
    effect: allow
    principals: [{ name: alice }]
    resources: [{ group: billing }]
    actions: [consume, commit-offset, describe]
  - id: mallory-own-groups
    effect: allow
    principals: [{ name: mallory }]
    resources: [{ groupPrefix: "mallory-" }]
    actions: [consume, commit-offset, describe]
  - id: alice-produces
    effect: allow
    principals: [{ name: alice }]
    resources: [{ topic: "orders" }]
    actions: [produce]
  - id: readers-consume-audit
    effect: allow
    principals: [{ group: readers }]
    resources: [{ topic: "audit-copy" }]
    actions: [consume]
  - id: reader-describes
    effect: allow
    principals: [{ name: reader }]
    resources: [{ group: ">" }, { topic: ">" }]
    actions: [describe]
`;

/** Consumer groups from the attacker's side: every refusal with its exact code. */
describe('consumer group authorization', () => {
  let t: TestBroker;
  let alice: ClientCredentials;
  let mallory: ClientCredentials;
  let reader: ClientCredentials;
  beforeAll(async () => {
    t = await startTestBroker({ policies: { 'groups.yaml': POLICY } });
    expect((await t.request('POST', '/v1/topics', { body: { name: 'orders', partitions: 2 } })).status).toBe(201);
    expect((await t.request('POST', '/v1/topics', { body: { name: 'audit-copy', partitions: 1 } })).status).toBe(201);
    [alice, mallory, reader] = await Promise.all([t.client('alice'), t.client('mallory'), t.client('reader')]);
  });
  afterAll(async () => t?.close());

  async function joinGroup(s: RawSession, group: string, requestId = 1): Promise<{ joined: GroupJoinedFrame; assignment: AssignmentFrame }> {
    const reply = await roundTrip(s, { type: 'JOIN_GROUP', requestId, group, strategy: 'range', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, topics: ['orders'] });
    if (reply.type !== 'GROUP_JOINED') throw new Error(`join refused: ${JSON.stringify(reply)}`);
    const assignment = (await s.next((f) => f.type === 'ASSIGNMENT')) as AssignmentFrame;
    return { joined: reply, assignment };
  }

  const codeOf = (frame: BrokerFrame): string => (frame.type === 'ERROR' ? frame.code : `no error: ${frame.type}`);

  it("refuses joining another principal's group, even under a look-alike name", async () => {
    const s = await connectRawSession(t, mallory);
    for (const group of ['billing', 'Billing', 'billing ', 'mallory', 'x/billing']) {
      const reply = await roundTrip(s, { type: 'JOIN_GROUP', requestId: 1, group, strategy: 'range', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, topics: ['orders'] });
      expect(codeOf(reply), group).toBe('SEALBUS_ERR_FORBIDDEN');
    }
    // Names with an empty segment, which no wildcard matches, are not group names at all.
    for (const group of ['mallory-1..billing', '.billing', 'mallory-1.']) {
      const reply = await roundTrip(s, { type: 'JOIN_GROUP', requestId: 1, group, strategy: 'range', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, topics: ['orders'] });
      expect(codeOf(reply), group).toBe('SEALBUS_ERR_REQUEST_INVALID');
    }
    // Her own group, but a topic she may not consume: refused as well.
    const other = await roundTrip(s, { type: 'JOIN_GROUP', requestId: 2, group: 'mallory-1', strategy: 'range', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 30_000, topics: ['payments'] });
    expect(codeOf(other)).toBe('SEALBUS_ERR_FORBIDDEN');
    s.close();
  });

  it("cannot heartbeat, commit or leave with another session's member id", async () => {
    const a = await connectRawSession(t, alice);
    const { joined, assignment } = await joinGroup(a, 'billing');
    expect(assignment.partitions.map((p) => p.partition)).toEqual([0, 1]);
    // Alice's own second session does not own the member either: membership is bound to the session.
    for (const creds of [mallory, alice]) {
      const s = await connectRawSession(t, creds);
      const group = creds === mallory ? 'mallory-x' : 'billing';
      const hb = await roundTrip(s, { type: 'HEARTBEAT', requestId: 1, group, memberId: joined.memberId, generation: assignment.generation });
      expect(codeOf(hb)).toBe('SEALBUS_ERR_GROUP_UNKNOWN_MEMBER');
      const commit = await roundTrip(s, {
        type: 'COMMIT', requestId: 2, group: 'billing', memberId: joined.memberId, generation: assignment.generation,
        offsets: [{ topic: 'orders', partition: 0, offset: 0 }],
      });
      expect(codeOf(commit)).toBe(creds === mallory ? 'SEALBUS_ERR_FORBIDDEN' : 'SEALBUS_ERR_GROUP_UNKNOWN_MEMBER');
      const leave = await roundTrip(s, { type: 'LEAVE_GROUP', requestId: 3, group: 'billing', memberId: joined.memberId });
      expect(codeOf(leave)).toBe('SEALBUS_ERR_GROUP_UNKNOWN_MEMBER');
      s.close();
    }
    // A member commits only on topics its principal may consume: naming another one is refused
    // before anything about it (existence, assignment) is looked at.
    const elsewhere = await roundTrip(a, {
      type: 'COMMIT', requestId: 8, group: 'billing', memberId: joined.memberId, generation: assignment.generation,
      offsets: [{ topic: 'audit-copy', partition: 0, offset: 0 }],
    });
    expect(codeOf(elsewhere)).toBe('SEALBUS_ERR_FORBIDDEN');
    // Alice's member is untouched and still commits.
    const ok = await roundTrip(a, { type: 'COMMIT', requestId: 9, group: 'billing', memberId: joined.memberId, generation: assignment.generation, offsets: [{ topic: 'orders', partition: 0, offset: 0 }] });
    expect(ok.type).toBe('OK');
    a.close();
  });

  it('rejects a commit from an old generation and one for a partition the member does not own', async () => {
    const a = await connectRawSession(t, alice);
    const first = await joinGroup(a, 'billing');
    const b = await connectRawSession(t, alice);
    const second = await joinGroup(b, 'billing', 2);
    // a learns of the new generation, which takes a partition from it.
    const revoking = (await a.next((f) => f.type === 'ASSIGNMENT')) as AssignmentFrame;
    expect(revoking.generation).toBeGreaterThan(first.assignment.generation);
    expect(revoking.partitions).toHaveLength(1);
    const kept = revoking.partitions[0]!.partition;
    const stale = await roundTrip(a, {
      type: 'COMMIT', requestId: 3, group: 'billing', memberId: first.joined.memberId, generation: first.assignment.generation,
      offsets: [{ topic: 'orders', partition: kept, offset: 0 }],
    });
    expect(codeOf(stale)).toBe('SEALBUS_ERR_GROUP_STALE_GENERATION');
    // a acknowledges (releases the revoked partition) ...
    expect((await roundTrip(a, { type: 'HEARTBEAT', requestId: 4, group: 'billing', memberId: first.joined.memberId, generation: revoking.generation })).type).toBe('OK');
    // ... and may no longer commit it.
    const notOwned = await roundTrip(a, {
      type: 'COMMIT', requestId: 5, group: 'billing', memberId: first.joined.memberId, generation: revoking.generation,
      offsets: [{ topic: 'orders', partition: 1 - kept, offset: 0 }],
    });
    expect(codeOf(notOwned)).toBe('SEALBUS_ERR_GROUP_NOT_ASSIGNED');
    void second;
    a.close();
    b.close();
  });

  it('keeps a read-only principal out of group administration, and lists only the groups one may describe', async () => {
    const a = await connectRawSession(t, mallory);
    await joinGroup(a, 'mallory-team');
    for (const [method, path, body] of [
      ['POST', '/v1/groups/billing/reset', { to: 'earliest' }],
      ['DELETE', '/v1/groups/billing', undefined],
    ] as const) {
      const res = await t.request(method, path, { credentials: reader, ...(body !== undefined && { body }) });
      expect([res.status, res.body.code], path).toEqual([403, 'SEALBUS_ERR_FORBIDDEN']);
    }
    expect((await t.request('GET', '/v1/groups/billing', { credentials: mallory })).body.code).toBe('SEALBUS_ERR_FORBIDDEN');
    // Nor topic or policy administration: describe on topics and groups grants none of it.
    for (const [method, path, body] of [
      ['POST', '/v1/topics', { name: 'reader-made' }],
      ['DELETE', '/v1/topics/orders', undefined],
      ['POST', '/v1/policy/explain', { principal: 'admin', action: 'produce', resource: { topic: 'orders' } }],
      ['GET', '/v1/policy', undefined],
    ] as const) {
      const res = await t.request(method, path, { credentials: reader, ...(body !== undefined && { body }) });
      expect([res.status, res.body.code], `${method} ${path}`).toEqual([403, 'SEALBUS_ERR_FORBIDDEN']);
    }
    const listed = (await t.request('GET', '/v1/groups', { credentials: mallory })).body.groups.map((g: { group: string }) => g.group);
    expect(listed).toContain('mallory-team');
    expect(listed).not.toContain('billing');
    a.close();
  });

  it('ends a membership, a subscription and produce rights within a second when a policy reload withdraws them', async () => {
    const versionBefore = (await t.request('GET', '/readyz')).body.checks.policy as string;
    expect(versionBefore).toBe((await t.request('GET', '/v1/policy')).body.version);
    const s = await connectRawSession(t, alice);
    const produced = await roundTrip(s, { type: 'PRODUCE', requestId: 8, topic: 'orders', partition: 0, producer: null, records: ONE });
    expect(produced.type).toBe('PRODUCE_ACK');
    const { joined } = await joinGroup(s, 'billing');
    const subscribed = await roundTrip(s, { type: 'SUBSCRIBE', requestId: 7, subscriptionId: 1, topic: 'orders', partition: 0, start: { kind: 'earliest' }, creditBytes: 1 << 20 });
    expect(subscribed.type).toBe('SUBSCRIBED');
    const withdrawn = POLICY.replace('principals: [{ name: alice }, { name: mallory }]', 'principals: [{ name: mallory }]')
      // Her right on the group stays: losing consume on the group's topic alone ends the membership.
      .replace('principals: [{ name: alice }]\n    resources: [{ topic: "orders" }]\n    actions: [produce]', 'principals: [{ name: nobody }]\n    resources: [{ topic: "orders" }]\n    actions: [produce]');
    expect(withdrawn.match(/name: alice/g)).toHaveLength(1);
    // Written beside, then renamed over the file: the way editors and config managers replace files.
    await writeFile(join(t.policyDir!, '.groups.yaml.tmp'), withdrawn);
    const started = Date.now();
    await rename(join(t.policyDir!, '.groups.yaml.tmp'), join(t.policyDir!, 'groups.yaml'));
    const groupError = await s.next((f) => f.type === 'GROUP_ERROR', 5_000);
    expect(groupError).toMatchObject({ type: 'GROUP_ERROR', memberId: joined.memberId, code: 'SEALBUS_ERR_FORBIDDEN' });
    const subscriptionError = await s.next((f) => f.type === 'SUBSCRIPTION_ERROR', 5_000);
    expect(subscriptionError).toMatchObject({ subscriptionId: 1, code: 'SEALBUS_ERR_FORBIDDEN' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(codeOf(await roundTrip(s, { type: 'PRODUCE', requestId: 9, topic: 'orders', partition: 0, producer: null, records: ONE }))).toBe('SEALBUS_ERR_FORBIDDEN');
    const versionAfter = (await t.request('GET', '/readyz')).body.checks.policy as string;
    expect(versionAfter).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(versionAfter).not.toBe(versionBefore);
    s.close();
    await writeFile(join(t.policyDir!, 'groups.yaml'), POLICY);
    await waitFor(async () => (await t.request('GET', '/readyz')).body.checks.policy === versionBefore, 'the first policy is back');
  });

  it('re-authorizes a long poll when it wakes: a right withdrawn while it waited returns nothing', async () => {
    const path = '/v1/topics/orders/partitions/1/records?offset=0&waitMs=20000';
    const polling = t.request('GET', path, { credentials: alice });
    const withdrawn = POLICY.replace('principals: [{ name: alice }, { name: mallory }]', 'principals: [{ name: mallory }]');
    const before = (await t.request('GET', '/v1/policy')).body.version as string;
    await writeFile(join(t.policyDir!, 'groups.yaml'), withdrawn);
    await waitFor(async () => (await t.request('GET', '/v1/policy')).body.version !== before, 'the new policy is in force');
    // New data wakes the poll, which was authorized under the old policy.
    expect((await t.request('POST', '/v1/topics/orders/records', { body: { records: [{ partition: 1, value: 'late' }] } })).status).toBe(200);
    const res = await polling;
    expect([res.status, res.body.code]).toEqual([403, 'SEALBUS_ERR_FORBIDDEN']);
    await writeFile(join(t.policyDir!, 'groups.yaml'), POLICY);
    await waitFor(async () => (await t.request('GET', '/v1/policy')).body.version === before, 'the first policy is back');
  });

  it('judges a session again when it refreshes its token: rights that came with a group end with it', async () => {
    const issue = (groups: string[]) =>
      t.broker.issuer.issueToken({ sub: 'carol', ttlSeconds: 600, audience: 'sealbus', bindThumbprint: certificateThumbprint(carol.cert), groups });
    const carol = await t.client('carol');
    const s = await connectRawSession(t, { ...carol, token: await issue(['readers']) });
    const subscribed = await roundTrip(s, { type: 'SUBSCRIBE', requestId: 1, subscriptionId: 1, topic: 'audit-copy', partition: 0, start: { kind: 'earliest' }, creditBytes: 1 << 20 });
    expect(subscribed.type).toBe('SUBSCRIBED');
    const refreshed = await roundTrip(s, { type: 'REFRESH', requestId: 2, token: await issue([]) });
    expect(refreshed.type).toBe('REFRESHED');
    expect(await s.next((f) => f.type === 'SUBSCRIPTION_ERROR', 2_000)).toMatchObject({ subscriptionId: 1, code: 'SEALBUS_ERR_FORBIDDEN' });
    s.close();
  });
});
