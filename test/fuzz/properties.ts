/**
 * Every parser of untrusted input, as a fast-check property under one contract (contract.ts): on
 * random, valid and mutated input it returns a well-formed value (re-encoding to the same bytes
 * where an encoder exists) or throws a SealbusError with the parser's expected codes; never another
 * exception, never a result out of proportion with the input, never a case that takes seconds.
 *
 * test/fuzz/*.test.ts run each for `quickRuns` cases in npm test; bench/fuzz.ts runs them all for
 * a million cases (`npm run bench:fuzz`).
 */
import type { FuzzTarget } from './contract.js';
import { configTarget } from './config.js';
import { journalTarget, keyFileTarget, safeJsonTarget } from './disk.js';
import { envelopeParseTarget, envelopeResignedTarget, envelopeTamperTarget } from './envelope.js';
import { brokerFramesTarget, clientFramesTarget } from './frames.js';
import { policyDirTarget, policyTextTarget } from './policy.js';
import { scopeTarget, spiffeTarget, topicNameTarget } from './names.js';
import { recordSectionTarget, storedBatchTarget } from './records.js';
import { tokenClaimsTarget, tokenVerifyTarget } from './tokens.js';

export type { FuzzTarget } from './contract.js';

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  clientFramesTarget,
  brokerFramesTarget,
  recordSectionTarget,
  storedBatchTarget,
  envelopeParseTarget,
  envelopeTamperTarget,
  envelopeResignedTarget,
  policyTextTarget,
  policyDirTarget,
  configTarget,
  tokenVerifyTarget,
  tokenClaimsTarget,
  safeJsonTarget,
  journalTarget,
  keyFileTarget,
  topicNameTarget,
  scopeTarget,
  spiffeTarget,
];
