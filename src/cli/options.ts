import { InvalidArgumentError } from 'commander';

/** Shared option parsers of the CLI, so every verb reads numbers the same way. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('a port is a whole number from 0 to 65535');
  return port;
}

export function parseCount(value: string): number {
  const count = Number(value);
  if (!Number.isSafeInteger(count) || count < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return count;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A duration in whole seconds: `90`, `90s`, `15m`, `1h`, `7d`. */
export function parseDuration(value: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(value);
  const seconds = match === null ? Number.NaN : Number(match[1]) * (DURATION_UNITS[match[2] || 's'] ?? Number.NaN);
  if (!Number.isSafeInteger(seconds)) throw new InvalidArgumentError('expected a duration: 90, 90s, 15m, 1h or 7d');
  return seconds;
}

/** A point in time: `now`, an ISO 8601 time, or milliseconds since the epoch. */
export function parseTime(value: string): number {
  const time = value === 'now' ? Date.now() : /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(time) || time < 0) {
    throw new InvalidArgumentError('expected now, an ISO 8601 time (2026-11-21T09:00:00Z) or milliseconds since the epoch');
  }
  return time;
}

/** A comma-separated list, added to what earlier uses of the flag gave; empty items are refused. */
export function parseList(value: string, previous: string[] = []): string[] {
  const items = value.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new InvalidArgumentError('expected a comma-separated list without empty items');
  return [...previous, ...items];
}
