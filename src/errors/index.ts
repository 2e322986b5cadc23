export { catalog, isErrorCode, specOf, type ErrorCode } from './catalog.js';
export type { ErrorSpec } from './error-spec.js';
export { SealbusError, isSealbusError, type ErrorParams, type WireError } from './sealbus-error.js';
