/**
 * One row of the comparison: a system in one configuration, started fresh (own process, own data
 * folder) so that no row inherits another's page cache, heap or files.
 */
export interface Target {
  /** Short, stable name: the key in the JSON output and the legend of the plot. */
  readonly id: string;
  readonly system: 'sealbus' | 'nats' | 'redis' | 'disk';
  /** What this row is, for people. */
  readonly label: string;
  /** What protects the connection and the request (transport, authentication, authorization...). */
  readonly security: string;
  /** What an acknowledgement means on this row: the durability setting stands next to its figures. */
  readonly durability: string;
  /** What the payload is and what the server does with it. */
  readonly payload: string;
  /** For a sealbus row with a feature off: which one (its cost is this row against the all-on row). */
  readonly off?: string;
  start(): Promise<Session>;
}

/** A started server and a client of it. A "topic" is a topic, a JetStream stream or a Redis stream key. */
export interface Session {
  /** The server process, whose CPU and memory are measured. */
  readonly pid: number;
  /** The server's version, as it reports it. */
  readonly version: string;
  /** Creates the topic (not timed). */
  setup(topic: string): Promise<void>;
  /** Produces `count` records with many in flight (keepInFlight's `yieldEvery`); returns acknowledged records/s. */
  produce(topic: string, count: number, yieldEvery: number): Promise<number>;
  /** Reads the topic's `count` records from its start; returns records/s. */
  consume(topic: string, count: number): Promise<number>;
  /**
   * Produces `rate` records/s for `seconds`, one at a time; returns the publish-to-ack latencies
   * (ms), sorted. Called many times on one topic (a warm-up, then one second at a time): a client
   * it needs is made once per topic, not per call.
   */
  latency(topic: string, rate: number, seconds: number): Promise<number[]>;
  /** Frees what the topic holds when that would weigh on the next run (Redis keeps streams in memory). */
  drop(topic: string): Promise<void>;
  /** Closes the clients, stops the server and removes its folder. */
  stop(): Promise<void>;
}
