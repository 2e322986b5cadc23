/**
 * Names from clients: topic names (src/log/topic-name.ts, checked at creation and on every access,
 * and used as directory names), token scopes (src/policy/scopes.ts) and SPIFFE IDs from client
 * certificates (src/auth/spiffe-id.ts).
 */
import fc from 'fast-check';
import { parseSpiffeId } from '../../src/auth/spiffe-id.js';
import { TOPIC_NAME_MAX_LENGTH, assertTopicName } from '../../src/log/topic-name.js';
import { ACTIONS, actionApplies, parseScope, scopeMatches, type Resource } from '../../src/policy/index.js';
import { ensure, neverThrows, outcomeOf, timed, type FuzzTarget } from './contract.js';
import { mutateText, textMutations } from './mutate-text.js';

const TOPIC_CHAR = 'ABCXYZabcxyz0189._-';

/** Topic names the log accepts: segments of [A-Za-z0-9_-] joined by dots, not starting with '-' or '__'. */
export const validTopicName: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...'Aaz09_'.split('')),
    fc.string({ unit: fc.constantFrom(...'Aaz09_-'.split('')), maxLength: 12 }),
    fc.array(fc.string({ unit: fc.constantFrom(...'Aaz09_-'.split('')), minLength: 1, maxLength: 12 }), { maxLength: 5 }),
  )
  .map(([first, rest, segments]) => [first + rest, ...segments].join('.'))
  .filter((name) => !name.startsWith('__'));

/** The documented rule, written independently of topic-name.ts: what the log must accept and nothing else. */
function isTopicName(name: string, allowInternal: boolean): boolean {
  if (name.length < 1 || name.length > TOPIC_NAME_MAX_LENGTH) return false;
  for (const char of name) if (!/[A-Za-z0-9._-]/.test(char) || char.length !== 1) return false;
  if (name.startsWith('.') || name.startsWith('-') || name.endsWith('.')) return false;
  if (name.split('.').some((segment) => segment === '')) return false;
  return allowInternal || !name.startsWith('__');
}

const nameLike = fc.oneof(
  validTopicName,
  fc.constantFrom('.', '..', '-a', '__sealbus.audit', '__x', 'a..b', 'a.', '.a', 'a/b', 'a\\b', 'a\u0000b', 'a b', 'Orders', 'о', 'a'.repeat(200), 'a'.repeat(201), '%2e%2e', 'ａ'),
  fc.string({ unit: fc.constantFrom(...TOPIC_CHAR.split('')), maxLength: 210 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.tuple(validTopicName, textMutations(2)).map(([name, steps]) => mutateText(name, steps)),
);

export const topicNameTarget: FuzzTarget = {
  name: 'names/topic',
  covers: 'assertTopicName (src/log/topic-name.ts), against the documented rule',
  weight: 60,
  quickRuns: 2000,
  async build() {
    return {
      property: fc.property(nameLike, fc.boolean(), (name, allowInternal) => {
        const result = timed('topic name', () =>
          outcomeOf('assertTopicName', ['SEALBUS_ERR_TOPIC_NAME_INVALID'], () => assertTopicName(name, { allowInternal })),
        );
        ensure(result.ok === isTopicName(name, allowInternal), () => `assertTopicName(${JSON.stringify(name)}) ${result.ok ? 'accepted' : 'refused'} against the rule`);
        // A name is a directory name too: nothing that climbs, separates or ends a path.
        if (result.ok) ensure(name !== '.' && name !== '..' && !/[/\\\0]/.test(name), 'an accepted topic name is unsafe as a directory name');
      }),
    };
  },
};

const pattern = fc.oneof(
  validTopicName,
  fc.constantFrom('>', '*', 'orders.>', 'orders.*', '*.>', 'a.>.b', 'a*', '', '.', 'a..b', 'group:x'),
  fc.array(fc.constantFrom('a', 'b', '*', '>', '', 'x y', '\u0000'), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.')),
);

const scopeText = fc.oneof(
  fc.tuple(fc.constantFrom(...ACTIONS, 'Produce', '*', ''), fc.constantFrom('', ':', ':group:', ':group:group:'), pattern).map(([action, sep, p]) => action + sep + p),
  fc.constantFrom(...ACTIONS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer({ min: 500, max: 600 }).map((length) => `produce:${'a'.repeat(length)}`),
);

const requestedName = fc.oneof(validTopicName, fc.constantFrom('a', 'a.b', 'a..b', '*', '>', 'orders.eu', 'group:x'));

export const scopeTarget: FuzzTarget = {
  name: 'names/token-scope',
  covers: 'parseScope and scopeMatches (src/policy/scopes.ts), the scopes a token claims',
  weight: 40,
  quickRuns: 1500,
  async build() {
    return {
      property: fc.property(scopeText, fc.constantFrom(...ACTIONS), fc.constantFrom('topic', 'group', 'cluster'), requestedName, (text, action, kind, name) => {
        const parsed = timed('scope', () => outcomeOf('parseScope', ['SEALBUS_ERR_POLICY_SCOPE_INVALID'], () => parseScope(text)));
        if (!parsed.ok) return;
        const scope = parsed.value;
        ensure(scope.text === text, 'a parsed scope does not keep its text');
        ensure(actionApplies(scope.action, scope.resource.kind), `a scope of ${scope.action} on a ${scope.resource.kind} was accepted`);
        ensure(text === scope.action || text.startsWith(`${scope.action}:`), 'a scope\'s action is not its first field');
        const resource: Resource = kind === 'cluster' ? { kind } : { kind, name };
        if (neverThrows('scopeMatches', () => scopeMatches(scope, action, resource))) {
          ensure(action === scope.action && kind === scope.resource.kind, 'a scope matched another action or kind of resource');
        }
      }),
    };
  },
};

const SPIFFE_CHARS = 'spiffe:/.-_aZ09@?#%:';
const spiffeLike = fc.oneof(
  fc.tuple(fc.constantFrom('spiffe://', 'SPIFFE://', 'spiffe:/', ''), fc.string({ unit: fc.constantFrom(...'abz09.-_'.split('')), maxLength: 12 }), fc.array(fc.string({ unit: fc.constantFrom(...'aZ09.-_'.split('')), maxLength: 6 }), { maxLength: 4 }))
    .map(([scheme, domain, path]) => `${scheme}${domain}${path.map((p) => `/${p}`).join('')}`),
  fc.string({ unit: fc.constantFrom(...SPIFFE_CHARS.split('')), maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('spiffe://td/ns/a/../admin', 'spiffe://td:443/a', 'spiffe://user@td/a', 'spiffe://td/a?b', 'spiffe://td/a#b', 'spiffe://td/', 'spiffe://td', `spiffe://td/${'a'.repeat(2100)}`),
);

export const spiffeTarget: FuzzTarget = {
  name: 'names/spiffe-id',
  covers: 'parseSpiffeId (src/auth/spiffe-id.ts), the URI SAN of a client certificate',
  weight: 9,
  quickRuns: 1000,
  async build() {
    return {
      property: fc.property(spiffeLike, (value) => {
        const id = timed('spiffe id', () => neverThrows('parseSpiffeId', () => parseSpiffeId(value)));
        if ('invalid' in id) return;
        ensure(id.id === value && `spiffe://${id.trustDomain}${id.path}` === value, 'a SPIFFE ID does not put back together');
        ensure(/^[a-z0-9._-]+$/.test(id.trustDomain), 'an accepted trust domain has other characters');
        const segments = id.path.split('/').slice(1);
        ensure(segments.length > 0 && segments.every((s) => s !== '' && s !== '.' && s !== '..' && /^[A-Za-z0-9._-]+$/.test(s)), `an accepted path ${id.path} has a bad segment`);
        ensure(value.length <= 2048, 'a SPIFFE ID over 2048 characters was accepted');
      }),
    };
  },
};
