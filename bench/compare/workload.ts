/**
 * The records every system carries: 1 KiB each. Bytes for the binary and encrypted topics and the
 * peers (none of which looks inside a payload); an order as JSON of the same size, with the schema
 * its topic validates every record against.
 */
import { ORDER_SCHEMA, orderOfSize } from '../fixtures/orders.js';

export const RECORD_BYTES = 1024;

/** 1 KiB of bytes that no compression along the way would shrink to nothing. */
export const BINARY_VALUE: Buffer = Buffer.from(Array.from({ length: RECORD_BYTES }, (_, i) => (i * 131 + 7) % 251));

/** An order of exactly RECORD_BYTES of JSON, valid against ORDER_SCHEMA. */
export const JSON_VALUE: Buffer = orderOfSize(RECORD_BYTES);
export { ORDER_SCHEMA };
