import { SealbusError } from '../errors/index.js';
import { topicNameProblem } from '../log/topic-name.js';
import type { TopicDescription } from '../log/types.js';
import type { ConnectionOptions } from './connection-options.js';
import { httpsClient, type HttpClient } from './https-client.js';

export type { TopicDescription } from '../log/types.js';

/** The settings of a new topic; what is left out takes the broker's defaults. */
export interface CreateTopicInput {
  readonly name: string;
  /** Default: the broker's `topicDefaults.partitions`. */
  readonly partitions?: number;
  /** null: keep forever. */
  readonly retentionMs?: number | null;
  readonly retentionBytes?: number | null;
  readonly maxRecordBytes?: number;
  readonly segmentBytes?: number;
}

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

  /** Releases the kept-alive connections. */
  close(): void {
    this.#http.close();
  }
}
