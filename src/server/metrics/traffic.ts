/**
 * What clients did, counted once per batch or request: records and bytes per topic, errors
 * answered, authentication failures and authorization denials. Fed by the audit trail (which both
 * transports pass through) and by the transports' error paths.
 */
import { Counter, type Registry } from 'prom-client';
import { isErrorCode, specOf } from '../../errors/index.js';
import { BoundedEntries, MAX_TOPIC_SERIES } from './labels.js';

export type Transport = 'http' | 'ws';

/** Running totals, published when scraped: the hot path adds two numbers and builds no labels. */
interface TopicTotals {
  records: number;
  bytes: number;
}

/** `default-deny`, `scope` (the token's scopes removed the right) or `deny-rule` (a deny rule matched). */
export function denialReason(rule: string): 'default-deny' | 'scope' | 'deny-rule' {
  return rule === 'default-deny' || rule === 'scope' ? rule : 'deny-rule';
}

export class TrafficMetrics {
  readonly #produced = new BoundedEntries<TopicTotals>(MAX_TOPIC_SERIES, () => ({ records: 0, bytes: 0 }));
  readonly #consumed = new BoundedEntries<TopicTotals>(MAX_TOPIC_SERIES, () => ({ records: 0, bytes: 0 }));
  readonly #errors: Counter<'transport' | 'code' | 'class'>;
  readonly #authFailures: Counter<'reason'>;
  readonly #denials: Counter<'action' | 'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const cap = `Topics beyond the first ${MAX_TOPIC_SERIES} seen are counted under topic="(other)".`;
    const totals = (name: string, help: string, of: BoundedEntries<TopicTotals>, read: (totals: TopicTotals) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['topic'] as const,
        registers,
        collect() {
          this.reset();
          for (const [topic, counted] of of.entries()) this.inc({ topic }, read(counted));
        },
      });
    };
    totals(
      'sealbus_records_produced_total',
      `Records appended per topic (HTTP and WebSocket; a retried batch already stored is not counted again). ${cap} A drop to 0 on a busy topic means producers stopped.`,
      this.#produced,
      (counted) => counted.records,
    );
    totals('sealbus_bytes_produced_total', `Bytes of record batches appended per topic (records section as stored). ${cap}`, this.#produced, (counted) => counted.bytes);
    totals(
      'sealbus_records_consumed_total',
      `Records delivered to consumers per topic (HTTP fetch and WebSocket subscriptions; a fetch that starts inside a batch counts the whole batch). ${cap}`,
      this.#consumed,
      (counted) => counted.records,
    );
    totals('sealbus_bytes_consumed_total', `Bytes of stored batches delivered to consumers per topic. ${cap}`, this.#consumed, (counted) => counted.bytes);
    this.#errors = new Counter({
      name: 'sealbus_errors_total',
      help: 'Errors answered to clients, by transport, catalog code (docs/errors.md) and class: server (the code\'s HTTP status is 5xx: the broker failed) or client (the request was refused). Alert on the rate of class="server".',
      labelNames: ['transport', 'code', 'class'] as const,
      registers,
    });
    this.#authFailures = new Counter({
      name: 'sealbus_auth_failures_total',
      help: 'Refused authentications (certificate or token), by the SEALBUS_ERR_AUTH_* code. Alert on a spike: credential stuffing, an expired CA, or a broken client rollout.',
      labelNames: ['reason'] as const,
      registers,
    });
    this.#denials = new Counter({
      name: 'sealbus_authz_denials_total',
      help: 'Requests denied by the policy, by action and reason (default-deny, deny-rule, scope). Alert on a spike: a client probing, or a policy change that removed rights in use.',
      labelNames: ['action', 'reason'] as const,
      registers,
    });
  }

  produced(topic: string, records: number, bytes: number): void {
    const totals = this.#produced.get(topic);
    totals.records += records;
    totals.bytes += bytes;
  }

  consumed(topic: string, records: number, bytes: number): void {
    const totals = this.#consumed.get(topic);
    totals.records += records;
    totals.bytes += bytes;
  }

  /** Codes outside the catalog (none are sent today) are counted as `unknown`, so the label set stays the catalog's. */
  errorAnswered(transport: Transport, code: string): void {
    const known = isErrorCode(code);
    this.#errors.inc({ transport, code: known ? code : 'unknown', class: known && specOf(code).status < 500 ? 'client' : 'server' });
  }

  authFailed(code: string): void {
    this.#authFailures.inc({ reason: code });
  }

  denied(action: string, rule: string): void {
    this.#denials.inc({ action, reason: denialReason(rule) });
  }
}
