export { configFromObject, loadConfigFile } from './load.js';
export { configSchema } from './schema.js';
export { createAjv, describeSchemaError, firstProblem, type SchemaProblem } from './json-schema.js';
export type { SealbusConfig } from './types.js';
