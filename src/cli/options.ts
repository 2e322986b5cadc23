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
