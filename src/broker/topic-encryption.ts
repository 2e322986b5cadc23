/**
 * A topic's end-to-end encryption settings. The log store keeps them as opaque topic attributes
 * (`encryption`, `recipients`); this module is the one place that reads and writes them.
 */
import { SealbusError } from '../errors/index.js';
import { parseJson } from '../json/safe-json.js';
import type { TopicConfig } from '../log/types.js';

export type EncryptionMode = 'none' | 'required';

export interface TopicEncryption {
  readonly mode: EncryptionMode;
  /** An explicit list of recipient principals; null: whoever the policy allows to consume. */
  readonly recipients: readonly string[] | null;
}

export const MAX_EXPLICIT_RECIPIENTS = 256;
const ENCRYPTION_ATTRIBUTE = 'encryption';
const RECIPIENTS_ATTRIBUTE = 'recipients';
const NONE: TopicEncryption = Object.freeze({ mode: 'none', recipients: null });

function invalid(reason: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_TOPIC_CONFIG_INVALID', { key: 'encryption', reason }, { details: { key: 'encryption', reason } });
}

/** The attributes that store a topic's encryption settings; checks the recipient list. */
export function encryptionAttributes(mode: EncryptionMode | undefined, recipients: readonly string[] | undefined): Record<string, string> {
  if (mode === undefined || mode === 'none') {
    if (recipients !== undefined) throw invalid('recipients apply only to a topic with encryption "required"');
    return {};
  }
  if (mode !== 'required') throw invalid('encryption must be "none" or "required"');
  if (recipients === undefined) return { [ENCRYPTION_ATTRIBUTE]: 'required' };
  if (recipients.length === 0 || recipients.length > MAX_EXPLICIT_RECIPIENTS) throw invalid(`recipients lists 1 to ${MAX_EXPLICIT_RECIPIENTS} principals`);
  if (new Set(recipients).size !== recipients.length) throw invalid('recipients lists a principal twice');
  return { [ENCRYPTION_ATTRIBUTE]: 'required', [RECIPIENTS_ATTRIBUTE]: JSON.stringify(recipients) };
}

/** The settings of a topic, from its stored attributes; a topic without them is not encrypted. */
export function topicEncryption(config: Pick<TopicConfig, 'attributes'>): TopicEncryption {
  const mode = config.attributes[ENCRYPTION_ATTRIBUTE];
  if (mode === undefined) return NONE;
  // A stored value this version does not know is treated as the strictest one.
  const raw = config.attributes[RECIPIENTS_ATTRIBUTE];
  let recipients: string[] | null = null;
  if (raw !== undefined) {
    let parsed: unknown = [];
    try {
      parsed = parseJson(raw, 'recipients attribute');
    } catch {
      // Unreadable or beyond the limits: nobody is a recipient (fail closed).
    }
    recipients = Array.isArray(parsed) ? parsed.filter((entry): entry is string => typeof entry === 'string') : [];
  }
  return { mode: 'required', recipients };
}
