import { describe, expect, it } from 'vitest';
import { parseJson } from '../../src/json/safe-json.js';
import { encodeKeyFile, parseKeyFile } from '../../src/payload/keys.js';
import { codeOfThrow } from '../helpers/error-code.js';
import { keysFromSeeds } from '../payload/helpers.js';
import { journalTarget, keyFileTarget, safeJsonTarget } from './disk.js';
import { runTarget } from './run-target.js';

describe('fuzz: safe JSON, journals and key files', () => {
  it(safeJsonTarget.name, () => runTarget(safeJsonTarget, ['parseJson: ok', 'parseJson: SEALBUS_ERR_JSON_INVALID', 'parseJson: SEALBUS_ERR_JSON_LIMIT']));
  it(journalTarget.name, () => runTarget(journalTarget));
  it(keyFileTarget.name, () => runTarget(keyFileTarget, ['parseKeyFile: ok', 'parseKeyFile: SEALBUS_ERR_KEY_FILE_INVALID']));
});

describe('regressions found by the fuzz run', () => {
  it('parseJson keeps a limit of 0 keys or items: only empty objects and arrays pass', () => {
    const code = (text: string, limits: Parameters<typeof parseJson>[2]) => codeOfThrow(() => parseJson(text, 'test document', limits));
    expect(code('{"a":1}', { maxKeys: 0 })).toBe('SEALBUS_ERR_JSON_LIMIT');
    expect(code('[1]', { maxArrayItems: 0 })).toBe('SEALBUS_ERR_JSON_LIMIT');
    expect(code('[[]]', { maxArrayItems: 0 })).toBe('SEALBUS_ERR_JSON_LIMIT');
    expect(code('{ \n}', { maxKeys: 0 })).toBe('accepted');
    expect(code('[\t]', { maxArrayItems: 0 })).toBe('accepted');
    expect(code('{"a":[]}', { maxKeys: 1, maxArrayItems: 0 })).toBe('accepted');
    // The limit of 1 was right all along; 0 used to behave as 1.
    expect(code('[1,2]', { maxArrayItems: 1 })).toBe('SEALBUS_ERR_JSON_LIMIT');
  });

  it('parseKeyFile refuses a signing key whose seed does not make its public key', () => {
    const own = keysFromSeeds(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2));
    const other = keysFromSeeds(new Uint8Array(32).fill(3), new Uint8Array(32).fill(4));
    // The seed (first half of the secret key) of another key, the public half left as it was.
    const secretKey = Uint8Array.from([...other.signing.secretKey.subarray(0, 32), ...own.signing.secretKey.subarray(32)]);
    const text = encodeKeyFile({ ...own, signing: { publicKey: own.signing.publicKey, secretKey } });
    expect(codeOfThrow(() => parseKeyFile(text))).toBe('SEALBUS_ERR_KEY_FILE_INVALID');
    expect(codeOfThrow(() => parseKeyFile(encodeKeyFile(own)))).toBe('accepted');
  });
});
