/**
 * The contract every parser of untrusted input is fuzzed against (test/fuzz/properties.ts): on any
 * input it returns a well-formed value or throws a SealbusError with one of the codes expected of
 * that parser; never another exception, never an unbounded result, never a case that takes seconds.
 */
import type fc from 'fast-check';
import { SealbusError, type ErrorCode } from '../../src/errors/index.js';

/** One parser under fuzz: what the short run (npm test) and the long run (bench/fuzz.ts) execute. */
export interface FuzzTarget {
  /** `area/what`, e.g. `frames/client-at-broker`. */
  readonly name: string;
  /** The code it covers, for the bench's report. */
  readonly covers: string;
  /** Share of the long run's cases, relative to the other targets (cheap parsers get more). */
  readonly weight: number;
  /** Cases of the short run: together the targets stay well under the time budget of npm test. */
  readonly quickRuns: number;
  /** Builds the property (keys, fixtures, temp directories); `dispose` undoes what it made. */
  build(): Promise<BuiltProperty>;
}

export interface BuiltProperty {
  readonly property: fc.IRawProperty<unknown>;
  dispose?(): Promise<void>;
}

/** A failure of the contract itself (not a SealbusError), so that fast-check reports it as one. */
export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';
}

function describeThrown(err: unknown): string {
  if (err instanceof SealbusError) return `${err.code}: ${err.message.slice(0, 300)}`;
  if (err instanceof Error) return `${err.name}: ${err.message.slice(0, 300)}\n${err.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`;
  return `a non-error value ${String(err).slice(0, 100)}`;
}

/** The error if it is a SealbusError with one of `codes`; throws a ContractViolation otherwise. */
export function expectedError(err: unknown, codes: readonly ErrorCode[], what: string): SealbusError {
  if (err instanceof SealbusError && codes.includes(err.code)) return err;
  throw new ContractViolation(`${what} threw ${describeThrown(err)}; expected a SealbusError with ${codes.join(' | ')}`);
}

/**
 * How often each parser answered each way (`what: ok` or `what: CODE`) since the last reset: the
 * short runs check that their inputs reach acceptance and every refusal they are meant to reach.
 */
export const outcomeTally = new Map<string, number>();

function count(what: string, answer: string): void {
  const key = `${what}: ${answer}`;
  outcomeTally.set(key, (outcomeTally.get(key) ?? 0) + 1);
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: SealbusError };

/** Runs `parse`: its value, or the SealbusError it threw when the code is one of `codes`. */
export function outcomeOf<T>(what: string, codes: readonly ErrorCode[], parse: () => T): Outcome<T> {
  try {
    const value = parse();
    count(what, 'ok');
    return { ok: true, value };
  } catch (err) {
    const error = expectedError(err, codes, what);
    count(what, error.code);
    return { ok: false, error };
  }
}

/** Runs what must not throw at all (a decoder after its validator, a checker that answers true or false). */
export function neverThrows<T>(what: string, work: () => T): T {
  try {
    return work();
  } catch (err) {
    throw new ContractViolation(`${what} threw ${describeThrown(err)}; it must not throw`);
  }
}

export async function asyncOutcomeOf<T>(what: string, codes: readonly ErrorCode[], parse: () => Promise<T>): Promise<Outcome<T>> {
  try {
    const value = await parse();
    count(what, 'ok');
    return { ok: true, value };
  } catch (err) {
    const error = expectedError(err, codes, what);
    count(what, error.code);
    return { ok: false, error };
  }
}

export function violation(message: string): never {
  throw new ContractViolation(message);
}

export function ensure(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) violation(typeof message === 'string' ? message : message());
}

/**
 * What a parsed value holds, in units that track memory: characters of strings, bytes of buffers,
 * entries of arrays and objects, each object counted once however often it is referenced.
 */
export function footprint(value: unknown, seen = new Set<object>()): number {
  if (typeof value === 'string') return value.length;
  if (value === null || typeof value !== 'object') return 1;
  if (seen.has(value)) return 1;
  seen.add(value);
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (value instanceof Map || value instanceof Set) {
    let total = 1;
    for (const entry of value instanceof Map ? value.entries() : value.values()) total += footprint(entry, seen);
    return total;
  }
  let total = 1;
  if (Array.isArray(value)) {
    for (const child of value) total += footprint(child, seen);
    return total;
  }
  for (const [key, child] of Object.entries(value)) total += key.length + footprint(child, seen);
  return total;
}

/** Sizes bounded by the input: the value's footprint is at most `factor` times the input's size, plus `slack`. */
export function ensureBounded(value: unknown, inputSize: number, factor: number, slack = 512): void {
  const size = footprint(value);
  ensure(size <= factor * inputSize + slack, () => `the result's footprint ${size} exceeds ${factor} × the input's ${inputSize} + ${slack}`);
}

/**
 * What a YAML or JSON document may turn into: plain objects, arrays, strings, finite numbers,
 * booleans and null. A Map, Set, buffer or Date holds entries a JSON Schema does not see.
 */
export function ensurePlainJson(value: unknown, where = '', seen = new Set<object>()): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    ensure(Number.isFinite(value), `${where || 'the document'} is ${value}`);
    return;
  }
  ensure(typeof value === 'object', () => `${where || 'the document'} is a ${typeof value}`);
  if (seen.has(value)) return; // aliases share a node
  seen.add(value);
  const prototype = Object.getPrototypeOf(value) as unknown;
  ensure(Array.isArray(value) || prototype === Object.prototype, () => `${where || 'the document'} is a ${Object.prototype.toString.call(value)}, not plain JSON`);
  for (const [key, child] of Object.entries(value)) ensurePlainJson(child, `${where}/${key}`, seen);
}

/** Longest a single case may take: far above any honest parse, far below a hang or a blow-up. */
export const CASE_BUDGET_MS = 2_000;

/** Fails the case when `work` took longer than the budget (a sync parse cannot be interrupted, only caught afterwards). */
export function timed<T>(what: string, work: () => T, budgetMs = CASE_BUDGET_MS): T {
  const start = performance.now();
  const result = work();
  const took = performance.now() - start;
  ensure(took <= budgetMs, `${what} took ${took.toFixed(0)} ms (budget ${budgetMs} ms)`);
  return result;
}

export async function timedAsync<T>(what: string, work: () => Promise<T>, budgetMs = CASE_BUDGET_MS): Promise<T> {
  const start = performance.now();
  const result = await work();
  const took = performance.now() - start;
  ensure(took <= budgetMs, `${what} took ${took.toFixed(0)} ms (budget ${budgetMs} ms)`);
  return result;
}
