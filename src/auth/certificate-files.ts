import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SealbusError } from '../errors/index.js';
import { PRIVATE_MODE, PUBLIC_MODE, fileExists, writeNewFile } from './private-files.js';
import type { PemPair } from './types.js';

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function certificateFileNames(dir: string, name: string): { certFile: string; keyFile: string } {
  // The name becomes a path: no separators, no leading dot, nothing that climbs out of `dir`.
  if (!FILE_NAME.test(name)) {
    throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', {
      reason: `"${name}" is not a usable file name (letters, digits, ".", "-", "_"; not starting with ".")`,
    });
  }
  return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

/**
 * Writes `dir/name.crt` (0644) and `dir/name.key` (0600). Fails with SEALBUS_ERR_AUTH_FILE_EXISTS,
 * writing nothing, if either exists.
 */
export async function writeCertificateFiles(dir: string, name: string, pair: PemPair): Promise<{ certFile: string; keyFile: string }> {
  const files = certificateFileNames(dir, name);
  for (const file of [files.keyFile, files.certFile]) {
    if (await fileExists(file)) throw new SealbusError('SEALBUS_ERR_AUTH_FILE_EXISTS', { file });
  }
  await writeNewFile(files.keyFile, pair.keyPem, PRIVATE_MODE);
  await writeNewFile(files.certFile, pair.certPem, PUBLIC_MODE);
  return files;
}

export async function readCertificateFiles(dir: string, name: string): Promise<PemPair> {
  const files = certificateFileNames(dir, name);
  try {
    const [certPem, keyPem] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
    return { certPem, keyPem };
  } catch (err) {
    const reason = err instanceof Error && 'code' in err ? String((err as NodeJS.ErrnoException).code) : 'unreadable';
    throw new SealbusError('SEALBUS_ERR_AUTH_MATERIAL_INVALID', { file: `${files.certFile} / ${files.keyFile}`, reason });
  }
}
