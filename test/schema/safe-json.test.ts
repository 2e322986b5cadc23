import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { isSealbusError, type SealbusError } from '../../src/errors/index.js';
import { JSON_LIMITS, jsonLimitReason, parseJson, type JsonLimits } from '../../src/schema/safe-json.js';

/** The SealbusError parseJson throws; fails when it returns. */
function refusal(input: Buffer | string, limits?: Partial<JsonLimits>): SealbusError {
  try {
    parseJson(input, 'test document', limits);
  } catch (err) {
    if (isSealbusError(err)) return err;
    throw err;
  }
  throw new Error('expected parseJson to refuse the document');
}

function codeOf(input: Buffer | string, limits?: Partial<JsonLimits>): string {
  try {
    parseJson(input, 'test document', limits);
    return 'accepted';
  } catch (err) {
    if (isSealbusError(err)) return err.code;
    throw err;
  }
}

const nested = (depth: number, inner = '1'): string => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('parseJson limits', () => {
  it('has documented, frozen defaults', () => {
    expect(JSON_LIMITS).toEqual({ maxTotalBytes: 16 * 1024 * 1024, maxDepth: 64, maxStringBytes: 1024 * 1024, maxKeys: 1000, maxArrayItems: 100_000 });
    expect(Object.isFrozen(JSON_LIMITS)).toBe(true);
  });

  it('refuses nesting deeper than maxDepth, objects and arrays alike, and says where', () => {
    expect(parseJson(nested(64), 'test document')).toEqual(JSON.parse(nested(64)));
    const deep = refusal(nested(65));
    expect(deep.code).toBe('SEALBUS_ERR_JSON_LIMIT');
    expect(deep.status).toBe(400);
    expect(deep.message).toBe('The test document exceeds a JSON limit: it nests deeper than 64 levels (at byte 64)');
    expect(codeOf('{"a":{"b":{"c":1}}}', { maxDepth: 2 })).toBe('SEALBUS_ERR_JSON_LIMIT');
    expect(codeOf('{"a":{"b":[]}}', { maxDepth: 3 })).toBe('accepted');
    // A million levels would be refused at the 65th byte, before JSON.parse sees any of it.
    expect(codeOf(nested(1_000_000))).toBe('SEALBUS_ERR_JSON_LIMIT');
  });

  it('does not count brackets, braces or commas inside strings', () => {
    expect(parseJson(`["${'[{'.repeat(500)}", "a,b,c,d"]`, 'test document', { maxDepth: 1, maxArrayItems: 2 })).toEqual(['[{'.repeat(500), 'a,b,c,d']);
  });

  it('is not confused by escaped quotes and backslashes inside strings', () => {
    // A scanner that took \" for the end of the string would see the brackets after it.
    expect(parseJson('["a\\"[[[[", "b"]', 'test document', { maxDepth: 1 })).toEqual(['a"[[[[', 'b']);
    // A scanner that took \\" for an escaped quote would run on and count the commas of the next string.
    expect(parseJson('["a\\\\", "x,x,x,x"]', 'test document', { maxArrayItems: 2 })).toEqual(['a\\', 'x,x,x,x']);
    expect(parseJson('{"k\\"ey": "\\\\\\"", "n": 1}', 'test document', { maxKeys: 2 })).toEqual({ 'k"ey': '\\"', n: 1 });
    expect(codeOf('["a\\"", "b", "c"]', { maxArrayItems: 2 })).toBe('SEALBUS_ERR_JSON_LIMIT');
  });

  it('refuses a string, key or value, longer than maxStringBytes, counted in UTF-8 bytes as written', () => {
    expect(codeOf('"12345678"', { maxStringBytes: 8 })).toBe('accepted');
    expect(refusal('["12345678", "123456789"]', { maxStringBytes: 8 }).message).toBe(
      'The test document exceeds a JSON limit: the string at byte 13 is 9 bytes long; at most 8 are allowed',
    );
    expect(codeOf('{"123456789": 1}', { maxStringBytes: 8 })).toBe('SEALBUS_ERR_JSON_LIMIT');
    expect(codeOf('"éé"', { maxStringBytes: 4 })).toBe('accepted');
    expect(codeOf('"ééé"', { maxStringBytes: 4 })).toBe('SEALBUS_ERR_JSON_LIMIT');
    // Escapes count as written: \u0041 is one character but six bytes of text.
    expect(codeOf('"\\u0041"', { maxStringBytes: 5 })).toBe('SEALBUS_ERR_JSON_LIMIT');
    expect(codeOf(`"${'x'.repeat(JSON_LIMITS.maxStringBytes + 1)}"`)).toBe('SEALBUS_ERR_JSON_LIMIT');
  });

  it('refuses an object with more than maxKeys keys and an array with more than maxArrayItems items', () => {
    const object = (keys: number): string => JSON.stringify(Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, i])));
    expect(codeOf(object(1000))).toBe('accepted');
    expect(refusal(object(1001)).message).toMatch(/^The test document exceeds a JSON limit: the object at byte \d+ has more than 1000 keys$/);
    // A repeated key counts each time: JSON.parse would still build the table for it.
    expect(codeOf(`{${Array.from({ length: 3 }, () => '"a":1').join(',')}}`, { maxKeys: 2 })).toBe('SEALBUS_ERR_JSON_LIMIT');
    expect(codeOf('[1,2,3]', { maxArrayItems: 3 })).toBe('accepted');
    expect(refusal('[1,2,3,4]', { maxArrayItems: 3 }).message).toBe('The test document exceeds a JSON limit: the array at byte 6 has more than 3 items');
    // Limits are per container: two objects of two keys pass a limit of two.
    expect(codeOf('[{"a":1,"b":2},{"a":1,"b":2}]', { maxKeys: 2 })).toBe('accepted');
  });

  it('refuses a text longer than maxTotalBytes before reading it', () => {
    expect(refusal('[1, 2]', { maxTotalBytes: 5 }).message).toBe('The test document exceeds a JSON limit: it is 6 bytes long; at most 5 are allowed');
    expect(codeOf('[1,2]', { maxTotalBytes: 5 })).toBe('accepted');
  });
});

describe('parseJson numbers', () => {
  it('keeps every integer JSON.parse reads exactly', () => {
    for (const text of ['0', '-0', '9007199254740991', '-9007199254740991', '[1,-2,30,0.5]', '900719925474099', '1.0']) {
      expect(parseJson(text, 'test document')).toEqual(JSON.parse(text));
    }
  });

  it('refuses an integer literal beyond ±(2^53 - 1) instead of rounding it', () => {
    for (const text of ['9007199254740992', '9007199254740993', '-9007199254740993', '18446744073709551615', `1${'0'.repeat(400)}`]) {
      expect(codeOf(text), text).toBe('SEALBUS_ERR_JSON_LIMIT');
    }
    const offset = refusal('{"offset": 9007199254740993}');
    expect(offset.message).toBe(
      'The test document exceeds a JSON limit: the integer at byte 11 (16 digits) is beyond ±9007199254740991 (2^53 - 1): ' +
        'JSON.parse would round it, and a check of the rounded number is a check of another number',
    );
  });

  it('refuses a number that overflows a double, in exponent or long form', () => {
    for (const text of ['1e400', '-1e400', '[1E+309]', `1${'0'.repeat(400)}.5`]) {
      expect(refusal(text).message, text).toMatch(/the number at byte \d+ overflows a double: JSON.parse would make it -?Infinity$/);
    }
  });

  it('keeps numbers written as doubles (a fraction or an exponent): every JSON reader reads them as doubles', () => {
    for (const text of ['1e20', '6.02e23', '-1.5e308', '1e-400', '123456789012345678901234567890.5', '9007199254740993.0']) {
      expect(parseJson(text, 'test document'), text).toBe(JSON.parse(text));
    }
  });

  it('does not mistake digits in strings or keys for numbers', () => {
    expect(parseJson('{"9007199254740993": "12345678901234567890", "e": "1e400"}', 'test document')).toEqual({
      '9007199254740993': '12345678901234567890',
      e: '1e400',
    });
  });
});

describe('parseJson text and syntax', () => {
  it('reads Unicode from bytes and from strings alike', () => {
    const value = { name: 'Zoë Ødegård', emoji: '🙂', cjk: '漢字', escaped: '\u00e9\u0000\n"\\' };
    const text = JSON.stringify(value);
    expect(parseJson(text, 'test document')).toEqual(value);
    expect(parseJson(Buffer.from(text, 'utf8'), 'test document')).toEqual(value);
    expect(parseJson(Buffer.from('"\\ud83d\\ude42"'), 'test document')).toBe('🙂');
  });

  it('refuses bytes that are not UTF-8 rather than replacing them', () => {
    const bytes = Buffer.from([0x22, 0x61, 0xff, 0x22]);
    expect(refusal(bytes).message).toBe('The test document is not valid JSON: the bytes are not valid UTF-8');
    expect(refusal(Buffer.from([0x22, 0xc3, 0x22])).code).toBe('SEALBUS_ERR_JSON_INVALID');
  });

  it('gives syntax errors a position in bytes and never echoes the input', () => {
    const secret = 'sk_live_4f9c2e8a7b6d5e4f3a2b1c0d';
    const cases: Array<[string, string]> = [
      [`{"token": "${secret}", "x": nope}`, `unexpected character 'o' at byte ${`{"token": "${secret}", "x": n`.length}`],
      [`{"token": "${secret}",}`, `Expected double-quoted property name at byte ${`{"token": "${secret}",`.length}`],
      [`{"token": "${secret}"`, `Expected ',' or '}' after property value at byte ${`{"token": "${secret}"`.length}`],
      [`["${secret}`, `Unterminated string at byte ${`["${secret}`.length}`],
      ['{"é": x}', "unexpected character 'x' at byte 7"],
      ['tru', 'the text ends too early (at byte 3)'],
      ['[1,,2]', "unexpected character ',' at byte 3"],
      ['"\u0001"', 'Bad control character in string literal at byte 1'],
      ['', 'it is empty'],
      ['  \n', 'it is empty'],
      ['{"a":1} {"b":2}', 'Unexpected non-whitespace character after JSON at byte 8'],
      ['{"é":1} x', 'Unexpected non-whitespace character after JSON at byte 9'],
    ];
    for (const [text, reason] of cases) {
      const error = refusal(text);
      expect(error.code, text).toBe('SEALBUS_ERR_JSON_INVALID');
      expect(error.message, text).toBe(`The test document is not valid JSON: ${reason}`);
      expect(error.message).not.toContain(secret.slice(0, 6));
      expect(refusal(Buffer.from(text)).message, text).toBe(error.message);
    }
    // A character that is not printable ASCII is named by its code point.
    expect(refusal('[\u00a0]').message).toBe('The test document is not valid JSON: unexpected character U+00A0 at byte 1');
  });
});

describe('parseJson and prototype keys', () => {
  afterEach(() => {
    delete (Object.prototype as Record<string, unknown>)['polluted'];
  });

  it('keeps __proto__, constructor and prototype as own data properties and pollutes nothing', () => {
    const text = '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "nested": [{"__proto__": {"polluted": 1}}]}';
    for (const input of [text, Buffer.from(text)]) {
      const value = parseJson(input, 'test document') as Record<string, unknown>;
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.hasOwn(value, '__proto__')).toBe(true);
      expect(Object.keys(value)).toEqual(['__proto__', 'constructor', 'nested']);
      expect(value['polluted']).toBeUndefined();
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
      // What the rule in safe-json.ts forbids, shown: Object.assign calls the __proto__ setter.
      const copied = Object.assign({}, value) as Record<string, unknown>;
      expect(copied['polluted']).toBe(true);
      // What it recommends: spread and fromEntries define own properties.
      expect(({ ...value } as Record<string, unknown>)['polluted']).toBeUndefined();
      expect((Object.fromEntries(Object.entries(value)) as Record<string, unknown>)['polluted']).toBeUndefined();
    }
  });
});

describe('jsonLimitReason', () => {
  it('gives the reason of a limit, and null for bad syntax or other errors', () => {
    let limit: unknown;
    try {
      parseJson(nested(3), 'x', { maxDepth: 2 });
    } catch (err) {
      limit = err;
    }
    expect(jsonLimitReason(limit)).toBe('exceeds a JSON limit: it nests deeper than 2 levels (at byte 2)');
    expect(jsonLimitReason(refusal('{'))).toBeNull();
    expect(jsonLimitReason(new Error('x'))).toBeNull();
  });
});

/** JSON values within the default limits, with keys that matter (`__proto__`) and every kind of string. */
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 8 },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    // Doubles as JSON.stringify writes them; an integer-valued one between 2^53 and 1e21 would be
    // written as an integer literal, which parseJson refuses by design.
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => Number.isSafeInteger(x) || !Number.isInteger(x) || Math.abs(x) >= 1e21),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.array(tie('value'), { maxLength: 6 }),
    fc
      .array(fc.tuple(fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'prototype')), tie('value')), { maxLength: 6 })
      .map((entries) => Object.fromEntries(entries)),
  ),
})).value;

describe('parseJson properties', () => {
  it('equals JSON.parse on JSON within the limits, from strings and from bytes, however it is spaced', () => {
    fc.assert(
      fc.property(jsonValue, fc.constantFrom(undefined, 2, '\t'), (value, space) => {
        const text = JSON.stringify(value, null, space);
        const expected: unknown = JSON.parse(text);
        // isDeepStrictEqual compares prototypes, not `constructor` properties (which the data may hold).
        expect(isDeepStrictEqual(parseJson(text, 'test document'), expected)).toBe(true);
        expect(isDeepStrictEqual(parseJson(Buffer.from(text, 'utf8'), 'test document'), expected)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('on any text, either equals JSON.parse or refuses with a JSON code', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.tuple(jsonValue, fc.nat(), fc.string({ maxLength: 3 })).map(([value, at, insert]) => {
        const json = JSON.stringify(value);
        const cut = at % (json.length + 1);
        return json.slice(0, cut) + insert + json.slice(cut);
      }),
    );
    fc.assert(
      fc.property(text, (input) => {
        let expected: { value: unknown } | null = null;
        try {
          expected = { value: JSON.parse(input) as unknown };
        } catch {
          expected = null;
        }
        let actual: unknown;
        try {
          actual = parseJson(input, 'test document');
        } catch (err) {
          expect(isSealbusError(err, 'SEALBUS_ERR_JSON_INVALID') || isSealbusError(err, 'SEALBUS_ERR_JSON_LIMIT')).toBe(true);
          if (expected !== null) expect((err as SealbusError).code).toBe('SEALBUS_ERR_JSON_LIMIT');
          return;
        }
        expect(expected).not.toBeNull();
        expect(isDeepStrictEqual(actual, expected!.value)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
