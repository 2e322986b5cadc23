import type { TLSSocket } from 'node:tls';
import type { CertificateIdentity, Principal } from '../../auth/index.js';

/** What the registry needs of a live session. */
export interface LiveSession {
  readonly principal: Principal;
  readonly certificate: CertificateIdentity;
  /** The TLS connection, re-identified when the CA bundle or CRL is reloaded. */
  readonly tlsSocket: TLSSocket;
  close(code: number, reason: string): void;
  /** Re-checks the session's rights now (after a policy change): withdrawn ones end at once. */
  revalidate(): void;
}

/**
 * The live WebSocket sessions: enforces the session limit and lets the broker act on all of them
 * at once (shutdown, a certificate revoked by a CRL reload, a policy change).
 */
export class SessionRegistry {
  readonly #sessions = new Set<LiveSession>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** False when the limit is reached; the caller refuses the session. */
  add(session: LiveSession): boolean {
    if (this.#sessions.size >= this.#max) return false;
    this.#sessions.add(session);
    return true;
  }

  delete(session: LiveSession): void {
    this.#sessions.delete(session);
  }

  /**
   * Asks `verdict` about every session: a string is the reason (an error code) to close it with,
   * null keeps it. Returns how many were closed.
   */
  closeEach(verdict: (session: LiveSession) => string | null, code: number): number {
    let closed = 0;
    for (const session of [...this.#sessions]) {
      const reason = verdict(session);
      if (reason !== null) {
        session.close(code, reason);
        closed++;
      }
    }
    return closed;
  }

  /** After a policy change: every session ends the subscriptions and memberships it may no longer hold. */
  revalidateAll(): void {
    for (const session of [...this.#sessions]) session.revalidate();
  }

  closeAll(code: number, reason: string): number {
    return this.closeEach(() => reason, code);
  }
}
