export * from './keys.js';
export {
  ENVELOPE_HEADER,
  MAX_RECIPIENTS,
  clearEnvelopeCaches,
  openRecords,
  readEnvelope,
  sealRecords,
  verifyEnvelope,
  type EnvelopeHeader,
  type OpenOptions,
  type OpenedBatch,
  type Recipient,
  type SealOptions,
} from './envelope.js';
