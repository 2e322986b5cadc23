/**
 * Token claims handling (src/auth/token-verifier.ts, token-claims.ts): tokens signed with the right
 * key but carrying arbitrary or hostile headers, claim sets and sizes, as an issuer with a bug (or
 * an external issuer we trust for signatures only) would produce, and tokens that are not JWTs at
 * all. Either an identity the broker can use as it is, or a SEALBUS_ERR_AUTH_TOKEN_* code.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { TokenVerifier, type CertificateIdentity, type IssuerTrust, type TokenIdentity } from '../../src/auth/index.js';
import { checkTokenBinding, checkTokenTimes, readVerifiedClaims } from '../../src/auth/token-claims.js';
import type { ErrorCode } from '../../src/errors/index.js';
import { encodeFrame } from '../../src/protocol/index.js';
import { asyncOutcomeOf, ensure, ensureBounded, neverThrows, outcomeOf, timed, timedAsync, type FuzzTarget } from './contract.js';
import { byteMutations, mutateBytes } from './mutate-bytes.js';
import { mutateText, textMutations } from './mutate-text.js';

const NOW = 1_700_000_000;
const AUDIENCE = 'sealbus';
const OPEN_ISSUER = 'https://issuer.test';
/** Requires binding, any `typ`, groups from `roles`, principals prefixed. */
const STRICT_ISSUER = 'https://strict.test';
const THUMBPRINT = 'q1MKPvoW6nL3wD6R0Qk8o0cD8a5p8G3nX2h5bJ7yT4E';

const TOKEN_CODES: readonly ErrorCode[] = [
  'SEALBUS_ERR_AUTH_TOKEN_MALFORMED',
  'SEALBUS_ERR_AUTH_TOKEN_HEADER',
  'SEALBUS_ERR_AUTH_TOKEN_ALG',
  'SEALBUS_ERR_AUTH_TOKEN_CLAIMS',
  'SEALBUS_ERR_AUTH_TOKEN_ISSUER',
  'SEALBUS_ERR_AUTH_TOKEN_TYPE',
  'SEALBUS_ERR_AUTH_TOKEN_KEY_RETIRED',
  'SEALBUS_ERR_AUTH_TOKEN_SIGNATURE',
  'SEALBUS_ERR_AUTH_TOKEN_EXPIRED',
  'SEALBUS_ERR_AUTH_TOKEN_NOT_YET_VALID',
  'SEALBUS_ERR_AUTH_TOKEN_TOO_OLD',
  'SEALBUS_ERR_AUTH_TOKEN_AUDIENCE',
  'SEALBUS_ERR_AUTH_TOKEN_UNBOUND',
  'SEALBUS_ERR_AUTH_TOKEN_BINDING',
];

function certificate(fingerprint256: string): CertificateIdentity {
  return { principal: 'alice', spiffeId: null, subject: 'CN=alice', issuer: 'CN=Test CA', serialNumber: '1', fingerprint256, notAfter: (NOW + 86_400) * 1000 };
}

export function trusts(jwk: Record<string, unknown>): IssuerTrust[] {
  const jwks = { keys: [{ ...jwk, kid: 'k1', alg: 'EdDSA', use: 'sig' }, { ...jwk, kid: 'old', alg: 'EdDSA', use: 'sig' }] };
  return [
    { issuer: OPEN_ISSUER, jwks, requireBinding: false, isKeyRetired: (kid) => kid === 'old' },
    { issuer: STRICT_ISSUER, jwks, requireBinding: true, typ: null, groupsClaim: 'roles', subjectPrefix: 'strict:' },
  ];
}

/** Values an issuer with a bug could put in any claim or header parameter. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1.5, 1e300, -1e300, 2 ** 53 + 2, '', ' ', '\u0000', '\u202e', '__proto__', [], {}, [1], ['a b'], [''], { 'x5t#S256': 1 }),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.double({ noNaN: true }),
  fc.integer({ min: 1000, max: 20_000 }).filter((length) => length % 4 === 0).map((length) => 'x'.repeat(length)),
  fc.array(fc.string({ maxLength: 6 }), { maxLength: 4 }),
);

const claimValues: Record<string, fc.Arbitrary<unknown>> = {
  iss: fc.constantFrom(OPEN_ISSUER, STRICT_ISSUER, 'https://other.test', `${OPEN_ISSUER}/`),
  sub: fc.oneof(fc.constantFrom('alice', 'bob', ' alice', 'a\nb', 'a'.repeat(256), 'a'.repeat(257), '*', 'admin\u202e'), fc.string({ minLength: 1, maxLength: 10 })),
  aud: fc.constantFrom(AUDIENCE, [AUDIENCE], [AUDIENCE, 'other'], 'other', [], ['Sealbus']),
  // Seconds as NumericDate: fractions are allowed (RFC 7519 §2).
  exp: fc.oneof(fc.integer({ min: NOW - 100, max: NOW + 100_000 }), fc.double({ min: NOW - 100, max: NOW + 100_000, noNaN: true }), fc.constantFrom(NOW + 0.5, NOW + 600.25, 1e300, 2 ** 53, 9e15, -1, 0)),
  iat: fc.oneof(fc.integer({ min: NOW - 3_000_000, max: NOW + 100 }), fc.double({ min: NOW - 100, max: NOW, noNaN: true }), fc.constantFrom(NOW - 0.5, -1e300, 0)),
  nbf: fc.oneof(fc.integer({ min: NOW - 100, max: NOW + 100 }), fc.double({ min: NOW - 100, max: NOW + 100, noNaN: true })),
  jti: fc.oneof(fc.constantFrom('jti-1', ''), fc.string({ maxLength: 40 })),
  scope: fc.oneof(fc.constantFrom('', ' ', 'produce:orders.> consume:orders.>', 'read-audit', '  produce  '), fc.string({ maxLength: 30 })),
  scp: fc.oneof(fc.constant(['read']), fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 })),
  groups: fc.oneof(fc.constant(['ops']), fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 })),
  roles: fc.oneof(fc.constant(['ops']), fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 })),
  cnf: fc.constantFrom({ 'x5t#S256': THUMBPRINT }, { 'x5t#S256': 'A'.repeat(43) }, { jkt: 'x' }, { 'x5t#S256': 'short' }, {}, 'x'),
  act: fc.constantFrom({ sub: 'admin' }, 'x'),
};

const CLAIM_NAMES = Object.keys(claimValues);

/** Claims a trusted issuer would sign and the broker accepts (a bound token for the strict issuer). */
const validClaims = fc
  .record({
    iss: fc.constantFrom(OPEN_ISSUER, STRICT_ISSUER),
    sub: fc.constantFrom('alice', 'bob', 'svc-1'),
    aud: fc.constantFrom(AUDIENCE, [AUDIENCE, 'other']),
    exp: fc.oneof(fc.integer({ min: NOW + 1, max: NOW + 100_000 }), fc.double({ min: NOW + 1, max: NOW + 100_000, noNaN: true })),
    iat: fc.integer({ min: NOW - 1000, max: NOW }),
  })
  .map((base) => ({ ...base, jti: 'jti-1', ...(base.iss === STRICT_ISSUER && { cnf: { 'x5t#S256': THUMBPRINT } }) }));

/** A claim set: a valid one, then some claims replaced, removed or added, valid values or odd ones. */
const claims: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.oneof(validClaims, fc.record({ iss: claimValues['iss']!, sub: claimValues['sub']!, aud: claimValues['aud']!, exp: claimValues['exp']!, iat: claimValues['iat']! })),
    fc.array(fc.tuple(fc.constantFrom(...CLAIM_NAMES, '__proto__', 'constructor', 'x'), fc.nat({ max: 3 }), oddValue), { maxLength: 3 }),
  )
  .chain(([base, edits]) =>
    fc.tuple(fc.constant(base), fc.constant(edits), fc.tuple(...edits.map(([name]) => (Object.hasOwn(claimValues, name) ? claimValues[name]! : oddValue)))).map(([b, e, typical]) => {
      const out: Record<string, unknown> = { jti: 'jti-1', ...b };
      e.forEach(([name, how, odd], index) => {
        if (how === 0) delete out[name];
        else Object.defineProperty(out, name, { value: how === 1 ? odd : typical[index], enumerable: true, writable: true, configurable: true });
      });
      return out;
    }),
  );

const header: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.record({
      alg: fc.constantFrom('EdDSA', 'EdDSA', 'EdDSA', 'Ed25519', 'none', 'HS256', 'ES256', 'eddsa', 'EdDSA '),
      typ: fc.constantFrom('sealbus+jwt', 'sealbus+jwt', 'application/SEALBUS+JWT', 'JWT', 'at+jwt', undefined),
      kid: fc.constantFrom('k1', 'k1', 'k1', 'old', 'unknown', undefined),
    }),
    fc.array(
      fc.tuple(
        fc.constantFrom('crit', 'b64', 'jku', 'x5u', 'jwk', 'x5c', 'zip', 'enc', 'cty', 'kid', 'typ', '__proto__', 'x'),
        fc.oneof(fc.constantFrom(['b64'], ['exp'], [], ['x'], false, 'DEF', { kty: 'OKP' }), oddValue),
      ),
      { maxLength: 2 },
    ),
  )
  .map(([base, extras]) => {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(base)) if (value !== undefined) out[name] = value;
    for (const [name, value] of extras) Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
    return out;
  });

/** JSON text of a value, or something that is not quite it: JSON-level mutations and other documents. */
const jsonOf = (value: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Buffer> =>
  fc.oneof(
    { weight: 8, arbitrary: value.map((v) => Buffer.from(JSON.stringify(v))) },
    { weight: 1, arbitrary: fc.tuple(value, textMutations(2)).map(([v, steps]) => Buffer.from(mutateText(JSON.stringify(v), steps))) },
    { weight: 1, arbitrary: fc.tuple(value, byteMutations(2)).map(([v, steps]) => mutateBytes(Buffer.from(JSON.stringify(v)), steps)) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('[]', '"x"', '1', 'null', `${'['.repeat(5000)}${']'.repeat(5000)}`, '{"alg":"none","alg":"EdDSA"}', '\ufeff{}', '{"__proto__":{"alg":"none"}}')
        .map((text) => Buffer.from(text)),
    },
  );

type TokenShape = 'signed' | 'bad-signature' | 'parts' | 'garbage';

interface TokenInput {
  readonly headerBytes: Buffer;
  readonly payloadBytes: Buffer;
  readonly shape: TokenShape;
  readonly bound: boolean;
}

const pristineHeader = fc.constantFrom({ alg: 'EdDSA', typ: 'sealbus+jwt', kid: 'k1' }, { alg: 'EdDSA', typ: 'sealbus+jwt' }, { alg: 'EdDSA', typ: 'JWT', kid: 'k1' });

export const tokenInput: fc.Arbitrary<TokenInput> = fc.oneof(
  // What a working issuer signs, some claims then edited: reaches the checks after the signature.
  fc.record({
    headerBytes: pristineHeader.map((value) => Buffer.from(JSON.stringify(value))),
    payloadBytes: fc.oneof(validClaims, claims).map((value) => Buffer.from(JSON.stringify(value))),
    shape: fc.constant<TokenShape>('signed'),
    bound: fc.boolean(),
  }),
  fc.record({
    headerBytes: jsonOf(header),
    payloadBytes: jsonOf(claims),
    shape: fc.constantFrom<TokenShape>('signed', 'signed', 'signed', 'bad-signature', 'parts', 'garbage'),
    bound: fc.boolean(),
  }),
);

export function tokenOf(input: TokenInput, key: KeyObject): string {
  const signingInput = `${input.headerBytes.toString('base64url')}.${input.payloadBytes.toString('base64url')}`;
  const signature = sign(null, Buffer.from(signingInput), key);
  switch (input.shape) {
    case 'signed':
      return `${signingInput}.${signature.toString('base64url')}`;
    case 'bad-signature':
      signature[0] = signature[0]! ^ 1;
      return `${signingInput}.${signature.toString('base64url')}`;
    case 'parts':
      return `${signingInput}.${signature.toString('base64url')}.${signingInput}`;
    case 'garbage':
      return `${signingInput}!.${signature.toString('base64')}`;
  }
}

/** What the broker does with an identity, and what must hold of it for that to be safe. */
function checkIdentity(identity: TokenIdentity, payload: unknown, nowSec: number, inputSize: number): void {
  const claimsObject = payload as Record<string, unknown>;
  ensure(identity.issuer === OPEN_ISSUER || identity.issuer === STRICT_ISSUER, 'an identity from an issuer not configured');
  ensure(identity.principal === `${identity.issuer === STRICT_ISSUER ? 'strict:' : ''}${identity.subject}`, 'the principal is not prefix and subject');
  ensure(identity.subject === claimsObject['sub'], 'the subject is not the token\'s sub');
  for (const [name, at] of [['expiresAt', identity.expiresAt], ['issuedAt', identity.issuedAt]] as const) {
    ensure(Number.isInteger(at / 1000) || at === Infinity, `${name} ${at} is not a whole number of seconds`);
  }
  ensure(identity.expiresAt > (nowSec - 30) * 1000, 'an expired token was accepted');
  ensure(identity.groups.every((group) => typeof group === 'string' && group.length > 0), 'a group that is not a name');
  // A scope that does not parse matches nothing (src/policy/scopes.ts): only emptiness is checked here.
  ensure(identity.scopes === null || identity.scopes.every((scope) => typeof scope === 'string' && scope !== ''), 'an empty scope');
  // The WebSocket session tells the client when its token ends: those frames must be encodable.
  neverThrows('encodeFrame(REFRESHED)', () => encodeFrame({ type: 'REFRESHED', requestId: 1, expiresAt: Math.min(identity.expiresAt, Number.MAX_SAFE_INTEGER) }));
  ensureBounded(identity, inputSize, 1);
}

export const tokenVerifyTarget: FuzzTarget = {
  name: 'tokens/verify',
  covers: 'TokenVerifier.verify (src/auth/token-verifier.ts, token-claims.ts, token-errors.ts) on tokens signed with the issuer\'s key',
  weight: 30,
  quickRuns: 300,
  async build() {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const verifier = new TokenVerifier({ issuers: trusts(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), audience: AUDIENCE, now: () => NOW * 1000 });
    return {
      property: fc.asyncProperty(tokenInput, async (input) => {
        const token = tokenOf(input, privateKey);
        const cert = certificate(input.bound ? THUMBPRINT : 'B'.repeat(43));
        const verified = await timedAsync('token', () => asyncOutcomeOf('TokenVerifier.verify', TOKEN_CODES, () => verifier.verify(token, cert)));
        if (!verified.ok) return;
        ensure(input.shape === 'signed', 'a token with a bad signature or shape was accepted');
        const headerValue = JSON.parse(input.headerBytes.toString()) as Record<string, unknown>;
        ensure(headerValue['alg'] === 'EdDSA' || headerValue['alg'] === 'Ed25519', 'accepted with another alg');
        ensure(!['jku', 'x5u', 'jwk', 'x5c'].some((name) => Object.hasOwn(headerValue, name)), 'accepted with a key header');
        const payload = JSON.parse(input.payloadBytes.toString()) as Record<string, unknown>;
        const aud = payload['aud'];
        ensure(aud === AUDIENCE || (Array.isArray(aud) && aud.includes(AUDIENCE)), 'accepted for another audience');
        checkIdentity(verified.value, payload, NOW, token.length);
      }),
    };
  },
};

/** readVerifiedClaims and the per-use checks alone, on claim sets as jose hands them over (after its own checks). */
export const tokenClaimsTarget: FuzzTarget = {
  name: 'tokens/claims',
  covers: 'readVerifiedClaims, checkTokenTimes, checkTokenBinding (src/auth/token-claims.ts)',
  weight: 60,
  quickRuns: 1500,
  async build() {
    const trust = trusts({})[0]!;
    const strict = trusts({})[1]!;
    return {
      property: fc.property(claims, fc.boolean(), fc.constantFrom(null, 'k1', 'old'), fc.integer({ min: -100_000, max: 100_000 }), (payload, useStrict, kid, skew) => {
        timed('claims', () => {
          const read = outcomeOf('readVerifiedClaims', ['SEALBUS_ERR_AUTH_TOKEN_CLAIMS'], () => readVerifiedClaims(payload, useStrict ? strict : trust, kid));
          if (!read.ok) return;
          const token = read.value;
          const rules = { clockToleranceSec: 30, maxTokenAgeSec: 2_592_000 };
          const times = outcomeOf('checkTokenTimes', ['SEALBUS_ERR_AUTH_TOKEN_EXPIRED', 'SEALBUS_ERR_AUTH_TOKEN_NOT_YET_VALID', 'SEALBUS_ERR_AUTH_TOKEN_TOO_OLD'], () =>
            checkTokenTimes(token, (NOW + skew) * 1000, rules),
          );
          outcomeOf('checkTokenBinding', ['SEALBUS_ERR_AUTH_TOKEN_UNBOUND', 'SEALBUS_ERR_AUTH_TOKEN_BINDING'], () => checkTokenBinding(token, certificate(THUMBPRINT)));
          if (times.ok) checkIdentity(token.identity, payload, NOW + skew, JSON.stringify(payload).length);
        });
      }),
    };
  },
};
