import { describe, it } from 'vitest';
import { envelopeParseTarget, envelopeResignedTarget, envelopeTamperTarget } from './envelope.js';
import { runTarget } from './run-target.js';

describe('fuzz: the envelope of encrypted batches', () => {
  it(envelopeParseTarget.name, () => runTarget(envelopeParseTarget, ['parseEnvelope: ok', 'parseEnvelope: SEALBUS_ERR_ENVELOPE_INVALID']));

  it(`${envelopeTamperTarget.name}: no changed byte verifies or opens; the unchanged control does`, () =>
    runTarget(envelopeTamperTarget, [
      'verifyEnvelope: ok',
      'verifyEnvelope: SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID',
      'EnvelopeGuard.check: ok',
      'EnvelopeGuard.check: SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID',
      'openRecords: ok',
      'openRecords: SEALBUS_ERR_ENVELOPE_SIGNATURE_INVALID',
    ]));

  it(`${envelopeResignedTarget.name}: every check after the signature is reached`, () =>
    runTarget(envelopeResignedTarget, [
      'verifyEnvelope: ok',
      'EnvelopeGuard.check: ok',
      'EnvelopeGuard.check: SEALBUS_ERR_ENVELOPE_INVALID',
      'openRecords: ok',
      'openRecords: SEALBUS_ERR_ENVELOPE_INVALID',
      'openRecords: SEALBUS_ERR_ENVELOPE_NO_KEY',
      'openRecords: SEALBUS_ERR_ENVELOPE_DECRYPT_FAILED',
      'prepareOpen + openValues: SEALBUS_ERR_ENVELOPE_DECRYPT_FAILED',
    ]));
});
