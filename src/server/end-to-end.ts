/**
 * End-to-end encryption in a running broker: the key directory (principals' public keys, on the
 * internal topic `__sealbus.keys`), the envelope guard that checks every sealed batch against it,
 * and what the key routes need. The broker holds no private key of any client.
 */
import { EnvelopeGuard } from '../broker/envelope-guard.js';
import type { Actor } from '../broker/access.js';
import type { AuditTrail } from '../broker/audit-trail.js';
import { KeyDirectory } from '../broker/key-directory.js';
import type { RegisteredSubject } from '../broker/key-directory-entry.js';
import type { LogStore } from '../log/index.js';
import type { PolicyEngine } from '../policy/index.js';
import type { KeyRouteDeps } from './routes/keys.js';

export interface EndToEnd {
  readonly directory: KeyDirectory;
  readonly guard: EnvelopeGuard;
  readonly routes: Omit<KeyRouteDeps, 'broker'>;
}

export interface EndToEndOptions {
  readonly store: LogStore;
  readonly policy: PolicyEngine;
  readonly audit: AuditTrail;
  readonly clock: () => number;
  /** The broker's authorization (it is built after the directory, hence a function). */
  readonly authorize: (actor: Actor, action: 'manage-keys', resource: { kind: 'cluster' }) => void;
  readonly onError: (err: unknown) => void;
}

export async function openEndToEnd(options: EndToEndOptions): Promise<EndToEnd> {
  const { policy } = options;
  const directory = new KeyDirectory({ store: options.store, authorize: options.authorize, audit: options.audit, clock: options.clock, onError: options.onError });
  await directory.open();
  // A recipient is judged as it registered: name, groups, SPIFFE id; no address, no live session,
  // so rules with conditions that need one do not make anyone a recipient (fail closed).
  const isAllowedToConsume = (principal: string, subject: RegisteredSubject, topic: string): boolean =>
    policy.decide({
      subject: { name: principal, groups: subject.groups, spiffeId: subject.spiffeId, certificate: null, tokenBound: false, scopes: null },
      action: 'consume',
      resource: { kind: 'topic', name: topic },
      context: { sourceIp: null },
    }).allowed;
  const policyVersion = (): string => policy.policy.version;
  const guard = new EnvelopeGuard({
    signingKey: (keyId) => directory.signingKey(keyId),
    recipientKeyIds: (topic, explicit) =>
      directory.recipientKeyIds(topic, { explicit, isAllowedToConsume: (principal, subject) => isAllowedToConsume(principal, subject, topic), policyVersion: policyVersion() }),
  });
  return { directory, guard, routes: { directory, isAllowedToConsume, policyVersion, clock: options.clock } };
}
