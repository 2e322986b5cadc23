import { afterEach, describe, expect, it } from 'vitest';
import { exportAuditLog, verifyAuditLog } from '../../src/audit/index.js';
import { nodeFileSystem, type LogFileSystem } from '../../src/log/file/fs-seam.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';
import { waitFor } from '../helpers/wait-for.js';

/** The real file system, except that writes to the audit topic fail with ENOSPC while `failing`. */
function diskFullForAudit(): { fileSystem: LogFileSystem; setFailing(on: boolean): void } {
  const auditFds = new Set<number>();
  let failing = false;
  const fileSystem: LogFileSystem = {
    ...nodeFileSystem,
    async open(path, flags) {
      const fd = await nodeFileSystem.open(path, flags);
      if (path.includes('__sealbus.audit')) auditFds.add(fd);
      return fd;
    },
    async close(fd) {
      auditFds.delete(fd);
      return nodeFileSystem.close(fd);
    },
    async writev(fd, buffers, position) {
      if (failing && auditFds.has(fd)) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return nodeFileSystem.writev(fd, buffers, position);
    },
  };
  return { fileSystem, setFailing: (on) => (failing = on) };
}

async function metric(t: TestBroker, name: string): Promise<number> {
  const response = await t.request('GET', '/metrics');
  const text = typeof response.body === 'string' ? response.body : String(response.body);
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no metric ${name}`);
  return Number(line.split(' ')[1]);
}

async function highWatermark(t: TestBroker, topic: string): Promise<number> {
  return (await t.request('GET', `/v1/topics/${topic}`)).body.partitions[0].highWatermark;
}

const produce = (t: TestBroker, topic: string) => t.request('POST', `/v1/topics/${topic}/records`, { body: { records: [{ value: { n: 1 } }] } });

describe('an audit log that cannot be written', () => {
  let t: TestBroker | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('fail closed (the default): audited requests are refused with AUDIT_UNAVAILABLE, nothing more is stored, the alert metric and readiness say so, and service resumes once the disk heals', async () => {
    const disk = diskFullForAudit();
    t = await startTestBroker({ fileSystem: disk.fileSystem });
    expect((await t.request('POST', '/v1/topics', { body: { name: 'fc.orders', partitions: 1 } })).status).toBe(201);
    expect(await metric(t, 'sealbus_audit_available')).toBe(1);

    disk.setFailing(true);
    // The first produce is stored, but its event cannot be: the client is told so (and may retry idempotently).
    expect((await produce(t, 'fc.orders')).body.code).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    const stored = 1;
    // From then on, audited requests are refused before anything is done.
    const refused = await produce(t, 'fc.orders');
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect((await t.request('POST', '/v1/topics', { body: { name: 'fc.more' } })).body.code).toBe('SEALBUS_ERR_AUDIT_UNAVAILABLE');
    expect(await metric(t, 'sealbus_audit_available')).toBe(0);
    expect(await metric(t, 'sealbus_audit_write_failures_total')).toBeGreaterThanOrEqual(1);
    const ready = await t.request('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.audit).toBe('failing');

    disk.setFailing(false);
    await waitFor(async () => (await metric(t!, 'sealbus_audit_available')) === 1, 'the audit log is writable again');
    expect(t.broker.audit.log.available).toBe(true);
    expect((await produce(t, 'fc.orders')).status).toBe(200);
    expect(await highWatermark(t, 'fc.orders')).toBe(stored + 1);

    // The log holds no gap the failure could hide: it verifies.
    await t.broker.audit.log.checkpoint();
    const lines: string[] = [];
    for await (const line of exportAuditLog(t.broker.store)) lines.push(line);
    const report = await verifyAuditLog(lines, { publicKeys: [t.broker.audit.signer.publicJwk()] });
    expect(report.problems).toEqual([]);
  });

  it('fail open: requests go on, and every event lost is counted in sealbus_audit_dropped_events_total', async () => {
    const disk = diskFullForAudit();
    t = await startTestBroker({ fileSystem: disk.fileSystem, configure: (config) => ({ ...config, audit: { ...config.audit, failMode: 'open' } }) });
    expect((await t.request('POST', '/v1/topics', { body: { name: 'fo.orders', partitions: 1 } })).status).toBe(201);
    expect(await metric(t, 'sealbus_audit_dropped_events_total')).toBe(0);
    disk.setFailing(true);
    for (let i = 0; i < 3; i++) expect((await produce(t, 'fo.orders')).status).toBe(200);
    expect(await highWatermark(t, 'fo.orders')).toBe(3);
    await waitFor(async () => (await metric(t!, 'sealbus_audit_dropped_events_total')) >= 3, 'the lost events are counted');
    // Open mode stays ready: it chose availability over the record.
    expect((await t.request('GET', '/readyz')).status).toBe(200);
    disk.setFailing(false);
  });
});
