import { ACTIONS } from './types.js';

/**
 * The policy file format as a JSON Schema (draft 2020-12). Every object is closed
 * (`additionalProperties: false`) so that a misspelt key is an error rather than a rule that
 * silently means something wider; every list and string is bounded because policy files are
 * input like any other.
 */
export const POLICY_LIMITS = Object.freeze({
  maxFileBytes: 1024 * 1024,
  maxFiles: 200,
  maxRules: 10_000,
  maxListEntries: 1000,
  maxDepth: 16,
  maxAliasCount: 100,
  maxIdLength: 128,
  maxNameLength: 1024,
  maxDescriptionLength: 4096,
});

const bounded = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const;

const list = (items: object) => ({ type: 'array', minItems: 1, maxItems: POLICY_LIMITS.maxListEntries, items }) as const;

/** Exactly one key per entry: a principal is one kind of thing. */
const oneKeyObject = (properties: Record<string, object>) =>
  ({ type: 'object', minProperties: 1, maxProperties: 1, additionalProperties: false, properties }) as const;

export const principalSchema = oneKeyObject({
  name: bounded(POLICY_LIMITS.maxNameLength),
  spiffe: bounded(2048),
  group: bounded(POLICY_LIMITS.maxNameLength),
  certificate: oneKeyObject({
    thumbprint: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
    subject: bounded(4096),
  }),
  any: { type: 'boolean', const: true },
});

export const resourceSchema = oneKeyObject({
  topic: bounded(POLICY_LIMITS.maxNameLength),
  topicPrefix: bounded(POLICY_LIMITS.maxNameLength),
  group: bounded(POLICY_LIMITS.maxNameLength),
  groupPrefix: bounded(POLICY_LIMITS.maxNameLength),
  cluster: { type: 'boolean', const: true },
});

export const ruleSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'effect', 'principals', 'resources', 'actions'],
  properties: {
    id: { type: 'string', pattern: `^[A-Za-z0-9_.:-]{1,${POLICY_LIMITS.maxIdLength}}$` },
    effect: { type: 'string', enum: ['allow', 'deny'] },
    description: { type: 'string', maxLength: POLICY_LIMITS.maxDescriptionLength },
    principals: list(principalSchema),
    resources: list(resourceSchema),
    actions: { ...list({ type: 'string', enum: [...ACTIONS] }), uniqueItems: true },
    conditions: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        // An empty list is accepted by the schema so that lint can say what it means (no address).
        sourceIp: { type: 'array', maxItems: POLICY_LIMITS.maxListEntries, items: bounded(64) },
        encrypted: { type: 'boolean' },
        tokenBound: { type: 'boolean' },
      },
    },
  },
} as const;

/** The whole file: what editors and CI can validate against. */
export const policyFileSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'sealbus policy file',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'rules'],
  properties: {
    version: { type: 'integer', const: 1 },
    rules: { type: 'array', maxItems: POLICY_LIMITS.maxListEntries, items: ruleSchema },
  },
} as const;

/** The file without its rules, so that each rule is validated alone and lint can report one problem per rule. */
export const policyEnvelopeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'rules'],
  properties: {
    version: { type: 'integer', const: 1 },
    rules: { type: 'array', maxItems: POLICY_LIMITS.maxListEntries },
  },
} as const;
