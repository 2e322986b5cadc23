import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/auth/certificate-authority.js';
import { issueCertificate } from '../../src/auth/certificate-issue.js';
import { Producer, type ConnectionOptions } from '../../src/client/index.js';
import { FakeBroker } from './helpers/fake-broker.js';

let broker: FakeBroker;
let connection: ConnectionOptions;

beforeAll(async () => {
  const ca = await createCertificateAuthority({ commonName: 'test CA' });
  const serverCert = await issueCertificate({ ca, commonName: 'broker', server: { hosts: ['127.0.0.1'] } });
  const clientCert = await issueCertificate({ ca, commonName: 'producer-1', client: true });
  broker = await FakeBroker.start({ tls: { ca: ca.certPem, cert: serverCert.certPem, key: serverCert.keyPem } });
  broker.addTopic('orders', 1);
  connection = { url: `https://127.0.0.1:${broker.port}`, ca: ca.certPem, cert: clientCert.certPem, key: clientCert.keyPem, token: async () => 'jwt' };
});

afterAll(async () => {
  await broker.close();
});

describe('ConnectionOptions over wss', () => {
  it('connects to wss://host:port/v1/ws with the client certificate, the token and the subprotocol', async () => {
    const producer = new Producer({ connection, lingerMs: 0 });
    try {
      await expect(producer.send({ topic: 'orders', value: 'over tls' })).resolves.toMatchObject({ partition: 0, offset: 0 });
    } finally {
      await producer.close();
    }
    const client = broker.clients[0]!;
    expect(client.upgrade.url).toBe('/v1/ws');
    expect(client.upgrade.headers.authorization).toBe('Bearer jwt');
    expect(client.upgrade.headers['sec-websocket-protocol']).toBe('sealbus.v1');
    expect((client.upgrade.socket as TLSSocket).getPeerCertificate().subject?.CN).toBe('producer-1');
  });
});
