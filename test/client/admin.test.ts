import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/auth/certificate-authority.js';
import { issueCertificate } from '../../src/auth/certificate-issue.js';
import { Admin, type ConnectionOptions } from '../../src/client/index.js';
import { rejectionOf } from '../helpers/error-code.js';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  clientCommonName: unknown;
  body: unknown;
}

const topic = {
  name: 'orders',
  config: { partitions: 2 },
  createdAt: 1,
  partitions: [{ partition: 0, logStartOffset: 0, highWatermark: 5 }],
};

let server: Server;
let connection: ConnectionOptions;
const seen: Seen[] = [];
let tokenCalls = 0;

function respond(res: ServerResponse, status: number, body?: unknown, type = 'application/json'): void {
  res.writeHead(status, body === undefined ? {} : { 'content-type': type });
  res.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString();
  seen.push({
    method: req.method ?? '',
    url: req.url ?? '',
    authorization: req.headers.authorization,
    clientCommonName: (req.socket as TLSSocket).getPeerCertificate().subject?.CN,
    body: text === '' ? null : JSON.parse(text),
  });
  const key = `${req.method} ${req.url}`;
  if (key === 'POST /v1/topics') {
    const body = JSON.parse(text) as { name: string };
    if (body.name === 'taken') {
      respond(res, 409, { code: 'SEALBUS_ERR_TOPIC_EXISTS', message: 'Topic "taken" already exists', retriable: false });
      return;
    }
    respond(res, 201, { ...topic, name: body.name });
  } else if (key === 'GET /v1/topics') respond(res, 200, { topics: [topic] });
  else if (key === 'GET /v1/topics/orders') respond(res, 200, topic);
  else if (key === 'GET /v1/topics/gone') respond(res, 404, { code: 'SEALBUS_ERR_TOPIC_NOT_FOUND', message: 'Topic "gone" does not exist' });
  else if (key === 'DELETE /v1/topics/orders') respond(res, 204);
  else if (key === 'GET /v1/topics/busy') respond(res, 503, '<html>busy</html>', 'text/html');
  else respond(res, 500, { code: 'SEALBUS_ERR_INTERNAL', message: 'unexpected route' });
}

beforeAll(async () => {
  const ca = await createCertificateAuthority({ commonName: 'test CA' });
  const serverCert = await issueCertificate({ ca, commonName: 'broker', server: { hosts: ['127.0.0.1'] } });
  const clientCert = await issueCertificate({ ca, commonName: 'admin-client', client: true });
  server = createServer({ ca: ca.certPem, cert: serverCert.certPem, key: serverCert.keyPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    void route(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  connection = {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ca: ca.certPem,
    cert: () => clientCert.certPem,
    key: Buffer.from(clientCert.keyPem),
    token: () => `token-${++tokenCalls}`,
  };
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});


describe('Admin over mutual TLS', () => {
  it('creates, lists, describes and deletes topics, with a fresh token on each request', async () => {
    const admin = new Admin({ connection });
    try {
      seen.length = 0;
      const created = await admin.createTopic({ name: 'fresh', partitions: 3, retentionMs: 60_000 });
      expect(created.name).toBe('fresh');
      expect(await admin.listTopics()).toEqual([topic]);
      expect(await admin.describeTopic('orders')).toEqual(topic);
      await expect(admin.deleteTopic('orders')).resolves.toBeUndefined();
      expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /v1/topics', 'GET /v1/topics', 'GET /v1/topics/orders', 'DELETE /v1/topics/orders']);
      expect(seen[0]!.body).toEqual({ name: 'fresh', partitions: 3, retentionMs: 60_000 });
      expect(seen.every((s) => s.clientCommonName === 'admin-client')).toBe(true);
      const tokens = seen.map((s) => s.authorization);
      expect(new Set(tokens).size).toBe(4);
      expect(tokens.every((t) => /^Bearer token-\d+$/.test(t ?? ''))).toBe(true);
    } finally {
      admin.close();
    }
  });

  it('rebuilds the broker error from its code', async () => {
    const admin = new Admin({ connection });
    try {
      const exists = await rejectionOf(admin.createTopic({ name: 'taken', partitions: 1 }));
      expect(exists).toMatchObject({ code: 'SEALBUS_ERR_TOPIC_EXISTS', status: 409, message: 'Topic "taken" already exists' });
      expect((await rejectionOf(admin.describeTopic('gone'))).code).toBe('SEALBUS_ERR_TOPIC_NOT_FOUND');
      // A body that is not the catalog's shape is judged by its status.
      expect(await rejectionOf(admin.describeTopic('busy'))).toMatchObject({ code: 'SEALBUS_ERR_UNAVAILABLE', retriable: true });
    } finally {
      admin.close();
    }
  });

  it('refuses an invalid topic name before sending anything', async () => {
    const admin = new Admin({ connection });
    try {
      seen.length = 0;
      expect((await rejectionOf(admin.describeTopic('../admin'))).code).toBe('SEALBUS_ERR_TOPIC_NAME_INVALID');
      expect((await rejectionOf(admin.createTopic({ name: '__internal', partitions: 1 }))).code).toBe('SEALBUS_ERR_TOPIC_NAME_INVALID');
      expect(seen).toHaveLength(0);
    } finally {
      admin.close();
    }
  });

  it('fails with a connection error when the server does not trust the client', async () => {
    const stranger = await issueCertificate({ ca: await createCertificateAuthority({ commonName: 'other CA' }), commonName: 'x', client: true });
    const admin = new Admin({ connection: { ...connection, cert: stranger.certPem, key: stranger.keyPem } });
    try {
      expect((await rejectionOf(admin.listTopics())).code).toBe('SEALBUS_ERR_CONNECTION_CLOSED');
    } finally {
      admin.close();
    }
  });
});
