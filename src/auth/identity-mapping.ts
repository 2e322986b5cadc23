import { SealbusError } from '../errors/index.js';
import { isSpiffeId, parseSpiffeId } from './spiffe-id.js';
import { isPrintableName } from './text.js';
import { x509 } from './x509-lib.js';

/**
 * How a client certificate names its principal. A SPIFFE ID in the URI SAN wins when `spiffe` is
 * on (the default); otherwise `from` decides:
 * - `'cn'`: the one CN of the subject;
 * - `'dn'`: the whole subject DN as RFC 4514 text (`CN=alice, O=acme`);
 * - `'template'`: `template` filled from subject attributes (`'{O}/{CN}'`), each used attribute
 *   occurring exactly once;
 * - `'spiffe'`: SPIFFE IDs only, certificates without one are rejected.
 */
export interface IdentityMapping {
  readonly from: 'cn' | 'dn' | 'template' | 'spiffe';
  readonly template?: string | undefined;
  readonly spiffe?: boolean | undefined;
  /** When set, SPIFFE IDs of other trust domains are rejected. */
  readonly spiffeTrustDomains?: readonly string[] | undefined;
}

export const defaultIdentityMapping: IdentityMapping = Object.freeze({ from: 'cn' });

export interface MappedIdentity {
  readonly principal: string;
  readonly spiffeId: string | null;
  readonly subject: string;
}

const TEMPLATE_FIELD = /\{([A-Za-z][A-Za-z0-9.]*)\}/g;

function ambiguous(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_AUTH_CERT_IDENTITY', { reason });
}

/** Checks a mapping once at start-up, so that a typo is a configuration error and not a 401 per client. */
export function validateIdentityMapping(mapping: IdentityMapping): void {
  const bad = (key: string, reason: string): SealbusError =>
    new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'identity mapping', key, reason });
  if (!['cn', 'dn', 'template', 'spiffe'].includes(mapping.from)) throw bad('from', 'must be cn, dn, template or spiffe');
  if (mapping.from === 'template') {
    const template = mapping.template ?? '';
    if ([...template.matchAll(TEMPLATE_FIELD)].length === 0) throw bad('template', 'must reference at least one attribute, such as {CN}');
    if (/[{}]/.test(template.replace(TEMPLATE_FIELD, ''))) throw bad('template', 'has an unclosed or invalid {field}');
  } else if (mapping.template !== undefined) {
    throw bad('template', 'is used only with from: template');
  }
  if (mapping.from === 'spiffe' && mapping.spiffe === false) throw bad('spiffe', 'from: spiffe with spiffe off would reject every certificate');
}

/** Attribute name → all its values, after refusing multi-valued RDNs (their order is not canonical). */
function subjectAttributes(cert: x509.X509Certificate): Map<string, string[]> {
  const attributes = new Map<string, string[]>();
  for (const rdn of cert.subjectName.toJSON()) {
    const pairs = Object.entries(rdn).flatMap(([type, values]) => values.map((value) => [type, value] as const));
    if (pairs.length !== 1) throw ambiguous('the subject has a multi-valued RDN');
    const [type, value] = pairs[0] ?? ['', ''];
    attributes.set(type, [...(attributes.get(type) ?? []), value]);
  }
  return attributes;
}

function uriSubjectAltNames(cert: x509.X509Certificate): string[] {
  let extensions: x509.SubjectAlternativeNameExtension[];
  try {
    extensions = cert.getExtensions(x509.SubjectAlternativeNameExtension);
  } catch {
    throw ambiguous('the subject alternative names cannot be read');
  }
  if (extensions.length > 1) throw ambiguous('the certificate has several subjectAltName extensions');
  return (extensions[0]?.names.items ?? []).filter((name) => name.type === 'url').map((name) => name.value);
}

function spiffePrincipal(uri: string, mapping: IdentityMapping): string {
  const parsed = parseSpiffeId(uri);
  if (!isSpiffeId(parsed)) throw ambiguous(`invalid SPIFFE ID (${parsed.invalid})`);
  if (mapping.spiffeTrustDomains !== undefined && !mapping.spiffeTrustDomains.includes(parsed.trustDomain)) {
    throw ambiguous(`SPIFFE trust domain "${parsed.trustDomain}" is not accepted`);
  }
  return parsed.id;
}

function subjectPrincipal(cert: x509.X509Certificate, attributes: Map<string, string[]>, mapping: IdentityMapping): string {
  if (mapping.from === 'spiffe') throw ambiguous('the certificate has no SPIFFE ID and only SPIFFE IDs are accepted');
  const template = mapping.from === 'template' ? (mapping.template ?? '') : '{CN}';
  const principal =
    mapping.from === 'dn'
      ? cert.subject
      : template.replace(TEMPLATE_FIELD, (_whole, field: string) => {
          const values = attributes.get(field) ?? [];
          if (values.length !== 1) {
            throw ambiguous(`the subject has ${values.length === 0 ? 'no' : values.length} ${field} attribute(s); exactly one is needed`);
          }
          return values[0] ?? '';
        });
  if (!isPrintableName(principal, mapping.from === 'dn' ? 1024 : 256)) {
    throw ambiguous('the mapped name is empty, too long or has control characters');
  }
  // A subject-derived name must not pass for a SPIFFE ID: policies naming spiffe://... principals
  // trust the URI SAN, which a CA may vet differently from a requested CN.
  if (/^spiffe:/i.test(principal)) throw ambiguous('a subject-derived name may not look like a SPIFFE ID');
  return principal;
}

/**
 * Names the principal of a client certificate, or throws SEALBUS_ERR_AUTH_CERT_IDENTITY when the
 * certificate could name more than one (two CNs, a multi-valued RDN, several URI SANs).
 */
export function mapCertificateIdentity(cert: x509.X509Certificate, mapping: IdentityMapping): MappedIdentity {
  // Ambiguity is refused whatever the mapping: the subject and SANs also go to the audit log.
  const attributes = subjectAttributes(cert);
  if ((attributes.get('CN')?.length ?? 0) > 1) throw ambiguous('the subject has more than one CN');
  const uris = uriSubjectAltNames(cert);
  if (uris.length > 1) throw ambiguous('the certificate has several URI subject alternative names');
  const uri = uris[0];
  const spiffeId = mapping.spiffe !== false && uri !== undefined && /^spiffe:/i.test(uri) ? spiffePrincipal(uri, mapping) : null;
  return {
    principal: spiffeId ?? subjectPrincipal(cert, attributes, mapping),
    spiffeId,
    subject: cert.subject,
  };
}
