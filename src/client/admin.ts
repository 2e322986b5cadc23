import { SealbusError } from '../errors/index.js';
import { topicNameProblem } from '../log/topic-name.js';
import type { TopicDescription } from '../log/types.js';
import type { KeyInfo as SigningKey } from '../auth/keyring.js';
import type { RevocationEntry } from '../auth/revocation-list.js';
import type { IssueTokenRequest as TokenRequest, IssuedToken, RevokeRequest as RevokeTokenRequest, TokenInspection } from '../broker/token-admin.js';
import type { CreateTopicInput } from '../broker/broker.js';
import type { Action, Explanation } from '../policy/index.js';
import type { ConnectionOptions } from './connection-options.js';
import {
  auditKeys,
  exportAudit,
  followAudit,
  queryAudit,
  type AuditKeys,
  type AuditPage,
  type AuditQuery,
  type AuditRecord,
  type AuditTime,
  type FollowAuditOptions,
} from './admin-audit.js';
import { httpsClient, type HttpClient } from './https-client.js';
import {
  checkSchema,
  listSchemas,
  registerSchema,
  schemaById,
  schemaVersion,
  updateSchemaSettings,
  type CompatibilityReport,
  type JsonSchema,
  type SchemaInfo,
  type SchemaSettings,
  type SchemaSubject,
  type TopicSchemaList,
} from './admin-schemas.js';
import { clientKey, clientKeys, registerKeys, revokeClientKey, topicRecipients, type ClientKeyInfo, type RegisteredClientKeys, type TopicRecipients } from './admin-keys.js';
import type { ClientKeys } from '../payload/keys.js';

export type { TopicDescription } from '../log/types.js';

export type { CreateTopicInput } from '../broker/broker.js';

/** A consumer group as `listGroups` shows it. */
export interface GroupSummary {
  readonly group: string;
  readonly state: 'empty' | 'stable' | 'rebalancing';
  readonly members: number;
  readonly generation: number;
}

/** A consumer group's members, their partitions, and each partition's committed offset and lag. */
export interface GroupDescription {
  readonly group: string;
  readonly state: 'empty' | 'stable' | 'rebalancing';
  readonly generation: number;
  readonly strategy: 'range' | 'sticky' | null;
  readonly members: readonly {
    readonly memberId: string;
    readonly principal: string;
    readonly clientAddress: string | null;
    readonly topics: readonly string[];
    readonly assigned: readonly { readonly topic: string; readonly partition: number }[];
    readonly pendingRevocation: readonly { readonly topic: string; readonly partition: number }[];
  }[];
  readonly partitions: readonly {
    readonly topic: string;
    readonly partition: number;
    readonly committedOffset: number | null;
    /** null when the topic no longer exists. */
    readonly highWatermark: number | null;
    readonly lag: number | null;
    readonly owner: string | null;
  }[];
}

/** Where `resetGroup` moves a group's committed offsets. */
export type GroupResetTarget = 'earliest' | 'latest' | { readonly timestamp: number | Date };

/** A request for `explainPolicy`: who (as the policy sees them), what, on what, from where. */
export interface PolicyExplainRequest {
  readonly principal: string;
  readonly groups?: readonly string[];
  readonly spiffeId?: string;
  readonly tokenBound?: boolean;
  readonly scopes?: readonly string[];
  readonly sourceIp?: string;
  readonly encrypted?: boolean;
  readonly action: Action;
  readonly resource: { readonly topic: string } | { readonly group: string } | { readonly cluster: true };
}

export type { Explanation } from '../policy/index.js';

export type {
  IssueTokenRequest as TokenRequest,
  IssuedToken,
  RevokeRequest as RevokeTokenRequest,
  TokenInspection,
} from '../broker/token-admin.js';
export type { RevocationEntry } from '../auth/revocation-list.js';
export type { KeyInfo as SigningKey } from '../auth/keyring.js';
export type { AuditKeys, AuditPage, AuditPublicJwk, AuditQuery, AuditRecord, AuditTime, FollowAuditOptions } from './admin-audit.js';

/** Options of `Admin`. */
export interface AdminOptions {
  readonly connection: ConnectionOptions;
  readonly requestTimeoutMs?: number;
  /** Replaces the HTTPS client (tests, proxies). */
  readonly httpClient?: HttpClient;
}

function checkName(name: string, allowInternal: boolean): void {
  const problem = topicNameProblem(name, { allowInternal });
  if (problem !== null) throw new SealbusError('SEALBUS_ERR_TOPIC_NAME_INVALID', { reason: problem }, { details: { reason: problem } });
}

function unexpected(what: string): SealbusError {
  return new SealbusError('SEALBUS_ERR_INTERNAL', { requestId: `client: unexpected ${what}` });
}

function asTopic(body: unknown): TopicDescription {
  if (typeof body !== 'object' || body === null || typeof (body as { name?: unknown }).name !== 'string') {
    throw unexpected('topic description');
  }
  return body as TopicDescription;
}

/**
 * Topic administration over the broker's HTTPS API (`/v1/topics`). Errors are SealbusErrors
 * rebuilt from the broker's `{code, message}`.
 *
 * @example
 * const admin = new Admin({ connection: connectionOptionsFromEnv() });
 * await admin.createTopic({ name: 'orders', partitions: 6, retentionMs: 7 * 24 * 3600_000 });
 * admin.close();
 */
export class Admin {
  readonly #http: HttpClient;

  constructor(options: AdminOptions) {
    this.#http =
      options.httpClient ??
      httpsClient(options.connection, options.requestTimeoutMs === undefined ? {} : { timeoutMs: options.requestTimeoutMs });
  }

  /** Creates a topic; fails with SEALBUS_ERR_TOPIC_EXISTS if the name is taken. */
  async createTopic(input: CreateTopicInput): Promise<TopicDescription> {
    checkName(input.name, false);
    const { status, body } = await this.#http.request('POST', '/v1/topics', input);
    if (status !== 201 && status !== 200) throw unexpected(`status ${status}`);
    return asTopic(body);
  }

  /** Every topic the caller may see. */
  async listTopics(): Promise<TopicDescription[]> {
    const { body } = await this.#http.request('GET', '/v1/topics');
    const topics = (body as { topics?: unknown } | null)?.topics;
    if (!Array.isArray(topics)) throw unexpected('topic list');
    return topics.map(asTopic);
  }

  /** A topic's settings and each partition's offsets; SEALBUS_ERR_TOPIC_NOT_FOUND if there is none. */
  async describeTopic(name: string): Promise<TopicDescription> {
    checkName(name, true);
    const { body } = await this.#http.request('GET', `/v1/topics/${encodeURIComponent(name)}`);
    return asTopic(body);
  }

  /** Deletes a topic and its data. */
  async deleteTopic(name: string): Promise<void> {
    checkName(name, true);
    await this.#http.request('DELETE', `/v1/topics/${encodeURIComponent(name)}`);
  }

  /** Every consumer group the caller may describe. */
  async listGroups(): Promise<GroupSummary[]> {
    const { body } = await this.#http.request('GET', '/v1/groups');
    const groups = (body as { groups?: unknown } | null)?.groups;
    if (!Array.isArray(groups)) throw unexpected('group list');
    return groups as GroupSummary[];
  }

  /** Members, assignment, committed offset and lag per partition; SEALBUS_ERR_GROUP_NOT_FOUND if unknown. */
  async describeGroup(group: string): Promise<GroupDescription> {
    const { body } = await this.#http.request('GET', `/v1/groups/${encodeURIComponent(group)}`);
    if (typeof body !== 'object' || body === null || !Array.isArray((body as { members?: unknown }).members)) throw unexpected('group description');
    return body as GroupDescription;
  }

  /**
   * Moves an inactive group's committed offsets (SEALBUS_ERR_GROUP_NOT_EMPTY while it has
   * members), for the topics it committed before or those given; returns the new offsets.
   */
  async resetGroup(group: string, to: GroupResetTarget, topics?: readonly string[]): Promise<{ topic: string; partition: number; offset: number }[]> {
    const target = typeof to === 'string' ? to : { timestamp: to.timestamp instanceof Date ? to.timestamp.getTime() : to.timestamp };
    const { body } = await this.#http.request('POST', `/v1/groups/${encodeURIComponent(group)}/reset`, {
      to: target,
      ...(topics !== undefined && { topics }),
    });
    const offsets = (body as { offsets?: unknown } | null)?.offsets;
    if (!Array.isArray(offsets)) throw unexpected('reset result');
    return offsets as { topic: string; partition: number; offset: number }[];
  }

  /** Deletes an inactive group's committed offsets. */
  async deleteGroup(group: string): Promise<void> {
    await this.#http.request('DELETE', `/v1/groups/${encodeURIComponent(group)}`);
  }

  /**
   * How the broker's policy judges a request, and which rules (file, line) decided; needs
   * `describe` on the cluster.
   */
  async explainPolicy(request: PolicyExplainRequest): Promise<Explanation> {
    const { body } = await this.#http.request('POST', '/v1/policy/explain', request);
    if (typeof body !== 'object' || body === null || !('decision' in body)) throw unexpected('explanation');
    return body as Explanation;
  }

  /** Issues a token (`issue-token` on the cluster); it never carries more rights or life than the caller's own. */
  async issueToken(request: TokenRequest): Promise<IssuedToken> {
    const { body } = await this.#http.request('POST', '/v1/admin/tokens', request);
    if (typeof body !== 'object' || body === null || typeof (body as { token?: unknown }).token !== 'string') throw unexpected('issued token');
    return body as IssuedToken;
  }

  /** Revokes durably; new requests with the token fail at once and its live sessions close within a second. */
  async revokeToken(request: RevokeTokenRequest): Promise<{ entry: RevocationEntry; added: boolean }> {
    const { body } = await this.#http.request('POST', '/v1/admin/tokens/revoke', request);
    if (typeof body !== 'object' || body === null || !('entry' in body)) throw unexpected('revocation');
    return body as { entry: RevocationEntry; added: boolean };
  }

  /** The revocations in force (expired ones are pruned). */
  async listRevocations(): Promise<RevocationEntry[]> {
    const { body } = await this.#http.request('GET', '/v1/admin/revocations');
    const list = (body as { revocations?: unknown } | null)?.revocations;
    if (!Array.isArray(list)) throw unexpected('revocation list');
    return list as RevocationEntry[];
  }

  /** The local issuer's signing keys, newest first (`manage-keys`). */
  async listKeys(): Promise<{ issuer: string; keys: SigningKey[] }> {
    const { body } = await this.#http.request('GET', '/v1/admin/keys');
    if (typeof body !== 'object' || body === null || !Array.isArray((body as { keys?: unknown }).keys)) throw unexpected('key list');
    return body as { issuer: string; keys: SigningKey[] };
  }

  /** Adds a signing key; the previous one is retired after `overlapSec` (default: the broker's setting). */
  async rotateKeys(overlapSec?: number): Promise<{ kid: string; retiring: string; retireAt: number }> {
    const { body } = await this.#http.request('POST', '/v1/admin/keys/rotate', overlapSec === undefined ? {} : { overlapSec });
    if (typeof body !== 'object' || body === null || typeof (body as { kid?: unknown }).kid !== 'string') throw unexpected('rotation');
    return body as { kid: string; retiring: string; retireAt: number };
  }

  /** Whether the broker would accept `token` now (on the certificate `thumbprint`, or the one it is bound to), and why not. */
  async inspectToken(token: string, thumbprint?: string): Promise<TokenInspection> {
    const { body } = await this.#http.request('POST', '/v1/tokens/inspect', { token, ...(thumbprint !== undefined && { thumbprint }) });
    if (typeof body !== 'object' || body === null || typeof (body as { valid?: unknown }).valid !== 'boolean') throw unexpected('inspection');
    return body as TokenInspection;
  }

  /** The broker's public signing keys (`/.well-known/jwks.json`). */
  async jwks(): Promise<{ keys: Record<string, unknown>[] }> {
    const { body } = await this.#http.request('GET', '/.well-known/jwks.json');
    if (typeof body !== 'object' || body === null || !Array.isArray((body as { keys?: unknown }).keys)) throw unexpected('JWKS');
    return body as { keys: Record<string, unknown>[] };
  }

  /**
   * One page of audit events matching `query` (`read-audit` on the cluster); page on with
   * `from: page.next` until `next` reaches `highWatermark`.
   *
   * @example
   * const page = await admin.queryAudit({ principal: 'alice', decision: 'deny', since: Date.now() - 3600_000 });
   */
  async queryAudit(query: AuditQuery = {}): Promise<AuditPage> {
    return queryAudit(this.#http, query);
  }

  /**
   * Calls `onEvent` for each matching event from `query.from` on, then live as events are written,
   * until `signal` aborts; long polls on one kept-alive connection.
   *
   * @example
   * const stop = new AbortController();
   * await admin.followAudit({ type: 'sealbus.auth.' }, (event) => console.log(event), stop.signal);
   */
  async followAudit(query: AuditQuery, onEvent: (event: AuditRecord) => void, signal: AbortSignal, options?: FollowAuditOptions): Promise<void> {
    return followAudit(this.#http, query, onEvent, signal, options);
  }

  /**
   * Every record of the audit log (events and checkpoints) as JSON lines, streamed; `since` makes a
   * partial log; `broker` reads another broker's chain on a shared store (docs/cluster.md).
   */
  exportAudit(options: { since?: AuditTime; broker?: string; signal?: AbortSignal } = {}): AsyncIterable<string> {
    return exportAudit(this.#http, options);
  }

  /**
   * The broker's audit public keys and its `source`, to verify checkpoints (pin them off the
   * machine); `broker`: those another broker published on a shared store.
   */
  async auditKeys(broker?: string): Promise<AuditKeys> {
    return auditKeys(this.#http, broker);
  }

  /** Releases the kept-alive connections. */
  close(): void {
    this.#http.close();
  }

  // The key directory: clients' end-to-end keys (not the token issuer's keys above).

  /** Registers this client's public keys for the authenticated principal, proving possession (see `registerKeys`). */
  async registerClientKeys(keys: ClientKeys, principal?: string): Promise<RegisteredClientKeys> {
    return registerKeys(this.#http, keys, principal);
  }

  /** Every registered client key, or one principal's: public, readable by any authenticated principal. */
  async listClientKeys(filter: { principal?: string } = {}): Promise<ClientKeyInfo[]> {
    return clientKeys(this.#http, filter);
  }

  /** One client key by id; SEALBUS_ERR_KEY_NOT_FOUND when unknown. */
  async clientKey(keyId: string): Promise<ClientKeyInfo> {
    return clientKey(this.#http, keyId);
  }

  /** Revokes a client key: your own, or anyone's with `manage-keys`. */
  async revokeClientKey(keyId: string, reason?: string): Promise<{ key: ClientKeyInfo; revoked: boolean }> {
    return revokeClientKey(this.#http, keyId, reason);
  }

  /** The encryption keys to seal `topic`'s batches to (`produce` on the topic). */
  async topicRecipients(topic: string): Promise<TopicRecipients> {
    return topicRecipients(this.#http, topic);
  }

  // The schema registry (docs/schemas.md).

  /**
   * Registers `schema` as the next version of `topic`'s value (or key) schema, checked against the
   * topic's compatibility mode (`manage-schemas`). Throws SEALBUS_ERR_SCHEMA_INCOMPATIBLE with the
   * problems in `details`.
   *
   * @example
   * await admin.registerSchema('orders', { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } });
   */
  async registerSchema(topic: string, schema: JsonSchema, subject?: SchemaSubject): Promise<SchemaInfo & { created: boolean }> {
    return registerSchema(this.#http, topic, schema, subject);
  }

  /** What registering `schema` would break, without registering it. */
  async checkSchema(topic: string, schema: JsonSchema, subject?: SchemaSubject): Promise<CompatibilityReport> {
    return checkSchema(this.#http, topic, schema, subject);
  }

  /** A topic's schema versions and settings. */
  async listSchemas(topic: string): Promise<TopicSchemaList> {
    return listSchemas(this.#http, topic);
  }

  /** One version (default the latest) of a topic's value (or key) schema. */
  async schemaVersion(topic: string, version?: number | 'latest', subject?: SchemaSubject): Promise<SchemaInfo> {
    return schemaVersion(this.#http, topic, version, subject);
  }

  /** The schema a record's `sealbus-schema` header names. */
  async schemaById(id: number): Promise<SchemaInfo> {
    return schemaById(this.#http, id);
  }

  /** Changes a topic's compatibility mode or what happens to invalid records (`manage-schemas`). */
  async updateSchemaSettings(topic: string, changes: Partial<SchemaSettings>): Promise<SchemaSettings> {
    return updateSchemaSettings(this.#http, topic, changes);
  }
}
