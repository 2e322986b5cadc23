import { catalog, isErrorCode, type ErrorCode } from './catalog.js';

export type ErrorParams = Readonly<Record<string, string | number | bigint | boolean | null | undefined>>;

function render(template: string, params: ErrorParams): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined || value === null ? whole : String(value);
  });
}

/** The JSON shape every transport carries: `{code, message}` and optional non-secret details. */
export interface WireError {
  code: string;
  message: string;
  retriable?: boolean;
  details?: Record<string, unknown>;
}

/**
 * The one error class of sealbus. Callers `switch (err.code)`; the HTTP status and whether a retry
 * may succeed come from the catalog, so they are the same on every path.
 */
export class SealbusError extends Error {
  override readonly name = 'SealbusError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, params: ErrorParams = {}, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    const spec = catalog[code];
    super(render(spec.message, params), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = spec.status;
    this.retriable = spec.retriable;
    this.details = options.details;
  }

  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message, retriable: this.retriable };
    if (this.details !== undefined) wire.details = { ...this.details };
    return wire;
  }

  /** Rebuilds an error received over the wire. An unknown code becomes SEALBUS_ERR_INTERNAL, keeping the text. */
  static fromWire(wire: WireError): SealbusError {
    const code: ErrorCode = isErrorCode(wire.code) ? wire.code : 'SEALBUS_ERR_INTERNAL';
    const err = new SealbusError(code, {}, wire.details === undefined ? {} : { details: wire.details });
    Object.defineProperty(err, 'message', { value: wire.message, enumerable: false });
    return err;
  }
}

export function isSealbusError(err: unknown, code?: ErrorCode): err is SealbusError {
  return err instanceof SealbusError && (code === undefined || err.code === code);
}
