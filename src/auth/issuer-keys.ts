import { type JSONWebKeySet, type JWTVerifyGetKey, createLocalJWKSet, createRemoteJWKSet, customFetch, errors } from 'jose';
import { SealbusError } from '../errors/index.js';
import type { IssuerTrust, JwkSet } from './types.js';

function configError(issuer: string, reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_CONFIG_INVALID', { file: 'token issuers', key: `${issuer}.jwks`, reason });
}

function localKeys(issuer: string, set: JwkSet): JWTVerifyGetKey {
  try {
    return createLocalJWKSet(set as JSONWebKeySet);
  } catch {
    throw configError(issuer, 'is not a JSON Web Key Set ({"keys": [...]})');
  }
}

/**
 * The key resolver of one issuer. Only configured sources are consulted; whatever the token
 * header says about keys is ignored here and refused earlier by the verifier.
 */
export function keyResolverFor(trust: IssuerTrust): JWTVerifyGetKey {
  const source = trust.jwks;
  if (typeof source === 'function') {
    // Rebuilt only when the function returns another set (a rotation), so imported keys are reused.
    let lastSet: JwkSet | undefined;
    let resolver: JWTVerifyGetKey | undefined;
    return (header, token) => {
      const set = source();
      if (set !== lastSet || resolver === undefined) {
        resolver = localKeys(trust.issuer, set);
        lastSet = set;
      }
      return resolver(header, token);
    };
  }
  if ('url' in source) {
    let url: URL;
    try {
      url = new URL(source.url);
    } catch {
      throw configError(trust.issuer, 'the JWKS URL is not a URL');
    }
    // Keys fetched in clear text could be swapped by anyone on the path.
    if (url.protocol !== 'https:') throw configError(trust.issuer, 'the JWKS URL must be https');
    const remote = createRemoteJWKSet(url, {
      ...(source.cacheMaxAgeMs !== undefined && { cacheMaxAge: source.cacheMaxAgeMs }),
      ...(source.cooldownMs !== undefined && { cooldownDuration: source.cooldownMs }),
      ...(source.timeoutMs !== undefined && { timeoutDuration: source.timeoutMs }),
      ...(source.fetch !== undefined && { [customFetch]: source.fetch }),
    });
    return async (header, token) => {
      try {
        return await remote(header, token);
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
        // Network, HTTP status, timeout or a malformed document: the issuer's fault, not the client's.
        throw new SealbusError('SEALBUS_ERR_AUTH_KEYS_UNAVAILABLE', { iss: JSON.stringify(trust.issuer) });
      }
    };
  }
  return localKeys(trust.issuer, source);
}
