import { generateKeyPairSync } from 'node:crypto';
import {
  AUDIT_EVENT_TYPES,
  AuditChain,
  type AuditEventEnvironment,
  type AuditEventInput,
  AuditSigner,
  buildEvent,
} from '../../src/audit/index.js';

export const SOURCE = 'sealbus://broker-1';
export const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

/** A clock that ticks one second per call and UUIDs from a counter: logs are reproducible. */
export function testEnvironment(): Required<AuditEventEnvironment> {
  let tick = 0;
  let uuid = 0;
  return {
    now: () => new Date(T0 + 1000 * tick++),
    randomUUID: () => `00000000-0000-4000-8000-${(uuid++).toString(16).padStart(12, '0')}`,
  };
}

export async function testSigner(environment: AuditEventEnvironment = testEnvironment()): Promise<AuditSigner> {
  return AuditSigner.fromPrivateKey(generateKeyPairSync('ed25519').privateKey, environment);
}

/** Varied, valid events: the i-th of a log. */
export function sampleInput(i: number): AuditEventInput {
  const principal = `user:u${i % 7}`;
  switch (AUDIT_EVENT_TYPES[i % 4]) {
    case 'sealbus.auth.success':
      return { type: 'sealbus.auth.success', source: SOURCE, data: { principal, sourceIp: `10.0.0.${i % 250}`, certificate: { subject: `CN=u${i % 7}`, thumbprint: 'q1w2e3' } } };
    case 'sealbus.auth.failure':
      return { type: 'sealbus.auth.failure', source: SOURCE, data: { code: 'SEALBUS_ERR_AUTH_TOKEN_EXPIRED', sourceIp: '10.0.0.9' } };
    case 'sealbus.authz.decision':
      return {
        type: 'sealbus.authz.decision',
        source: SOURCE,
        subject: `topic:orders.${i % 3}`,
        data: { principal, action: 'produce', resource: `topic:orders.${i % 3}`, decision: i % 5 === 0 ? 'deny' : 'allow', rule: `rule-${i % 4}` },
      };
    default:
      return { type: 'sealbus.data.consume', source: SOURCE, subject: 'topic:orders.0', data: { principal, resource: 'topic:orders.0', partition: i % 3, records: 10, firstOffset: i * 10, lastOffset: i * 10 + 9 } };
  }
}

export interface TestLog {
  /** Records as a reader of a JSON-lines export gets them: fresh, mutable, parsed JSON. */
  readonly entries: Record<string, unknown>[];
  /** Position of the event with each sequence number. */
  readonly eventPositions: number[];
  /** Position of each checkpoint, and the count it covers. */
  readonly checkpoints: { position: number; count: number; headHash: string }[];
  readonly signer: AuditSigner;
}

/** A log of `events` events with a checkpoint after every `every`-th event. */
export async function buildLog(events: number, every: number, signer?: AuditSigner, inputOf: (i: number) => AuditEventInput = sampleInput): Promise<TestLog> {
  const environment = testEnvironment();
  // The signer has a clock of its own: the events are the same whichever signer signs them.
  const usedSigner = signer ?? (await testSigner());
  const chain = new AuditChain();
  const records: unknown[] = [];
  const eventPositions: number[] = [];
  const checkpoints: TestLog['checkpoints'] = [];
  for (let i = 0; i < events; i++) {
    eventPositions.push(records.length);
    records.push(chain.append(buildEvent(inputOf(i), environment)));
    if ((i + 1) % every === 0) {
      const head = chain.head();
      checkpoints.push({ position: records.length, ...head });
      records.push(usedSigner.sign({ ...head, source: SOURCE }));
    }
  }
  return { entries: records.map((record) => JSON.parse(JSON.stringify(record)) as Record<string, unknown>), eventPositions, checkpoints, signer: usedSigner };
}

export function toJsonLines(entries: readonly unknown[]): string {
  return entries.map((entry) => `${JSON.stringify(entry)}\n`).join('');
}
