/** One PEM block: its label (`CERTIFICATE`, `X509 CRL`, ...) and the whole armoured text. */
export interface PemBlock {
  readonly label: string;
  readonly text: string;
  readonly der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END \1-----/g;

/** Splits a bundle into blocks; text outside blocks (comments such as `openssl x509 -text`) is ignored. */
export function splitPem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const label = match[1] ?? '';
    const body = (match[2] ?? '').replace(/\s+/g, '');
    blocks.push({ label, text: `${match[0]}\n`, der: Buffer.from(body, 'base64') });
  }
  return blocks;
}

export function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const base64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
