import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCertificateAuthority, createCrl, issueCertificate, loadTlsMaterial } from '../../src/auth/index.js';
import { SealbusError, isSealbusError } from '../../src/errors/index.js';
import { DAY_MS, createPki, tempDir } from './helpers/pki.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function fresh() {
  const dir = await tempDir();
  cleanups.push(dir.remove);
  return { dir: dir.path, pki: await createPki(dir.path) };
}

async function loadError(promise: Promise<unknown>): Promise<SealbusError> {
  try {
    await promise;
  } catch (err) {
    if (isSealbusError(err)) return err;
    throw err;
  }
  throw new Error('the material was accepted');
}

describe('loadTlsMaterial', () => {
  it('gives server options that require a client certificate, trust only the bundle and allow TLS 1.2+', async () => {
    const { pki } = await fresh();
    const options = (await loadTlsMaterial(pki.files)).serverOptions();
    expect(options).toMatchObject({ requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', honorCipherOrder: true });
    // Exactly the configured CA, never the system roots.
    expect(options.ca.map((pem) => pem.trim())).toEqual([pki.ca.certPem.trim()]);
    expect(options.crl).toHaveLength(1);
    expect(options.ciphers).not.toMatch(/(^|:)(AES128-SHA|DES|RC4|NULL|EXPORT|CBC)/);
  });

  it('allows requiring TLS 1.3', async () => {
    const { pki } = await fresh();
    expect((await loadTlsMaterial({ ...pki.files, minVersion: 'TLSv1.3' })).serverOptions().minVersion).toBe('TLSv1.3');
    const err = await loadError(loadTlsMaterial({ ...pki.files, minVersion: 'TLSv1.1' as 'TLSv1.2' }));
    expect(err.code).toBe('SEALBUS_ERR_CONFIG_INVALID');
  });

  it('works without a CRL file (no revocation list configured)', async () => {
    const { pki } = await fresh();
    const { crlFile: _unused, ...files } = pki.files;
    const options = (await loadTlsMaterial(files)).serverOptions();
    expect(options.crl).toBeUndefined();
  });

  it('names the missing file', async () => {
    const { pki, dir } = await fresh();
    const err = await loadError(loadTlsMaterial({ ...pki.files, caFile: join(dir, 'missing.crt') }));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    expect(err.message).toContain('missing.crt');
    expect(err.message).toContain('ENOENT');
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const { pki } = await fresh();
    const other = await issueCertificate({ ca: pki.ca, commonName: 'other', server: { hosts: ['127.0.0.1'] } });
    await writeFile(pki.files.keyFile, other.keyPem);
    const err = await loadError(loadTlsMaterial(pki.files));
    expect(err.code).toBe('SEALBUS_ERR_AUTH_MATERIAL_INVALID');
    expect(err.message).not.toContain('PRIVATE KEY');
  });

  it('refuses a leaf certificate in the CA bundle (it would trust itself)', async () => {
    const { pki } = await fresh();
    const leaf = await pki.client('alice');
    await writeFile(pki.files.caFile, pki.ca.certPem + leaf.certPem);
    expect((await loadError(loadTlsMaterial(pki.files))).message).toContain('is not a CA');
  });

  it('refuses an expired CRL, which would fail every client of the CA', async () => {
    const { pki } = await fresh();
    await writeFile(pki.files.crlFile, await createCrl({ ca: pki.ca, revoked: [], now: new Date(Date.now() - 40 * DAY_MS) }));
    expect((await loadError(loadTlsMaterial(pki.files))).message).toContain('expired');
  });

  it('refuses a CRL that is not signed by the CA it names', async () => {
    const { pki } = await fresh();
    const impostor = await createCertificateAuthority({ commonName: 'Test CA' });
    await writeFile(pki.files.crlFile, await createCrl({ ca: impostor, revoked: [] }));
    expect((await loadError(loadTlsMaterial(pki.files))).message).toContain('not signed by the CA');
  });

  it('refuses a CRL of a CA that is not in the bundle', async () => {
    const { pki } = await fresh();
    const stranger = await createCertificateAuthority({ commonName: 'Stranger CA' });
    await writeFile(pki.files.crlFile, (await createCrl({ ca: pki.ca, revoked: [] })) + (await createCrl({ ca: stranger, revoked: [] })));
    expect((await loadError(loadTlsMaterial(pki.files))).message).toContain('not in the bundle');
  });

  it('requires a CRL for each CA of the bundle when a CRL file is configured', async () => {
    const { pki } = await fresh();
    const second = await createCertificateAuthority({ commonName: 'Second CA' });
    await writeFile(pki.files.caFile, pki.ca.certPem + second.certPem);
    expect((await loadError(loadTlsMaterial(pki.files))).message).toContain('no CRL for CA "CN=Second CA"');
    await writeFile(pki.files.crlFile, (await createCrl({ ca: pki.ca, revoked: [] })) + (await createCrl({ ca: second, revoked: [] })));
    expect((await loadTlsMaterial(pki.files)).serverOptions().crl).toHaveLength(2);
  });

  it('refuses an expired server certificate', async () => {
    const { pki } = await fresh();
    const old = await issueCertificate({
      ca: pki.ca,
      commonName: 'broker',
      server: { hosts: ['127.0.0.1'] },
      now: new Date(Date.now() - 10 * DAY_MS),
      validDays: 1,
    });
    await writeFile(pki.files.certFile, old.certPem);
    await writeFile(pki.files.keyFile, old.keyPem);
    expect((await loadError(loadTlsMaterial(pki.files))).message).toContain('expired');
  });
});
