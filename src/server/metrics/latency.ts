/**
 * How long things take: requests (HTTP route or WebSocket frame type), produce acknowledgements
 * (the batch taken up until its durable ack is sent), and the log's group-commit fsyncs. Each is
 * observed once per request, batch or fsync, never per record.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { LeanHistogram, type HistogramSeries } from './lean-histogram.js';
import type { Transport, TrafficMetrics } from './traffic.js';

/** Requests: from sub-millisecond frames up to long polls (limits.longPollMaxMs, 30 s by default). */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** An fdatasync takes tens of microseconds on NVMe and can take seconds on a sick disk. */
const FSYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The HTTP produce route: its successful answers are produce acknowledgements. */
const PRODUCE_ROUTE = '/v1/topics/:topic/records';

/** What a WebSocket session reports (src/server/ws/session.ts). */
export interface SessionMetrics {
  /** A frame was answered (or failed); `startedAt` is `performance.now()` when it arrived. */
  frameDone(type: string, startedAt: number): void;
  /** A PRODUCE_ACK was sent; `startedAt` is `performance.now()` when the batch was taken up. */
  produceAcked(startedAt: number): void;
  /** An ERROR, SUBSCRIPTION_ERROR or GROUP_ERROR frame was sent with this catalog code. */
  errorSent(code: string): void;
}

export class LatencyMetrics {
  readonly #requests: LeanHistogram;
  readonly #acks: Record<Transport, HistogramSeries>;
  readonly #fsync: HistogramSeries;
  readonly #frames = new Map<string, HistogramSeries>();

  constructor(registry: Registry) {
    this.#requests = new LeanHistogram(
      'sealbus_request_duration_seconds',
      'Time to answer a request: HTTP by route pattern and method (operation "GET /v1/topics/:topic"; "unmatched" for unknown URLs), WebSocket by frame type. Long polls and group joins wait by design. SealbusHighErrorRate divides errors by its count.',
      REQUEST_BUCKETS,
      registry,
    );
    const acks = new LeanHistogram(
      'sealbus_produce_ack_duration_seconds',
      'From a produce batch taken up to its acknowledgement sent, durable under the topic fsync policy (includes authorization, validation, the append and the fsync).',
      REQUEST_BUCKETS,
      registry,
    );
    this.#acks = { http: acks.series('http', { transport: 'http' }), ws: acks.series('ws', { transport: 'ws' }) };
    this.#fsync = new LeanHistogram(
      'sealbus_fsync_duration_seconds',
      "Duration of the log's group-commit fdatasync calls (one covers many appends); under the fsync policy 'always' every ack waits for one. Alert on p99 above 100 ms.",
      FSYNC_BUCKETS,
      registry,
    ).series('', {});
  }

  /** Passed to the log store: called once per group commit. */
  readonly observeFsync = (seconds: number): void => {
    this.#fsync.observe(seconds);
  };

  /** `operation` is a route pattern or a frame type: a closed set, so the series stay bounded. */
  request(transport: Transport, operation: string, seconds: number): void {
    this.#requests.series(`${transport} ${operation}`, { transport, operation }).observe(seconds);
  }

  acked(transport: Transport, seconds: number): void {
    this.#acks[transport].observe(seconds);
  }

  /** Frame types come from the protocol's closed set, decoded before this is called. */
  frame(type: string, seconds: number): void {
    let series = this.#frames.get(type);
    if (series === undefined) this.#frames.set(type, (series = this.#requests.series(`ws ${type}`, { transport: 'ws', operation: type })));
    series.observe(seconds);
  }

  /** The session-side hooks, counting errors into `traffic`. */
  sessionMetrics(traffic: TrafficMetrics): SessionMetrics {
    return {
      frameDone: (type, startedAt) => this.frame(type, (performance.now() - startedAt) / 1000),
      produceAcked: (startedAt) => this.acked('ws', (performance.now() - startedAt) / 1000),
      errorSent: (code) => traffic.errorAnswered('ws', code),
    };
  }
}

/**
 * Times every HTTP answer, refusals included, by its route pattern: never the raw URL, which would
 * make a series of every topic name or offset a client sends.
 */
export function registerRequestMetrics(app: FastifyInstance, latency: LatencyMetrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    const seconds = reply.elapsedTime / 1000;
    latency.request('http', route === undefined ? 'unmatched' : `${request.method} ${route}`, seconds);
    if (route === PRODUCE_ROUTE && request.method === 'POST' && reply.statusCode < 300) latency.acked('http', seconds);
    done();
  });
}
