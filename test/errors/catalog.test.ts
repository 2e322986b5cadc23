import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SealbusError, catalog, isErrorCode } from '../../src/errors/index.js';
import { renderErrorDocs } from '../../src/errors/docs.js';

describe('error catalog', () => {
  it('is documented: docs/errors.md is generated from the catalog (run npm run docs:errors)', () => {
    const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    expect(docs).toBe(renderErrorDocs());
    for (const code of Object.keys(catalog)) expect(docs).toContain(`\`${code}\``);
  });

  it('names every code SEALBUS_ERR_AREA_WHAT with a real HTTP status', () => {
    for (const [code, spec] of Object.entries(catalog)) {
      expect(code).toMatch(/^SEALBUS_ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
      expect(spec.message.length).toBeGreaterThan(0);
    }
  });

  it('renders parameters and keeps unknown ones visible', () => {
    const err = new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND', { topic: 'orders' });
    expect(err.message).toBe('Topic "orders" does not exist');
    expect(err.status).toBe(404);
    expect(err.retriable).toBe(false);
    expect(new SealbusError('SEALBUS_ERR_TOPIC_NOT_FOUND').message).toBe('Topic "{topic}" does not exist');
  });

  it('round-trips over the wire by code, never by message text', () => {
    const sent = new SealbusError('SEALBUS_ERR_STORAGE_FULL', { topic: 't', partition: 0 }, { details: { free: 0 } });
    const received = SealbusError.fromWire(JSON.parse(JSON.stringify(sent.toWire())));
    expect(received.code).toBe('SEALBUS_ERR_STORAGE_FULL');
    expect(received.retriable).toBe(true);
    expect(received.status).toBe(507);
    expect(received.message).toBe(sent.message);
    expect(received.details).toEqual({ free: 0 });
  });

  it('turns an unknown wire code into SEALBUS_ERR_INTERNAL', () => {
    const received = SealbusError.fromWire({ code: 'SEALBUS_ERR_FROM_THE_FUTURE', message: 'new' });
    expect(received.code).toBe('SEALBUS_ERR_INTERNAL');
    expect(isErrorCode('SEALBUS_ERR_FROM_THE_FUTURE')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });
});
