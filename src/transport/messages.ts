/**
 * Every message that crosses a thread boundary, in one place: the worker's
 * start-up data, the lane task that opens a worker's lane and what travels on
 * a lane (sockets one way, readiness and the stats of ended connections the
 * other), and the control messages the primary broadcasts to all workers.
 */
import type { MessagePort } from 'node:worker_threads';
import type { PerMessageDeflateOptions } from '../protocol/permessage-deflate-negotiation.ts';
import type { BrokerConfig } from '../app/redis-broker.ts';
import type { LogLevel } from '../telemetry/logger.ts';
import type { LogRateLimit } from '../telemetry/rate-limited-log.ts';
import type { WorkerCounters, WorkerGauges, WorkerReport } from '../telemetry/worker-metrics.ts';

/** Per-worker configuration, passed once as piscina's `workerData`. */
export interface WorkerConfig {
  /** `echo` or an absolute path to the app module. */
  readonly app: string;
  readonly maxMessageBytes: number;
  readonly maxHeadBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly closeTimeoutMs: number;
  readonly mailboxSize: number;
  readonly mailboxBytes: number;
  readonly maxBackpressureBytes: number;
  /** The resolved permessage-deflate policy (`enabled: false`: never negotiated). */
  readonly perMessageDeflate: PerMessageDeflateOptions;
  /** Name of the BroadcastChannel carrying `ControlMessage`s for this server. */
  readonly controlChannel: string;
  /** Lines below this level are not even formatted in the worker. */
  readonly logLevel: LogLevel;
  /** Lines caused by peers, per cause per interval (telemetry/rate-limited-log.ts). */
  readonly logRateLimit: LogRateLimit;
  /** The cluster broker's URL and this node's id (src/app/redis-broker.ts), or null on a single node. */
  readonly broker: BrokerConfig | null;
  /** Largest request body the app's `http` handler is given; bigger ones get 413. */
  readonly maxBodyBytes: number;
  /** Origins allowed to upgrade (exact, or `https://*.example.com`); null: every origin. */
  readonly allowedOrigins: readonly string[] | null;
  /** Peers (addresses or CIDRs) whose Forwarded / X-Forwarded-For headers are believed. */
  readonly trustProxy: readonly string[];
  /** Every connection starts with a PROXY protocol v1 or v2 header. */
  readonly proxyProtocol: boolean;
  /** TLS in the worker (the files already read and checked by the primary); null: plain TCP. */
  readonly tls: WorkerTls | null;
}

/** The TLS material a worker needs: PEM text, and the ticket keys every worker shares. */
export interface WorkerTls {
  readonly cert: string;
  readonly key: string;
  readonly passphrase: string | undefined;
  /** 48 bytes made once by the primary: a ticket issued by one worker resumes on any other. */
  readonly ticketKeys: Uint8Array;
}

/**
 * The one piscina task each worker runs for its whole life (the default
 * export of src/workers/connection-worker.ts, which serves it with a
 * WorkerLane, worker-lane.ts): `port` is the lane's end of a MessageChannel.
 * On it the primary posts each accepted connection (a bare TCP handle or a
 * socket, transferred, unread) and the worker posts `LaneMessage`s.
 */
export interface LaneTask {
  readonly port: MessagePort;
}

/**
 * Worker to primary on a lane: the lane serves connections now; connections
 * that ended (batched, see worker-lane.ts), with the message and byte counts
 * since the previous report so the totals include them; the worker's
 * periodic report (workers/worker-reporter.ts); log lines (a batch of JSON
 * lines, telemetry/batched-line-destination.ts).
 */
export type LaneMessage =
  | { readonly type: 'ready'; readonly workerId: number }
  | {
      readonly type: 'ended';
      readonly stats: PackedConnectionStats;
      readonly counters: WorkerCounters;
      /** Connections the worker accepted itself since its previous batch (`acceptInWorkers`), and those it refused with 503. */
      readonly accepted: number;
      readonly refused: number;
    }
  /** `acceptInWorkers`: the worker listens on the order's address now, or could not (the listen error's message). */
  | { readonly type: 'accepting' }
  | { readonly type: 'accept-failed'; readonly message: string }
  /** `acceptInWorkers`, at shutdown: the worker closed its listener; the `ended` batch before this counted its last accepts. */
  | { readonly type: 'stopped-accepting' }
  | { readonly type: 'report'; readonly report: WorkerReport }
  | { readonly type: 'log'; readonly lines: string };

/**
 * What a worker reports of each connection once its socket has closed (in the
 * lane's batched `ended` message); the primary emits it as `connectionEnd`.
 */
export interface ConnectionStats {
  /** threadId of the worker that served the connection. */
  workerId: number;
  /** 101 when upgraded, the HTTP status of the refusal otherwise, 0 when the socket closed before a full head. */
  handshakeStatus: number;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  /** Close code received from (or sent to, on failure) the peer; 1006 when the TCP connection ended without one. */
  closeCode: number;
  closeReason: string;
  wasClean: boolean;
  /** Times reading was paused because the mailbox was full. */
  mailboxPauses: number;
  /** Times reading was paused because the send buffer was full. */
  writePauses: number;
  /** True when the connection was closed by the slow-consumer policy. */
  slowConsumer: boolean;
  /** True when the socket had to be destroyed because the peer did not finish closing in time. */
  closeTimedOut: boolean;
  /**
   * Why the connection was refused before (or instead of) the HTTP answer,
   * as a metrics label: '' for none, else one of EDGE_REFUSALS.
   */
  edgeRefusal: EdgeRefusal | '';
  /** Requests served by the app's `http` handler on this connection. */
  httpRequests: number;
  /** Of those, requests whose handler threw or rejected (answered 500, connection closed). */
  httpHandlerErrors: number;
  /** Status of the error answer that ended this connection's HTTP requests (400, 408, 413, 431); 0 for none. */
  httpRefusalStatus: number;
  /**
   * True when the client reset or closed the connection in the middle of an
   * HTTP request (its head or body part-sent, or its response not complete):
   * an aborted request, not a refusal.
   */
  httpRequestAborted: boolean;
  /** True when the connection was closed by an internal error of the worker (a bug; logged). */
  internalError: boolean;
}

/** Refusals of the edge (PROXY header, TLS, Origin), each a metrics label. */
export const EDGE_REFUSALS = [
  'proxy_header_malformed',
  'proxy_header_timeout',
  'tls_handshake_failed',
  'tls_handshake_timeout',
  'origin_not_allowed',
] as const;

/** One of EDGE_REFUSALS. */
export type EdgeRefusal = (typeof EDGE_REFUSALS)[number];

/** Close every connection with this code and reason (graceful shutdown). */
export interface ShutdownMessage {
  readonly type: 'shutdown';
  readonly code: number;
  readonly reason: string;
}

/** Use this certificate and key for new TLS connections (SIGHUP; already read and checked by the primary). */
export interface TlsReloadMessage {
  readonly type: 'tls';
  readonly cert: string;
  readonly key: string;
  readonly passphrase: string | undefined;
}

/** Messages on the control BroadcastChannel, primary to workers. */
export type ControlMessage = ShutdownMessage | TlsReloadMessage;

/** A stats object with every counter at zero. */
export function emptyConnectionStats(workerId: number): ConnectionStats {
  return {
    workerId,
    handshakeStatus: 0,
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    closeCode: 1006,
    closeReason: '',
    wasClean: false,
    mailboxPauses: 0,
    writePauses: 0,
    slowConsumer: false,
    closeTimedOut: false,
    edgeRefusal: '',
    httpRequests: 0,
    httpHandlerErrors: 0,
    httpRefusalStatus: 0,
    httpRequestAborted: false,
    internalError: false,
  };
}

/** One live worker as the primary sees it. */
export interface WorkerLoad {
  /** threadId of the worker. */
  readonly workerId: number;
  /** Connections handed to the worker that have not ended. */
  readonly connections: number;
  /** What the worker measured of itself in its latest report; null before the first. */
  readonly gauges: WorkerGauges | null;
}

/**
 * ConnectionStats of ended connections as the lane's `ended` message carries
 * them: STATS_SLOTS numbers per connection in one Float64Array (booleans as 0
 * and 1, the edge refusal as its index in EDGE_REFUSALS plus one, whether the
 * connection has a close reason), and the close reasons that are not empty,
 * in order. Structured cloning writes every property name of every object
 * (an array of stats objects cost the worker about 4% of its time in a
 * connection storm, --cpu-prof) and every item of an array one by one (a
 * flat array of numbers and strings, 19 per connection, cost the primary
 * 0.6 us per connection to read back and the worker 0.3 us to write, perf of
 * a storm); a typed array's buffer is transferred whole.
 */
export interface PackedConnectionStats {
  readonly numbers: Float64Array<ArrayBuffer>;
  readonly reasons: readonly string[];
}

/** Values per connection in PackedConnectionStats' numbers. */
const STATS_SLOTS = 19;

/**
 * A worker's ended connections until the lane reports them (worker-lane.ts):
 * `add` writes each into one Float64Array kept from batch to batch (grown by
 * doubling), `take` hands the batch over as a PackedConnectionStats (its
 * numbers a copy whose buffer the lane transfers) and starts the next one.
 */
export class ConnectionStatsBatch {
  #numbers: Float64Array<ArrayBuffer>;
  #size: number;
  #reasons: string[];

  constructor(capacity: number = 64) {
    this.#numbers = new Float64Array(capacity * STATS_SLOTS);
    this.#size = 0;
    this.#reasons = [];
  }

  /** Connections added since the last `take`. */
  get size(): number {
    return this.#size;
  }

  add(stats: ConnectionStats): void {
    let numbers = this.#numbers;
    const at = this.#size * STATS_SLOTS;
    if (at + STATS_SLOTS > numbers.length) {
      const grown = new Float64Array(numbers.length * 2);
      grown.set(numbers);
      numbers = this.#numbers = grown;
    }
    numbers[at] = stats.workerId;
    numbers[at + 1] = stats.handshakeStatus;
    numbers[at + 2] = stats.bytesIn;
    numbers[at + 3] = stats.bytesOut;
    numbers[at + 4] = stats.messagesIn;
    numbers[at + 5] = stats.messagesOut;
    numbers[at + 6] = stats.closeCode;
    numbers[at + 7] = stats.closeReason === '' ? 0 : 1;
    numbers[at + 8] = stats.wasClean ? 1 : 0;
    numbers[at + 9] = stats.mailboxPauses;
    numbers[at + 10] = stats.writePauses;
    numbers[at + 11] = stats.slowConsumer ? 1 : 0;
    numbers[at + 12] = stats.closeTimedOut ? 1 : 0;
    numbers[at + 13] = stats.edgeRefusal === '' ? 0 : EDGE_REFUSALS.indexOf(stats.edgeRefusal) + 1;
    numbers[at + 14] = stats.httpRequests;
    numbers[at + 15] = stats.httpHandlerErrors;
    numbers[at + 16] = stats.httpRefusalStatus;
    numbers[at + 17] = stats.httpRequestAborted ? 1 : 0;
    numbers[at + 18] = stats.internalError ? 1 : 0;
    if (stats.closeReason !== '') this.#reasons.push(stats.closeReason);
    this.#size++;
  }

  /** The connections added since the last `take`, packed; the batch is empty afterwards. */
  take(): PackedConnectionStats {
    const packed: PackedConnectionStats = {
      numbers: this.#numbers.slice(0, this.#size * STATS_SLOTS),
      reasons: this.#reasons.length === 0 ? [] : this.#reasons.splice(0),
    };
    this.#size = 0;
    return packed;
  }
}

/** The connections of a ConnectionStatsBatch's `take`, in order, as ConnectionStats objects. */
export function unpackConnectionStats(packed: PackedConnectionStats): ConnectionStats[] {
  const { numbers, reasons } = packed;
  const list: ConnectionStats[] = [];
  let reason = 0;
  for (let i = 0; i + STATS_SLOTS <= numbers.length; i += STATS_SLOTS) {
    const refusal = numbers[i + 13] as number;
    list.push({
      workerId: numbers[i] as number,
      handshakeStatus: numbers[i + 1] as number,
      bytesIn: numbers[i + 2] as number,
      bytesOut: numbers[i + 3] as number,
      messagesIn: numbers[i + 4] as number,
      messagesOut: numbers[i + 5] as number,
      closeCode: numbers[i + 6] as number,
      closeReason: numbers[i + 7] === 1 ? (reasons[reason++] ?? '') : '',
      wasClean: numbers[i + 8] === 1,
      mailboxPauses: numbers[i + 9] as number,
      writePauses: numbers[i + 10] as number,
      slowConsumer: numbers[i + 11] === 1,
      closeTimedOut: numbers[i + 12] === 1,
      edgeRefusal: refusal === 0 ? '' : (EDGE_REFUSALS[refusal - 1] ?? ''),
      httpRequests: numbers[i + 14] as number,
      httpHandlerErrors: numbers[i + 15] as number,
      httpRefusalStatus: numbers[i + 16] as number,
      httpRequestAborted: numbers[i + 17] === 1,
      internalError: numbers[i + 18] === 1,
    });
  }
  return list;
}

/**
 * Primary to worker on a lane, besides the connections themselves, with
 * `acceptInWorkers`: listen on `host`:`port` with SO_REUSEPORT and accept
 * connections there. `open` holds one Int32 per lane, the connections open
 * on that lane's worker, then one per lane, the connections it ever accepted
 * (Atomics); `slot` is this lane's index in both. The worker refuses
 * with 503 past `maxConnectionsPerWorker` on itself or `maxConnections` over
 * all slots.
 */
export interface AcceptOrder {
  readonly type: 'accept';
  readonly host: string;
  readonly port: number;
  readonly slot: number;
  readonly open: SharedArrayBuffer;
  readonly maxConnections: number;
  readonly maxConnectionsPerWorker: number;
}
