/**
 * Safe JSON parsing for the schema layer. The parser itself lives in src/json (it depends on
 * src/errors only), because the log, the payload format and the protocol sit below src/schema and
 * need it as well.
 */
export { JSON_LIMITS, jsonLimitReason, parseJson, type JsonLimits } from '../json/safe-json.js';
