/**
 * Token verification per second (`npm run bench:tokens`).
 *
 * uncached   TokenVerifier.verify on tokens it has never seen: Ed25519 signature and claims checks
 *            (what the first request of a connection costs).
 * cached     verify on tokens verified before: SHA-256 of the token, LRU lookup, expiry, binding,
 *            key-retirement and revocation re-checks (what every later HTTP request costs).
 * cached+rv  the same with 100,000 revocations in force (jti and subject entries).
 * issue      LocalIssuer.issueTokenWithClaims: signing one token.
 *
 * Each measurement runs RUNS times; medians are printed, and cached+rv relative to cached.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalIssuer, TokenVerifier, type CertificateIdentity } from '../src/auth/index.js';
import { RevocationList, type RevocationEntry } from '../src/auth/revocation-list.js';

const RUNS = 5;
const BUDGET_MS = 400;
const TOKENS = 2000;
const REVOCATIONS = 100_000;
const THUMBPRINT = 'q1MKPvoW6nL3wD6R0Qk8o0cD8a5p8G3nX2h5bJ7yT4E';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function perSecond(work: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  let done = 0;
  while (performance.now() - start < BUDGET_MS) {
    for (let i = 0; i < 100; i++) await work(done + i);
    done += 100;
  }
  return (done * 1000) / (performance.now() - start);
}

const certificate: CertificateIdentity = {
  principal: 'svc',
  spiffeId: null,
  subject: 'CN=svc',
  issuer: 'CN=ca',
  serialNumber: '1',
  fingerprint256: THUMBPRINT,
  notAfter: Number.POSITIVE_INFINITY,
};

const dir = await mkdtemp(join(tmpdir(), 'sealbus-bench-tokens-'));
try {
  const issuer = await LocalIssuer.loadOrCreate(dir, { issuer: 'bench' });
  const issue = (i: number) => issuer.issueToken({ sub: `svc-${i % 100}`, ttlSeconds: 3600, audience: 'sealbus', bindThumbprint: THUMBPRINT, scopes: ['produce:orders.>'] });
  const tokens = await Promise.all(Array.from({ length: TOKENS }, (_, i) => issue(i)));
  const revocations = new RevocationList({ maxEntries: REVOCATIONS * 2 });
  const verifier = (withRevocations: boolean) =>
    new TokenVerifier({
      issuers: [issuer.trust()],
      audience: 'sealbus',
      cacheSize: TOKENS * 2,
      ...(withRevocations && { isTokenRevoked: (token) => revocations.isRevoked(token) }),
    });
  const now = Date.now();
  for (let i = 0; i < REVOCATIONS; i++) {
    const entry: RevocationEntry =
      i % 2 === 0
        ? { kind: 'token', issuer: 'bench', jti: `revoked-${i}`, revokedAt: now, until: now + 86_400_000, reason: null, by: 'bench' }
        : { kind: 'subject', principal: `gone-${i}`, before: now, revokedAt: now, until: now + 86_400_000, reason: null, by: 'bench' };
    revocations.add(entry);
  }

  const results: Record<string, number[]> = { uncached: [], cached: [], 'cached+rv': [], issue: [] };
  for (let run = 0; run < RUNS; run++) {
    let fresh = verifier(false);
    results.uncached!.push(
      await perSecond(async (i) => {
        if (i % TOKENS === 0) fresh = verifier(false);
        return fresh.verify(tokens[i % TOKENS]!, certificate);
      }),
    );
    for (const [name, withRevocations] of [['cached', false], ['cached+rv', true]] as const) {
      const warm = verifier(withRevocations);
      for (const token of tokens) await warm.verify(token, certificate);
      results[name]!.push(await perSecond((i) => warm.verify(tokens[i % TOKENS]!, certificate)));
    }
    results.issue!.push(await perSecond(issue));
  }
  const format = (n: number): string => `${Math.round(n).toLocaleString('en-US')}/s`;
  for (const [name, values] of Object.entries(results)) {
    console.log(`${name.padEnd(10)} median ${format(median(values)).padStart(14)}   runs ${values.map(format).join(' ')}`);
  }
  const ratios = results.cached!.map((c, i) => results['cached+rv']![i]! / c);
  console.log(`cached+rv / cached (same run): median ${median(ratios).toFixed(2)}; cached / uncached: ${(median(results.cached!) / median(results.uncached!)).toFixed(1)}x`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
