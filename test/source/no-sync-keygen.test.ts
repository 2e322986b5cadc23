/**
 * A rule for src: no `generateKeyPairSync`. On Node 20.20 it sometimes deadlocks the process for
 * good (a collection during the call runs the destructor of an earlier key generation job, which
 * takes a lock the call holds: the main thread waits on itself in ~KeyGenJob). A broker that
 * generates its audit or issuer key would hang at start or at a key rotation. src/auth/private-files.ts
 * has newEd25519PrivateKey, which generates off the main thread.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('key generation in src', () => {
  it('never calls generateKeyPairSync (newEd25519PrivateKey instead)', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(50);
    const offenders = files.filter((file) => /\bgenerateKeyPairSync\s*\(/.test(readFileSync(file, 'utf8'))).map((file) => relative(SRC, file));
    expect(offenders).toEqual([]);
  });
});
