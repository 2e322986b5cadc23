import type { X509Certificate as NodeX509 } from 'node:crypto';
import { type FSWatcher, watch as watchDir } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { SealbusError } from '../errors/index.js';
import { type MaterialSnapshot, type TlsMaterialFiles, loadMaterialSnapshot, revocationKey } from './tls-material-load.js';
import type { CertificateIdentity } from './types.js';

export type { TlsMaterialFiles } from './tls-material-load.js';

// TLS 1.3 suites first; for TLS 1.2 only forward-secret AEAD suites.
const CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Options for `https.createServer`, fastify's `https`, `tls.createServer` and `server.setSecureContext`. */
export interface TlsServerOptions {
  key: string;
  cert: string;
  ca: string[];
  crl?: string[];
  /** Every client must present a certificate... */
  requestCert: true;
  /** ...but the handshake completes anyway, so that identifyClient can answer 401 with an exact code. */
  rejectUnauthorized: false;
  /** TLS 1.2 at least; 1.3 is negotiated whenever the client supports it. */
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  ciphers: string;
  honorCipherOrder: true;
}

/** What identifyClient checks a connection against: the trust of the current generation. */
export interface TrustState {
  /** Increases on every reload that changed the files. */
  readonly generation: number;
  readonly anchors: readonly NodeX509[];
  readonly anchorFingerprints: ReadonlySet<string>;
  isRevoked(issuer: string, serialNumber: string): boolean;
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface TlsServerMaterial {
  serverOptions(): TlsServerOptions;
  /**
   * Re-reads the files. Resolves true when they changed (a new generation), false when identical.
   * Throws SEALBUS_ERR_AUTH_MATERIAL_INVALID and keeps the current material if the new files are bad.
   */
  reload(): Promise<boolean>;
  /**
   * Watches the files' folders and reloads on change; `onChange` runs after each successful reload
   * that changed something, `onError` when new files were refused. Returns a function that stops.
   */
  watch(onChange: () => void, onError?: (err: unknown) => void): () => void;
  /** True when the current CRLs list this certificate. */
  isRevoked(identity: Pick<CertificateIdentity, 'issuer' | 'serialNumber'>): boolean;
  trustState(): TrustState;
  readonly generation: number;
}

export interface LoadTlsMaterialOptions extends TlsMaterialFiles {
  /** Clock in milliseconds since the epoch (default Date.now). */
  readonly now?: () => number;
  /** Editors and `kubectl` write in bursts; changes are collected for this long (default 100 ms). */
  readonly watchDebounceMs?: number;
  /** Default TLSv1.2; nothing older is ever allowed. */
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

class FileTlsMaterial implements TlsServerMaterial {
  readonly #files: TlsMaterialFiles;
  readonly #now: () => number;
  readonly #debounceMs: number;
  readonly #minVersion: 'TLSv1.2' | 'TLSv1.3';
  #snapshot: MaterialSnapshot;
  #generation = 1;
  #state: TrustState;
  // Reloads run one after the other, so a slow one never overwrites a newer one.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    files: TlsMaterialFiles,
    snapshot: MaterialSnapshot,
    options: { now: () => number; debounceMs: number; minVersion: 'TLSv1.2' | 'TLSv1.3' },
  ) {
    this.#files = files;
    this.#snapshot = snapshot;
    this.#now = options.now;
    this.#debounceMs = options.debounceMs;
    this.#minVersion = options.minVersion;
    this.#state = this.#makeState();
  }

  get generation(): number {
    return this.#generation;
  }

  #makeState(): TrustState {
    const snapshot = this.#snapshot;
    return Object.freeze({
      generation: this.#generation,
      anchors: snapshot.anchors,
      anchorFingerprints: snapshot.anchorFingerprints,
      isRevoked: (issuer: string, serialNumber: string) => snapshot.revoked.has(revocationKey(issuer, serialNumber)),
      now: this.#now,
    });
  }

  serverOptions(): TlsServerOptions {
    const snapshot = this.#snapshot;
    const options: TlsServerOptions = {
      key: snapshot.keyPem,
      cert: snapshot.certPem,
      ca: [...snapshot.caPems],
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: this.#minVersion,
      ciphers: CIPHERS,
      honorCipherOrder: true,
    };
    if (snapshot.crlPems !== undefined) options.crl = [...snapshot.crlPems];
    return options;
  }

  reload(): Promise<boolean> {
    const run = this.#queue.then(async () => {
      const next = await loadMaterialSnapshot(this.#files, this.#now());
      if (next.contentHash === this.#snapshot.contentHash) return false;
      this.#snapshot = next;
      this.#generation += 1;
      this.#state = this.#makeState();
      return true;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  isRevoked(identity: Pick<CertificateIdentity, 'issuer' | 'serialNumber'>): boolean {
    return this.#state.isRevoked(identity.issuer, identity.serialNumber);
  }

  trustState(): TrustState {
    return this.#state;
  }

  watch(onChange: () => void, onError?: (err: unknown) => void): () => void {
    const paths = [this.#files.certFile, this.#files.keyFile, this.#files.caFile, this.#files.crlFile]
      .filter((file): file is string => file !== undefined)
      .map((file) => resolve(file));
    const names = new Set(paths.map((file) => basename(file)));
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const fire = (): void => {
      timer = undefined;
      this.reload().then(
        (changed) => {
          if (changed && !stopped) onChange();
        },
        (err: unknown) => {
          if (!stopped) onError?.(err);
        },
      );
    };
    const schedule = (file: string | Buffer | null): void => {
      const name = file === null ? null : String(file);
      // Folders are watched, not files: an atomic rename replaces the inode a file watch would
      // follow. Kubernetes swaps a "..data" symlink instead of touching the files themselves.
      if (name !== null && !names.has(name) && !name.startsWith('..')) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(fire, this.#debounceMs);
      timer.unref();
    };
    const watchers: FSWatcher[] = [...new Set(paths.map((file) => dirname(file)))].map((dir) => {
      const watcher = watchDir(dir, { persistent: false }, (_event, file) => schedule(file));
      watcher.on('error', (err) => onError?.(err));
      return watcher;
    });
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    };
  }
}

/** Loads the server's TLS material; throws SEALBUS_ERR_AUTH_MATERIAL_INVALID naming the bad file. */
export async function loadTlsMaterial(opts: LoadTlsMaterialOptions): Promise<TlsServerMaterial> {
  const now = opts.now ?? Date.now;
  const files: TlsMaterialFiles = {
    certFile: opts.certFile,
    keyFile: opts.keyFile,
    caFile: opts.caFile,
    ...(opts.crlFile === undefined ? {} : { crlFile: opts.crlFile }),
  };
  const snapshot = await loadMaterialSnapshot(files, now());
  const minVersion = opts.minVersion ?? 'TLSv1.2';
  if (minVersion !== 'TLSv1.2' && minVersion !== 'TLSv1.3') {
    throw new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'tls', key: 'minVersion', reason: 'must be TLSv1.2 or TLSv1.3' });
  }
  return new FileTlsMaterial(files, snapshot, { now, debounceMs: opts.watchDebounceMs ?? 100, minVersion });
}
