import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { SealbusError } from '../errors/index.js';

const INTEGER_TEXT = /^-?(0|[1-9][0-9]*)$/;
const MAX_SAFE_TEXT = String(Number.MAX_SAFE_INTEGER);

type Part = 'querystring' | 'params';

interface IntegerField {
  readonly part: Part;
  readonly name: string;
}

/** Whether `text` is an integer exactly representable as a number. */
export function isSafeIntegerText(text: string): boolean {
  if (!INTEGER_TEXT.test(text)) return false;
  const digits = text.startsWith('-') ? text.slice(1) : text;
  return digits.length < MAX_SAFE_TEXT.length || (digits.length === MAX_SAFE_TEXT.length && digits <= MAX_SAFE_TEXT);
}

function integerFields(schema: unknown, part: Part): IntegerField[] {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties;
  if (typeof properties !== 'object' || properties === null) return [];
  return Object.entries(properties)
    .filter(([, property]) => property.type === 'integer' || (Array.isArray(property.type) && property.type.includes('integer')))
    .map(([name]) => ({ part, name }));
}

function valueOf(request: FastifyRequest, field: IntegerField): unknown {
  const source = (field.part === 'querystring' ? request.query : request.params) as Record<string, unknown> | undefined;
  return source !== undefined && Object.hasOwn(source, field.name) ? source[field.name] : undefined;
}

/**
 * Query strings and path parameters are text, and ajv coerces them to numbers with `+value`: so
 * `0x10`, `1e3`, ` 5` and `9007199254740990.6` (which rounds to 9007199254740991) would all pass a
 * `type: 'integer'` schema, and an offset checked would not be the offset written. Every integer
 * field of a route's `querystring` and `params` schemas must therefore be written as an integer,
 * decimal, without leading zeros, of magnitude at most Number.MAX_SAFE_INTEGER; anything else is
 * refused with SEALBUS_ERR_REQUEST_INVALID naming the field, before ajv sees it. JSON bodies need
 * no such check: parseJson refuses integer literals beyond 2^53 (src/json/safe-json.ts).
 *
 * Applies to every route registered after this call, those of plugins included.
 */
export function installIntegerParamCheck(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const schema = route.schema as { querystring?: unknown; params?: unknown } | undefined;
    const fields = [...integerFields(schema?.querystring, 'querystring'), ...integerFields(schema?.params, 'params')];
    if (fields.length === 0) return;
    const check = async (request: FastifyRequest): Promise<void> => {
      for (const field of fields) {
        const value = valueOf(request, field);
        // Repeated query keys arrive as an array; ajv judges the array itself.
        for (const text of Array.isArray(value) ? value : [value]) {
          if (typeof text !== 'string' || isSafeIntegerText(text)) continue;
          throw new SealbusError('SEALBUS_ERR_REQUEST_INVALID', {
            reason: `${field.part}/${field.name} must be a decimal integer of magnitude at most ${MAX_SAFE_TEXT} (2^53 - 1), never rounded`,
          });
        }
      }
    };
    const existing = route.preValidation;
    route.preValidation = existing === undefined ? [check] : [...(Array.isArray(existing) ? existing : [existing]), check];
  });
}
