/**
 * The broker's security posture as numbers: when its certificates expire, which policy is in force
 * and whether reloads are refused, and which build runs.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Counter, Gauge, type Registry } from 'prom-client';

/** Where the TLS material is read when scraped (it may be reloaded while the broker runs). */
export interface CertificateSource {
  /** The server certificate (chain) PEM; the first certificate is the server's own. */
  serverCertificate(): string;
  /** The CA certificates clients are checked against. */
  trustAnchors(): readonly X509Certificate[];
}

export interface PolicySource {
  readonly version: string;
  readonly rules: readonly unknown[];
}

const expirySeconds = (certificate: X509Certificate): number => Date.parse(certificate.validTo) / 1000;

export class SecurityMetrics {
  #certificates: CertificateSource | null = null;
  #parsed: { pem: string; expiry: number } | null = null;
  #policy: (() => PolicySource) | null = null;
  readonly #loadedAt: Gauge;
  readonly #reloads: Counter<'result'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const expiries = (): { server: number; ca: number } | null => this.#expiries();
    new Gauge({
      name: 'sealbus_certificate_expiry_timestamp_seconds',
      help: 'When a certificate stops being valid (Unix seconds): certificate="server" is the broker\'s own, certificate="ca" the first to expire of the CAs that clients are checked against. Alert 14 days before.',
      labelNames: ['certificate'] as const,
      registers,
      collect() {
        const known = expiries();
        this.reset();
        if (known === null) return;
        this.set({ certificate: 'server' }, known.server);
        if (Number.isFinite(known.ca)) this.set({ certificate: 'ca' }, known.ca);
      },
    });
    const policy = (): PolicySource | null => this.#policy?.() ?? null;
    new Gauge({
      name: 'sealbus_policy_info',
      help: 'Always 1; the version label is the hash of the policy files in force (GET /v1/policy, /readyz). A change means a reload was applied.',
      labelNames: ['version'] as const,
      registers,
      collect() {
        const current = policy();
        this.reset();
        if (current !== null) this.set({ version: current.version }, 1);
      },
    });
    new Gauge({
      name: 'sealbus_policy_rules',
      help: 'Rules of the policy in force. 0 means every request is denied.',
      registers,
      collect() {
        this.set(policy()?.rules.length ?? 0);
      },
    });
    this.#loadedAt = new Gauge({
      name: 'sealbus_policy_loaded_timestamp_seconds',
      help: 'When the policy in force was loaded (Unix seconds): at start, then at each reload applied.',
      registers,
    });
    this.#reloads = new Counter({
      name: 'sealbus_policy_reloads_total',
      help: 'Policy reloads after a file change, by result (applied, refused). A refused reload keeps the previous policy in force: alert on any, the files on disk are not what runs.',
      labelNames: ['result'] as const,
      registers,
    });
    // Both series exist from the start, so that increase() sees the first refusal.
    this.#reloads.inc({ result: 'applied' }, 0);
    this.#reloads.inc({ result: 'refused' }, 0);
    const build = buildInfo();
    new Gauge({
      name: 'sealbus_build_info',
      help: 'Always 1; labels name the sealbus version and the Node.js version running it.',
      labelNames: ['version', 'node_version'] as const,
      registers,
    }).set(build, 1);
  }

  watchCertificates(source: CertificateSource): void {
    this.#certificates = source;
  }

  watchPolicy(policy: () => PolicySource, loadedAtMs: number): void {
    this.#policy = policy;
    this.#loadedAt.set(loadedAtMs / 1000);
  }

  policyReloaded(result: 'applied' | 'refused', atMs: number): void {
    this.#reloads.inc({ result });
    if (result === 'applied') this.#loadedAt.set(atMs / 1000);
  }

  #expiries(): { server: number; ca: number } | null {
    const source = this.#certificates;
    if (source === null) return null;
    const pem = source.serverCertificate();
    // Parsed again only after a reload replaced the PEM.
    if (this.#parsed?.pem !== pem) this.#parsed = { pem, expiry: expirySeconds(new X509Certificate(pem)) };
    let ca = Number.POSITIVE_INFINITY;
    for (const anchor of source.trustAnchors()) ca = Math.min(ca, expirySeconds(anchor));
    return { server: this.#parsed.expiry, ca };
  }
}

let build: { version: string; node_version: string } | undefined;

/** The version in sealbus' package.json, found from this file upwards (source or built layout). */
function buildInfo(): { version: string; node_version: string } {
  if (build !== undefined) return build;
  let version = 'unknown';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++, dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'sealbus' && typeof manifest.version === 'string') {
        version = manifest.version;
        break;
      }
    } catch {
      // no package.json at this level
    }
  }
  build = { version, node_version: process.versions.node };
  return build;
}
