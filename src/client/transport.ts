import type { SealbusError } from '../errors/index.js';
import type { Credential } from './connection-options.js';

/** One open connection carrying binary protocol frames. */
export interface FrameConnection {
  send(frame: Buffer): void;
  /** Closes the connection; `onClose` follows. */
  close(code: number, reason: string): void;
}

/** What a transport reports about one connection. */
export interface ConnectionEvents {
  onFrame(frame: Buffer): void;
  /** Called exactly once, when the connection is gone; no frame arrives after it. */
  onClose(error: SealbusError): void;
}

/**
 * Opens connections to a broker. The SDK's logic talks to this interface only, so tests can plug
 * in a plain `ws://` server or an in-memory fake; `webSocketTransport` is the real one.
 */
export interface Transport {
  connect(events: ConnectionEvents): Promise<FrameConnection>;
  /** The token credential, called again for a fresh token when the broker warns of expiry. */
  readonly token: Credential<string>;
}
