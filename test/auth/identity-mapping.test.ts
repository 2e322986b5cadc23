import { beforeAll, describe, expect, it } from 'vitest';
import { mapCertificateIdentity, validateIdentityMapping, type IdentityMapping } from '../../src/auth/identity-mapping.js';
import { checkClientUsage, createCertificateAuthority, issueCertificate, parseSpiffeId, type PemPair } from '../../src/auth/index.js';
import { x509 } from '../../src/auth/x509-lib.js';
import { isSealbusError } from '../../src/errors/index.js';
import { SERVER_AUTH, craftCertificate } from './helpers/pki.js';

let ca: PemPair;
beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'Mapping CA' });
});

async function cert(subject: x509.JsonName, uris: string[] = []): Promise<x509.X509Certificate> {
  const issued = await craftCertificate(ca, { subject, subjectAltNames: uris.map((value) => ({ type: 'url' as const, value })) });
  return new x509.X509Certificate(issued.certPem);
}

function mapped(certificate: x509.X509Certificate, mapping: IdentityMapping): string {
  try {
    return mapCertificateIdentity(certificate, mapping).principal;
  } catch (err) {
    if (isSealbusError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
}

describe('certificate to principal', () => {
  it('uses the SPIFFE ID before the CN, unless SPIFFE is turned off', async () => {
    const c = await cert([{ CN: ['api'] }], ['spiffe://prod.example/ns/api']);
    expect(mapped(c, { from: 'cn' })).toBe('spiffe://prod.example/ns/api');
    expect(mapped(c, { from: 'cn', spiffe: false })).toBe('api');
  });

  it('ignores a non-SPIFFE URI SAN and falls back to the subject', async () => {
    expect(mapped(await cert([{ CN: ['api'] }], ['https://api.example/']), { from: 'cn' })).toBe('api');
  });

  it('maps the whole DN, escaped so that a crafted CN cannot fake other attributes', async () => {
    const c = await cert([{ O: ['acme'] }, { CN: ['alice, O=root'] }]);
    expect(mapped(c, { from: 'dn' })).toBe('O=acme, CN=alice\\, O=root');
  });

  it('fills a template from attributes that occur exactly once', async () => {
    const c = await cert([{ O: ['acme'] }, { OU: ['payments'] }, { CN: ['alice'] }]);
    expect(mapped(c, { from: 'template', template: '{O}/{OU}/{CN}' })).toBe('acme/payments/alice');
    const twoOus = await cert([{ O: ['acme'] }, { OU: ['a'] }, { OU: ['b'] }, { CN: ['alice'] }]);
    expect(mapped(twoOus, { from: 'template', template: '{OU}/{CN}' })).toMatch(/^SEALBUS_ERR_AUTH_CERT_IDENTITY: .*2 OU/);
    expect(mapped(c, { from: 'template', template: '{L}/{CN}' })).toMatch(/^SEALBUS_ERR_AUTH_CERT_IDENTITY: .*no L/);
  });

  it('rejects a certificate without SPIFFE ID when only SPIFFE IDs are accepted', async () => {
    expect(mapped(await cert([{ CN: ['alice'] }]), { from: 'spiffe' })).toMatch(/^SEALBUS_ERR_AUTH_CERT_IDENTITY/);
  });

  it('rejects SPIFFE IDs of a trust domain that is not accepted', async () => {
    const c = await cert([{ CN: ['api'] }], ['spiffe://evil.example/ns/api']);
    expect(mapped(c, { from: 'cn', spiffeTrustDomains: ['prod.example'] })).toMatch(/trust domain "evil.example" is not accepted/);
  });

  it('rejects an invalid SPIFFE ID instead of falling back to the CN', async () => {
    const c = await cert([{ CN: ['api'] }], ['spiffe://prod.example/../admin']);
    expect(mapped(c, { from: 'cn' })).toMatch(/^SEALBUS_ERR_AUTH_CERT_IDENTITY: .*invalid SPIFFE ID/);
  });

  it('rejects ambiguity whatever the mapping', async () => {
    const twoCns = await cert([{ CN: ['a'] }, { CN: ['b'] }], ['spiffe://prod.example/a']);
    expect(mapped(twoCns, { from: 'spiffe' })).toMatch(/more than one CN/);
    const multiValued = await cert([{ CN: ['a'], OU: ['x'] }]);
    expect(mapped(multiValued, { from: 'dn' })).toMatch(/multi-valued RDN/);
    const twoUris = await cert([{ CN: ['a'] }], ['https://a.example/', 'spiffe://prod.example/a']);
    expect(mapped(twoUris, { from: 'cn', spiffe: false })).toMatch(/several URI/);
  });

  it('rejects names with control characters or no CN at all', async () => {
    expect(mapped(await cert([{ CN: ['alice\nadmin'] }]), { from: 'cn' })).toMatch(/control characters/);
    expect(mapped(await cert([{ O: ['acme'] }]), { from: 'cn' })).toMatch(/no CN/);
  });

  it('validates mappings at start-up', () => {
    const code = (mapping: IdentityMapping): string => {
      try {
        validateIdentityMapping(mapping);
        return 'valid';
      } catch (err) {
        return isSealbusError(err) ? err.code : String(err);
      }
    };
    expect(code({ from: 'template', template: '{O}/{CN}' })).toBe('valid');
    expect(code({ from: 'template', template: 'static' })).toBe('SEALBUS_ERR_CONFIG_INVALID');
    expect(code({ from: 'template', template: '{CN' })).toBe('SEALBUS_ERR_CONFIG_INVALID');
    expect(code({ from: 'cn', template: '{CN}' })).toBe('SEALBUS_ERR_CONFIG_INVALID');
    expect(code({ from: 'spiffe', spiffe: false })).toBe('SEALBUS_ERR_CONFIG_INVALID');
    expect(code({ from: 'uid' as 'cn' })).toBe('SEALBUS_ERR_CONFIG_INVALID');
  });
});

describe('client certificate usage (checked by sealbus itself, not only by OpenSSL)', () => {
  const usage = (certificate: x509.X509Certificate): string => {
    try {
      checkClientUsage(certificate);
      return 'ok';
    } catch (err) {
      return isSealbusError(err) ? err.code : String(err);
    }
  };

  it('accepts clientAuth or no EKU, and refuses serverAuth only and CA certificates', async () => {
    const parse = (pem: string): x509.X509Certificate => new x509.X509Certificate(pem);
    expect(usage(parse((await issueCertificate({ ca, commonName: 'c' })).certPem))).toBe('ok');
    expect(usage(parse((await issueCertificate({ ca, commonName: 'n', extendedKeyUsage: 'none' })).certPem))).toBe('ok');
    expect(usage(parse((await craftCertificate(ca, { subject: [{ CN: ['s'] }], extendedKeyUsage: [SERVER_AUTH] })).certPem))).toBe(
      'SEALBUS_ERR_AUTH_CERT_USAGE',
    );
    expect(usage(parse(ca.certPem))).toBe('SEALBUS_ERR_AUTH_CERT_USAGE');
  });

  it('refuses a CA certificate even when its key usage would allow signing', async () => {
    const flags = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign;
    const subCa = await craftCertificate(ca, { subject: [{ CN: ['sub'] }], isCa: true, keyUsage: flags });
    expect(usage(new x509.X509Certificate(subCa.certPem))).toBe('SEALBUS_ERR_AUTH_CERT_USAGE');
  });

  it('refuses a key usage that allows neither signing nor key agreement', async () => {
    const encipherOnly = await craftCertificate(ca, { subject: [{ CN: ['enc'] }], keyUsage: x509.KeyUsageFlags.keyEncipherment });
    expect(usage(new x509.X509Certificate(encipherOnly.certPem))).toBe('SEALBUS_ERR_AUTH_CERT_USAGE');
  });
});

describe('SPIFFE IDs', () => {
  it.each([
    'spiffe://example.org/service',
    'spiffe://prod.example-1_a/ns/default/sa/api',
    'spiffe://example.org/a.b-c_d/E',
  ])('accepts %s', (id) => {
    expect(parseSpiffeId(id)).toMatchObject({ id });
  });

  it.each([
    ['spiffe://example.org', 'needs a path'],
    ['SPIFFE://example.org/a', 'scheme'],
    ['spiffe://Example.org/a', 'trust domain'],
    ['spiffe://example.org:8443/a', 'trust domain'],
    ['spiffe://user@example.org/a', 'trust domain'],
    ['spiffe:///a', 'trust domain is empty'],
    ['spiffe://example.org/a//b', 'empty segment'],
    ['spiffe://example.org/a/', 'empty segment'],
    ['spiffe://example.org/a/../b', '".."'],
    ['spiffe://example.org/a?admin=1', 'query'],
    ['spiffe://example.org/a#frag', 'fragment'],
    ['spiffe://example.org/a%2Fb', 'letters'],
    [`spiffe://example.org/${'a'.repeat(2048)}`, 'longer'],
  ])('rejects %s', (id, reason) => {
    const parsed = parseSpiffeId(id);
    expect(parsed).toHaveProperty('invalid');
    expect((parsed as { invalid: string }).invalid).toContain(reason);
  });
});
