import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

/**
 * The one way sealbus compiles a JSON Schema (configuration, policy files, payload schemas).
 * Safe defaults for untrusted input: stop at the first error (`allErrors` lets a hostile document
 * make validation slow), no `$data` references, strict schemas, and defaults filled in where the
 * schema gives them.
 */
export function createAjv(options: { useDefaults?: boolean } = {}): Ajv2020 {
  return new Ajv2020({
    allErrors: false,
    $data: false,
    strict: true,
    useDefaults: options.useDefaults ?? false,
    coerceTypes: false,
    allowUnionTypes: true,
  });
}

export interface SchemaProblem {
  /** JSON pointer of the offending value ('' for the root). */
  readonly pointer: string;
  /** Dotted key path for people (`tls.cert`, `limits.maxFrameBytes`). */
  readonly key: string;
  readonly reason: string;
}

/** Turns ajv's first error into a problem that names the key, including the unknown key itself. */
export function describeSchemaError(error: ErrorObject): SchemaProblem {
  let pointer = error.instancePath;
  let reason = error.message ?? 'is invalid';
  if (error.keyword === 'additionalProperties') {
    const extra = String((error.params as { additionalProperty?: unknown }).additionalProperty);
    pointer = `${pointer}/${extra.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    reason = 'is not a known setting';
  } else if (error.keyword === 'required') {
    const missing = String((error.params as { missingProperty?: unknown }).missingProperty);
    pointer = `${pointer}/${missing}`;
    reason = 'is required';
  } else if (error.keyword === 'false schema') {
    // A setting another one rules out (e.g. store.servers without store.kind: jetstream).
    reason = 'is not allowed with the other settings of its section (see docs/configuration.md)';
  } else if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues ?? [];
    reason = `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  const key = pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  return { pointer, key: key === '' ? '(root)' : key, reason };
}

export function firstProblem(validate: ValidateFunction): SchemaProblem | null {
  const error = validate.errors?.[0];
  return error === undefined ? null : describeSchemaError(error);
}
