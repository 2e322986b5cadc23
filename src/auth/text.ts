import { createHash } from 'node:crypto';

/**
 * Prepares a value that came from the network (an `iss`, an `alg`, a header name) for an error
 * message: control characters could forge log lines, and an unbounded string could flood them.
 */
export function displayValue(value: unknown, max = 80): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '?');
  return JSON.stringify(clean.length > max ? `${clean.slice(0, max)}…` : clean);
}

/** True when the text could be shown in a log or a policy without hiding or forging anything. */
export function isPrintableName(value: string, maxLength = 256): boolean {
  return (
    value.length > 0 &&
    value.length <= maxLength &&
    value.trim() === value &&
    !/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(value)
  );
}

/** base64url SHA-256: the RFC 8705 `x5t#S256` of a DER certificate, and the token cache key. */
export function sha256Base64url(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('base64url');
}

/**
 * Serial numbers are compared as lowercase hex without leading zeros: OpenSSL, Node and
 * @peculiar/x509 each print them differently (`00FF01`, `ff01`).
 */
export function normalizeSerial(serial: string): string {
  const hex = serial.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) throw new TypeError('a serial number is hexadecimal');
  const trimmed = hex.replace(/^0+/, '');
  return trimmed === '' ? '0' : trimmed;
}
