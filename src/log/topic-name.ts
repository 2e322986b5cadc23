import { SealbusError } from '../errors/index.js';

/**
 * Topic names: 1 to 200 characters of [A-Za-z0-9._-], not starting with a dot or a dash, no empty
 * segment (`a..b`), not `.` or `..`. The `__` prefix is reserved for the broker's internal topics.
 * Dots separate the segments that policy patterns match (`orders.*`, `orders.>`), so the charset is
 * deliberately narrow: no `/`, no `*`, no `>`, no control characters, nothing to normalize.
 * Checked at creation and at every access, since a name also becomes a directory name.
 */
export const TOPIC_NAME_MAX_LENGTH = 200;
const TOPIC_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export function topicNameProblem(name: unknown, options: { allowInternal?: boolean } = {}): string | null {
  if (typeof name !== 'string') return 'a topic name must be a string';
  if (name.length === 0) return 'a topic name must not be empty';
  if (name.length > TOPIC_NAME_MAX_LENGTH) return `a topic name is at most ${TOPIC_NAME_MAX_LENGTH} characters`;
  if (!TOPIC_NAME.test(name)) {
    return 'a topic name uses only A-Z a-z 0-9 . _ - and starts with a letter, a digit or _';
  }
  if (name.includes('..') || name.endsWith('.')) return 'a topic name has no empty segment (".." or a trailing ".")';
  if (name.startsWith('__') && options.allowInternal !== true) return 'names starting with "__" are reserved for internal topics';
  return null;
}

export function assertTopicName(name: unknown, options: { allowInternal?: boolean } = {}): asserts name is string {
  const reason = topicNameProblem(name, options);
  if (reason !== null) {
    throw new SealbusError('SEALBUS_ERR_TOPIC_NAME_INVALID', { reason }, { details: { reason } });
  }
}
