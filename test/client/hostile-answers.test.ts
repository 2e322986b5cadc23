import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/auth/certificate-authority.js';
import { issueCertificate } from '../../src/auth/certificate-issue.js';
import { Admin, type ConnectionOptions } from '../../src/client/index.js';
import { computeBatchCrc, encodeBatch, encodeRecords, verifyBatch } from '../../src/log/index.js';
import { rejectionOf } from '../helpers/error-code.js';

/** What a broker (or whatever answers in its place) may send: answers written byte for byte. */
const ANSWERS: Record<string, [number, string]> = {
  '/v1/topics/exact': [200, '{"name":"exact","config":{},"createdAt":1,"partitions":[{"partition":0,"logStartOffset":0,"highWatermark":9007199254740991}]}'],
  '/v1/topics/rounded': [200, '{"name":"rounded","config":{},"createdAt":1,"partitions":[{"partition":0,"logStartOffset":0,"highWatermark":9007199254740993}]}'],
  '/v1/topics/deep': [200, `{"name":"deep","x":${'['.repeat(100)}${']'.repeat(100)}}`],
  '/v1/topics/refused': [404, `{"code":"SEALBUS_ERR_TOPIC_NOT_FOUND","message":"gone","n":${'['.repeat(100)}${']'.repeat(100)}}`],
};

let server: Server;
let connection: ConnectionOptions;

beforeAll(async () => {
  const ca = await createCertificateAuthority({ commonName: 'test CA' });
  const serverCert = await issueCertificate({ ca, commonName: 'broker', server: { hosts: ['127.0.0.1'] } });
  const clientCert = await issueCertificate({ ca, commonName: 'admin-client', client: true });
  server = createServer({ ca: ca.certPem, cert: serverCert.certPem, key: serverCert.keyPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const [status, body] = ANSWERS[req.url ?? ''] ?? [500, '{"code":"SEALBUS_ERR_INTERNAL","message":"unexpected route"}'];
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  connection = {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ca: ca.certPem,
    cert: clientCert.certPem,
    key: clientCert.keyPem,
    token: 'token',
  };
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("the SDK's reading of broker answers", () => {
  it('reads offsets up to 2^53 - 1 exactly and refuses larger ones instead of rounding them', async () => {
    const admin = new Admin({ connection });
    try {
      expect((await admin.describeTopic('exact')).partitions[0]!.highWatermark).toBe(Number.MAX_SAFE_INTEGER);
      const rounded = await rejectionOf(admin.describeTopic('rounded'));
      expect(rounded.code).toBe('SEALBUS_ERR_JSON_LIMIT');
      expect(rounded.message).toMatch(/^The broker's response exceeds a JSON limit: the integer at byte \d+ \(16 digits\) is beyond ±9007199254740991/);
      expect((await rejectionOf(admin.describeTopic('deep'))).code).toBe('SEALBUS_ERR_JSON_LIMIT');
      // An error answer that cannot be read is judged by its status, as before.
      expect((await rejectionOf(admin.describeTopic('refused'))).code).toBe('SEALBUS_ERR_NOT_FOUND');
    } finally {
      admin.close();
    }
  });

  it('treats a RECORDS batch whose offsets would pass 2^53 as corrupt', () => {
    const records = encodeRecords([{ value: Buffer.from('a') }, { value: Buffer.from('b') }]);
    const batchAt = (baseOffset: number): Buffer => {
      const batch = encodeBatch({ baseOffset: 0, timestamp: 1 }, records);
      batch.writeUInt32LE(baseOffset % 2 ** 32, 0);
      batch.writeUInt32LE(Math.floor(baseOffset / 2 ** 32), 4);
      batch.writeUInt32LE(computeBatchCrc(batch), 12);
      return batch;
    };
    expect(verifyBatch(batchAt(Number.MAX_SAFE_INTEGER - 2))).toBe(true);
    // Its second record would be offset 2^53, and the next one 2^53 + 1, which a number cannot hold.
    expect(verifyBatch(batchAt(Number.MAX_SAFE_INTEGER - 1))).toBe(false);
    expect(verifyBatch(batchAt(Number.MAX_SAFE_INTEGER))).toBe(false);
  });
});
