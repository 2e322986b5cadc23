/**
 * Mutations of structured documents (policy and configuration files, key files) before they are
 * written as YAML or JSON: values replaced by wrong types, empty or oversized strings and lists,
 * deep nesting, prototype keys; keys added and removed; list entries duplicated.
 */
import fc from 'fast-check';

/** Values that schemas and loaders get wrong: wrong types, empty and oversized strings and lists, deep nesting, prototype keys. */
const HOSTILE_VALUES: readonly (() => unknown)[] = [
  () => null,
  () => 0,
  () => -1,
  () => 1.5,
  () => 2 ** 53 + 2,
  () => 1e308,
  () => '',
  () => ' ',
  () => '*',
  () => '>',
  () => '..',
  () => 'x'.repeat(1025),
  () => 'x'.repeat(4097),
  () => '\u0000',
  () => '\u202e',
  () => true,
  () => [],
  () => ({}),
  () => JSON.parse('{"__proto__": {"polluted": true}}') as unknown,
  () => ({ constructor: { prototype: { polluted: true } } }),
  () => JSON.parse(`${'['.repeat(40)}1${']'.repeat(40)}`) as unknown,
  () => JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`) as unknown,
];

/** Lists past the policy limit of 1000 entries: costly to write and parse, so drawn rarely. */
const LARGE_VALUES: readonly (() => unknown)[] = [
  () => Array.from({ length: 1001 }, () => 'produce'),
  () => Array.from({ length: 1001 }, (_, i) => ({ name: `p${i}` })),
];

function hostileValue(index: number): unknown {
  // One draw in 32 is a large value.
  return index % 32 === 31 ? LARGE_VALUES[(index >> 5) % LARGE_VALUES.length]!() : HOSTILE_VALUES[index % HOSTILE_VALUES.length]!();
}

export type ValueMutation =
  | { readonly kind: 'replace'; readonly path: number; readonly with: number }
  | { readonly kind: 'add-key'; readonly path: number; readonly key: string; readonly with: number }
  | { readonly kind: 'remove'; readonly path: number }
  | { readonly kind: 'duplicate'; readonly path: number };

export const valueMutation: fc.Arbitrary<ValueMutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('replace' as const), path: fc.nat(), with: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('add-key' as const),
      path: fc.nat(),
      key: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'extra', '', 'id', 'rules', 'version'), fc.string({ maxLength: 6 })),
      with: fc.nat(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), path: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), path: fc.nat() }) },
);

/** Every container of a JSON-like value with the key or index of each child, in a fixed order. */
function slots(root: unknown): { parent: Record<string, unknown> | unknown[]; key: string | number }[] {
  const found: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const visit = (node: unknown, depth: number): void => {
    if (depth > 50 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((child, index) => {
        found.push({ parent: node, key: index });
        visit(child, depth + 1);
      });
    } else {
      for (const [key, child] of Object.entries(node)) {
        found.push({ parent: node as Record<string, unknown>, key });
        visit(child, depth + 1);
      }
    }
  };
  visit(root, 0);
  return found;
}

/** Applies the mutations to a deep copy of a JSON-like value. */
export function mutateValue(original: unknown, steps: readonly ValueMutation[]): unknown {
  const root = structuredClone(original);
  for (const step of steps) {
    const all = slots(root);
    if (all.length === 0) continue;
    const { parent, key } = all[step.path % all.length]!;
    const define = (target: object, name: string | number, value: unknown) => Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
    switch (step.kind) {
      case 'replace':
        define(parent, key, hostileValue(step.with));
        break;
      case 'add-key': {
        const child = (parent as Record<string | number, unknown>)[key];
        const target = child !== null && typeof child === 'object' && !Array.isArray(child) ? child : parent;
        if (!Array.isArray(target)) define(target, step.key, hostileValue(step.with));
        break;
      }
      case 'remove':
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        break;
      case 'duplicate':
        if (Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(parent[key as number]));
        break;
    }
  }
  return root;
}
