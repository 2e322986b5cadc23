import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node as YamlNode } from 'yaml';
import { MAX_YAML_NESTING, YamlTooDeep, composeYaml, firstComplexKey } from '../config/bounded-yaml.js';
import { finding } from './findings.js';
import { POLICY_LIMITS } from './schema.js';
import type { LintFinding } from './types.js';

/** A parsed policy file: the plain value, and the 1-based line of every JSON pointer in it. */
export interface ParsedPolicyFile {
  readonly file: string;
  readonly value: unknown;
  lineOf(pointer: string): number;
}

export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function valueTooDeep(value: unknown, depth: number): boolean {
  if (depth > POLICY_LIMITS.maxDepth) return true;
  if (value === null || typeof value !== 'object') return false;
  for (const child of Object.values(value)) if (valueTooDeep(child, depth + 1)) return true;
  return false;
}

function pointerLines(root: unknown, lineAt: (offset: number) => number): Map<string, number> {
  const lines = new Map<string, number>();
  const visit = (node: unknown, pointer: string, depth: number): void => {
    if (depth > POLICY_LIMITS.maxDepth || isAlias(node)) return;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key as YamlNode | null;
        const name = isScalar(key) ? String(key.value) : String(key);
        const child = `${pointer}/${escapePointer(name)}`;
        const offset = key?.range?.[0] ?? (pair.value as YamlNode | null)?.range?.[0];
        if (offset !== undefined) lines.set(child, lineAt(offset));
        visit(pair.value, child, depth + 1);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        const child = `${pointer}/${index}`;
        const offset = (item as YamlNode | null)?.range?.[0];
        if (offset !== undefined) lines.set(child, lineAt(offset));
        visit(item, child, depth + 1);
      });
    }
  };
  visit(root, '', 0);
  return lines;
}

/**
 * Parses one policy file, YAML or JSON, with the yaml library (JSON through its JSON schema), so
 * that both kinds give line numbers. Duplicate keys, several documents, deep nesting and alias
 * bombs are refused.
 */
export function parsePolicyText(file: string, text: string): ParsedPolicyFile | LintFinding {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > POLICY_LIMITS.maxFileBytes) {
    return finding('limit', file, 1, `the file is ${bytes} bytes; the limit is ${POLICY_LIMITS.maxFileBytes} bytes`);
  }
  const lineCounter = new LineCounter();
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  let doc: Document.Parsed | null;
  try {
    doc = composeYaml(text, lineCounter, { json: file.endsWith('.json') });
  } catch (err) {
    if (err instanceof YamlTooDeep) return finding('limit', file, lineAt(err.offset), `collections nest more than ${MAX_YAML_NESTING} levels deep`);
    if (err instanceof RangeError) return finding('limit', file, 1, 'the document nests too deeply');
    throw err;
  }
  if (doc === null) return finding('schema', file, 1, 'the file is empty; a policy file is { version: 1, rules: [...] }');
  const error = doc.errors[0];
  if (error !== undefined) return finding('yaml', file, lineAt(error.pos[0]), error.message.split('\n')[0] ?? 'cannot be parsed');
  const complexKey = firstComplexKey(doc.contents);
  if (complexKey !== null) return finding('yaml', file, lineAt(complexKey), 'map keys must be plain strings');
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: POLICY_LIMITS.maxAliasCount });
  } catch (err) {
    return finding('limit', file, 1, `${(err as Error).message} (at most ${POLICY_LIMITS.maxAliasCount} alias expansions)`);
  }
  const lines = pointerLines(doc.contents, lineAt);
  if (value === null || value === undefined) return finding('schema', file, 1, 'the file is empty; a policy file is { version: 1, rules: [...] }');
  if (valueTooDeep(value, 0)) return finding('limit', file, 1, `values nest deeper than ${POLICY_LIMITS.maxDepth} levels`);
  return {
    file,
    value,
    lineOf(pointer: string): number {
      for (let current = pointer; current !== ''; current = current.slice(0, current.lastIndexOf('/'))) {
        const line = lines.get(current);
        if (line !== undefined) return line;
      }
      return 1;
    },
  };
}
