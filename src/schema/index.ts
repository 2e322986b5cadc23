export { COMPATIBILITY_MODES, checkCompatibility, type CompatibilityMode, type CompatibilityProblem, type CompatibilityReport } from './compatibility.js';
export * from './headers.js';
export { REGISTRY_RECORD_MAX_BYTES, SCHEMAS_TOPIC, decodeRegistryEntry, encodeRegistryEntry } from './registry-entry.js';
export {
  DEFAULT_SCHEMA_SETTINGS,
  REGISTRY_LIMITS,
  RegistryState,
  SCHEMA_SUBJECTS,
  isCompatibilityMode,
  type InvalidRecordAction,
  type RegisteredSchema,
  type RegistryEntry,
  type SchemaSettings,
  type SchemaSubject,
} from './registry-state.js';
export { DRAFT_2020_12, SCHEMA_LIMITS, checkSchemaDocument, type CheckedSchema, type JsonSchema } from './schema-document.js';
export { ValidatorCache, compileValidator, type ValidationFailure, type Validator } from './validator.js';
export { parseJson } from './safe-json.js';
