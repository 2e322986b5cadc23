import type { CompiledRule } from './compile-file.js';
import { matchesSplit, type NamePattern, type SplitName } from './name-pattern.js';
import { ACTIONS, actionApplies, type Action, type ResourceKind } from './types.js';

interface Entry {
  readonly rule: CompiledRule;
  readonly pattern: NamePattern;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/**
 * The rules of one (action, resource kind), arranged so that a lookup touches only rules that can
 * match the name: literals by the whole name, segment patterns by their first segment (or in a
 * short list when it is a wildcard), prefixes by the name cut at each prefix length in use.
 */
class NameIndex {
  readonly #literal = new Map<string, CompiledRule[]>();
  readonly #byFirstSegment = new Map<string, Entry[]>();
  readonly #wildcardFirst: Entry[] = [];
  readonly #prefixes = new Map<string, CompiledRule[]>();
  /** The distinct lengths of the prefixes, ascending: a handful, whatever the number of rules. */
  #prefixLengths: number[] = [];

  add(rule: CompiledRule, pattern: NamePattern): void {
    switch (pattern.type) {
      case 'literal':
        push(this.#literal, pattern.text, rule);
        break;
      case 'prefix':
        push(this.#prefixes, pattern.text, rule);
        if (!this.#prefixLengths.includes(pattern.text.length)) {
          this.#prefixLengths = [...this.#prefixLengths, pattern.text.length].sort((a, b) => a - b);
        }
        break;
      case 'segments': {
        const first = pattern.segments[0];
        if (first === undefined || first === '*') this.#wildcardFirst.push({ rule, pattern });
        else push(this.#byFirstSegment, first, { rule, pattern });
        break;
      }
    }
  }

  visit(name: SplitName, visitor: (rule: CompiledRule) => void): void {
    const literal = this.#literal.get(name.name);
    if (literal !== undefined) for (const rule of literal) visitor(rule);
    const first = name.parts[0];
    if (first !== undefined) {
      const segmentEntries = this.#byFirstSegment.get(first);
      if (segmentEntries !== undefined) for (const entry of segmentEntries) if (matchesSplit(entry.pattern, name)) visitor(entry.rule);
    }
    for (const entry of this.#wildcardFirst) if (matchesSplit(entry.pattern, name)) visitor(entry.rule);
    for (const length of this.#prefixLengths) {
      if (length > name.name.length) break;
      const rules = this.#prefixes.get(name.name.slice(0, length));
      if (rules !== undefined) for (const rule of rules) visitor(rule);
    }
  }
}

interface ActionBucket {
  readonly topic: NameIndex;
  readonly group: NameIndex;
  readonly cluster: CompiledRule[];
}

/** Every rule by action, then by resource kind; (action, kind) pairs that never apply are left out. */
export class RuleIndex {
  readonly #buckets: ReadonlyMap<Action, ActionBucket>;

  constructor(rules: readonly CompiledRule[]) {
    const buckets = new Map<Action, ActionBucket>();
    for (const action of ACTIONS) buckets.set(action, { topic: new NameIndex(), group: new NameIndex(), cluster: [] });
    for (const rule of rules) {
      for (const action of rule.actions) {
        const bucket = buckets.get(action)!;
        for (const resource of rule.resources) {
          if (!actionApplies(action, resource.kind)) continue;
          if (resource.kind === 'cluster') bucket.cluster.push(rule);
          else bucket[resource.kind].add(rule, resource.pattern);
        }
      }
    }
    this.#buckets = buckets;
  }

  /** Calls `visitor` for each rule whose actions and resources match (a rule may come more than once). */
  visit(action: Action, kind: ResourceKind, name: SplitName | null, visitor: (rule: CompiledRule) => void): void {
    const bucket = this.#buckets.get(action);
    if (bucket === undefined) return;
    if (kind === 'cluster') {
      for (const rule of bucket.cluster) visitor(rule);
    } else if (name !== null) {
      bucket[kind].visit(name, visitor);
    }
  }
}
