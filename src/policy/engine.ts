import { Policy } from './policy.js';
import type { PolicyDecision, PolicyRequest, PolicySubject } from './types.js';

/**
 * Requests whose key is longer than this are evaluated without the cache, so that a few huge
 * subjects (thousands of groups) cannot make the cache hold gigabytes.
 */
const MAX_KEY_LENGTH = 8192;

const field = (value: string): string => `${value.length}:${value}`;

function listField(values: readonly string[]): string {
  let key = `${values.length}[`;
  for (const value of values) key += field(value);
  return key;
}

function subjectKey(subject: PolicySubject): string {
  const certificate = subject.certificate;
  return (
    field(subject.name) +
    listField(subject.groups) +
    (subject.spiffeId === null ? '~' : field(subject.spiffeId)) +
    (certificate === null ? '~' : field(certificate.subject) + field(certificate.thumbprint)) +
    (subject.tokenBound ? 'B' : 'b') +
    (subject.scopes === null ? '~' : listField(subject.scopes))
  );
}

function requestKey(request: PolicyRequest): string {
  const { action, resource, context } = request;
  return (
    field(action) +
    (resource.kind === 'cluster' ? 'C' : (resource.kind === 'topic' ? 'T' : 'G') + field(resource.name)) +
    (context.sourceIp === null ? '~' : field(context.sourceIp)) +
    (context.encrypted === undefined ? 'u' : context.encrypted ? 'E' : 'e')
  );
}

/**
 * The cache key: every input that can change a decision, each length-prefixed so that no two
 * requests share a key by concatenation ('ab'+'c' vs 'a'+'bc'); null and absent get markers
 * that no length prefix starts with.
 */
export function decisionKey(request: PolicyRequest): string {
  return subjectKey(request.subject) + requestKey(request);
}

interface Snapshot {
  readonly id: number | null;
  readonly name: string;
  readonly groups: readonly string[];
  readonly spiffeId: string | null;
  readonly certificateSubject: string | null;
  readonly thumbprint: string | null;
  readonly tokenBound: boolean;
  readonly scopes: readonly string[] | null;
}

const sameList = (a: readonly string[] | null, b: readonly string[] | null): boolean => {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};

/**
 * Short numbers standing for subjects, so that cache keys are short: building and hashing the
 * whole subject on every request costs more than the rest of a cached decision. A subject object
 * seen before is recognised by identity and then compared field by field with a copy taken when it
 * was first seen, so a subject changed in place gets a new number, never a stale decision. A new
 * object with known content gets the number of that content. Numbers are never reused, so
 * forgetting content (to stay bounded) can only cost cache misses, never a wrong hit.
 */
class SubjectIds {
  readonly #byObject = new WeakMap<PolicySubject, Snapshot>();
  #byContent = new Map<string, number>();
  #next = 0;
  readonly #maxContents: number;

  constructor(maxContents: number) {
    this.#maxContents = maxContents;
  }

  /** Null when the subject is too large to cache decisions for. */
  idOf(subject: PolicySubject): number | null {
    const seen = this.#byObject.get(subject);
    const certificate = subject.certificate;
    if (
      seen !== undefined &&
      seen.name === subject.name &&
      seen.spiffeId === subject.spiffeId &&
      seen.certificateSubject === (certificate === null ? null : certificate.subject) &&
      seen.thumbprint === (certificate === null ? null : certificate.thumbprint) &&
      seen.tokenBound === subject.tokenBound &&
      sameList(seen.groups, subject.groups) &&
      sameList(seen.scopes, subject.scopes)
    ) {
      return seen.id;
    }
    const key = subjectKey(subject);
    let id: number | null = null;
    if (key.length <= MAX_KEY_LENGTH) {
      id = this.#byContent.get(key) ?? null;
      if (id === null) {
        if (this.#byContent.size >= this.#maxContents) this.#byContent = new Map();
        id = this.#next++;
        this.#byContent.set(key, id);
      }
    }
    this.#byObject.set(subject, {
      id,
      name: subject.name,
      groups: [...subject.groups],
      spiffeId: subject.spiffeId,
      certificateSubject: certificate === null ? null : certificate.subject,
      thumbprint: certificate === null ? null : certificate.thumbprint,
      tokenBound: subject.tokenBound,
      scopes: subject.scopes === null ? null : [...subject.scopes],
    });
    return id;
  }
}

interface Entry {
  readonly key: string;
  readonly decision: PolicyDecision;
  newer: Entry | null;
  older: Entry | null;
}

/**
 * A least-recently-used cache: a Map for lookup and a doubly linked list for recency. A hit moves
 * one node to the front with a few pointer writes; re-inserting into the Map instead (delete, set)
 * costs several times more on every hit.
 */
class DecisionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  #newest: Entry | null = null;
  #oldest: Entry | null = null;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): PolicyDecision | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry !== this.#newest) {
      this.#unlink(entry);
      this.#pushNewest(entry);
    }
    return entry.decision;
  }

  set(key: string, decision: PolicyDecision): void {
    if (this.#entries.has(key)) return;
    if (this.#entries.size >= this.#maxEntries && this.#oldest !== null) {
      const evicted = this.#oldest;
      this.#unlink(evicted);
      this.#entries.delete(evicted.key);
    }
    const entry: Entry = { key, decision, newer: null, older: null };
    this.#entries.set(key, entry);
    this.#pushNewest(entry);
  }

  #unlink(entry: Entry): void {
    if (entry.newer === null) this.#newest = entry.older;
    else entry.newer.older = entry.older;
    if (entry.older === null) this.#oldest = entry.newer;
    else entry.older.newer = entry.newer;
    entry.newer = null;
    entry.older = null;
  }

  #pushNewest(entry: Entry): void {
    entry.older = this.#newest;
    if (this.#newest !== null) this.#newest.newer = entry;
    this.#newest = entry;
    this.#oldest ??= entry;
  }
}

export interface PolicyEngineOptions {
  /** Most decisions kept (least recently used go first). Default 10,000; 0 turns the cache off. */
  readonly cacheSize?: number;
}

/**
 * What the broker holds: the policy in force and a bounded cache of its decisions. A reload swaps
 * the policy and empties the cache in one synchronous step, so no decision of the old policy is
 * served after `replace` returns.
 */
export class PolicyEngine {
  #policy: Policy;
  #cache: DecisionCache;
  readonly #subjects: SubjectIds;
  readonly #maxEntries: number;
  #hits = 0;
  #misses = 0;

  constructor(policy: Policy, options: PolicyEngineOptions = {}) {
    const size = options.cacheSize ?? 10_000;
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`cacheSize must be a non-negative integer, not ${size}`);
    this.#policy = policy;
    this.#maxEntries = size;
    this.#cache = new DecisionCache(size);
    this.#subjects = new SubjectIds(Math.max(1000, size));
  }

  get policy(): Policy {
    return this.#policy;
  }

  get cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#cache.size };
  }

  decide(request: PolicyRequest): PolicyDecision {
    if (this.#maxEntries === 0) {
      this.#misses += 1;
      return this.#policy.evaluate(request);
    }
    const id = this.#subjects.idOf(request.subject);
    const key = id === null ? null : `${id}:${requestKey(request)}`;
    const cached = key === null ? undefined : this.#cache.get(key);
    if (cached !== undefined) {
      this.#hits += 1;
      return cached;
    }
    this.#misses += 1;
    const decision = this.#policy.evaluate(request);
    if (key !== null && key.length <= MAX_KEY_LENGTH) this.#cache.set(key, decision);
    return decision;
  }

  replace(policy: Policy): void {
    this.#policy = policy;
    this.#cache = new DecisionCache(this.#maxEntries);
  }
}
