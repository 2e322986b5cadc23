/**
 * JSON helpers for the compatibility checker: equality, fingerprints, JSON pointers, short renderings.
 *
 * Everything that walks a whole value is iterative, not recursive: schemas come from clients, and a
 * hostile one may nest deeper than the call stack.
 */

/** A schema object, once booleans are set aside. */
export type SchemaObject = { readonly [keyword: string]: unknown };

export function isPlainObject(value: unknown): value is SchemaObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface Fingerprint {
  readonly hash: number;
  /** Whether a `$ref` or `$dynamicRef` appears anywhere inside, so that its meaning depends on the root. */
  readonly hasRef: boolean;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function hashText(text: string, seed = FNV_OFFSET): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME);
  return hash >>> 0;
}

function mix(hash: number, value: number): number {
  return Math.imul(hash ^ value, FNV_PRIME) >>> 0;
}

function hashPrimitive(value: unknown): number {
  return hashText(`${typeof value}:${String(value)}`);
}

function childrenOf(node: object): unknown[] {
  return Array.isArray(node) ? node : Object.values(node);
}

/**
 * Structural facts about JSON values, memoized per object for one comparison. The memo lives as long as
 * the comparison, so a caller that later mutates its schema objects never sees stale answers.
 */
export class JsonMemo {
  readonly #fingerprints = new WeakMap<object, Fingerprint>();

  fingerprint(value: unknown): Fingerprint {
    if (typeof value !== 'object' || value === null) return { hash: hashPrimitive(value), hasRef: false };
    const known = this.#fingerprints.get(value);
    if (known !== undefined) return known;
    const stack: { node: object; expanded: boolean }[] = [{ node: value, expanded: false }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (this.#fingerprints.has(top.node)) {
        stack.pop();
      } else if (!top.expanded) {
        top.expanded = true;
        for (const child of childrenOf(top.node)) {
          if (typeof child === 'object' && child !== null && !this.#fingerprints.has(child)) {
            stack.push({ node: child, expanded: false });
          }
        }
      } else {
        stack.pop();
        this.#fingerprints.set(top.node, this.#combine(top.node));
      }
    }
    return this.#fingerprints.get(value)!;
  }

  #child(child: unknown): Fingerprint {
    if (typeof child !== 'object' || child === null) return { hash: hashPrimitive(child), hasRef: false };
    return this.#fingerprints.get(child) ?? { hash: 0, hasRef: true };
  }

  #combine(node: object): Fingerprint {
    if (Array.isArray(node)) {
      let hash = hashText('array');
      let hasRef = false;
      for (const item of node) {
        const child = this.#child(item);
        hash = mix(hash, child.hash);
        hasRef ||= child.hasRef;
      }
      return { hash, hasRef };
    }
    const record = node as Record<string, unknown>;
    let hash = hashText('object');
    let hasRef = typeof record['$ref'] === 'string' || typeof record['$dynamicRef'] === 'string';
    for (const key of Object.keys(record).sort()) {
      const child = this.#child(record[key]);
      hash = mix(mix(hash, hashText(key)), child.hash);
      hasRef ||= child.hasRef;
    }
    return { hash, hasRef };
  }

  /** Deep equality of JSON values (key order ignored). */
  equal(a: unknown, b: unknown): boolean {
    if (a === b) return true;
    if (this.fingerprint(a).hash !== this.fingerprint(b).hash) return false;
    const pending: [unknown, unknown][] = [[a, b]];
    while (pending.length > 0) {
      const [left, right] = pending.pop()!;
      if (left === right) continue;
      if (typeof left !== 'object' || typeof right !== 'object' || left === null || right === null) return false;
      if (Array.isArray(left) !== Array.isArray(right)) return false;
      if (this.fingerprint(left).hash !== this.fingerprint(right).hash) return false;
      if (Array.isArray(left) && Array.isArray(right)) {
        if (left.length !== right.length) return false;
        for (let i = 0; i < left.length; i++) pending.push([left[i], right[i]]);
        continue;
      }
      const leftRecord = left as Record<string, unknown>;
      const rightRecord = right as Record<string, unknown>;
      const keys = Object.keys(leftRecord);
      if (keys.length !== Object.keys(rightRecord).length) return false;
      for (const key of keys) {
        if (!Object.hasOwn(rightRecord, key)) return false;
        pending.push([leftRecord[key], rightRecord[key]]);
      }
    }
    return true;
  }

  /** Equal, and free of references, so that the two mean the same whatever roots they sit in. */
  sameMeaning(a: unknown, b: unknown): boolean {
    return !this.fingerprint(a).hasRef && !this.fingerprint(b).hasRef && this.equal(a, b);
  }
}

export function escapePointerToken(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

export function pointerOf(base: string, ...tokens: readonly (string | number)[]): string {
  return base + tokens.map((token) => `/${escapePointerToken(token)}`).join('');
}

/** The value at a JSON pointer (RFC 6901), or undefined when there is none. */
export function valueAtPointer(root: unknown, pointer: string): { readonly value: unknown } | undefined {
  if (pointer === '') return { value: root };
  if (!pointer.startsWith('/')) return undefined;
  let current: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token) || Number(token) >= current.length) return undefined;
      current = current[Number(token)];
    } else if (isPlainObject(current) && Object.hasOwn(current, token)) {
      current = current[token];
    } else {
      return undefined;
    }
  }
  return { value: current };
}

const RENDER_LIMIT = 80;

/** A short JSON rendering of a value, for reasons meant to be read by people. */
export function render(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > RENDER_LIMIT ? `${text.slice(0, RENDER_LIMIT - 1)}…` : text;
}

export function renderList(values: readonly unknown[], limit = 5): string {
  const shown = values.slice(0, limit).map(render).join(', ');
  return values.length > limit ? `${shown} and ${values.length - limit} more` : shown;
}
