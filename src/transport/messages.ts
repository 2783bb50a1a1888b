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
 * ConnectionStats of ended connections in one flat array, STATS_SLOTS values
 * each (booleans as 0 and 1), as the lane's `ended` message carries them.
 * Structured cloning writes every property name of every object: an array of
 * stats objects cost the worker about 4% of its time in a connection storm
 * (the serialization in postMessage and the batch around it, --cpu-prof,
 * bench/handshake-cost.ts) and the primary as much to read back.
 */
export type PackedConnectionStats = (number | string)[];

/** Values per connection in PackedConnectionStats. */
const STATS_SLOTS = 19;

/**
 * Writes `stats` into `packed` from index `at` (over what is there, or
 * appending) and returns the index after it: a batch reused from one report
 * to the next writes into the array's existing storage instead of growing a
 * new array by pushes (the growth's copies were 7% of a worker's allocations
 * in a connection storm, sampling heap profile).
 */
export function packConnectionStatsAt(packed: PackedConnectionStats, at: number, stats: ConnectionStats): number {
  packed[at] = stats.workerId;
  packed[at + 1] = stats.handshakeStatus;
  packed[at + 2] = stats.bytesIn;
  packed[at + 3] = stats.bytesOut;
  packed[at + 4] = stats.messagesIn;
  packed[at + 5] = stats.messagesOut;
  packed[at + 6] = stats.closeCode;
  packed[at + 7] = stats.closeReason;
  packed[at + 8] = stats.wasClean ? 1 : 0;
  packed[at + 9] = stats.mailboxPauses;
  packed[at + 10] = stats.writePauses;
  packed[at + 11] = stats.slowConsumer ? 1 : 0;
  packed[at + 12] = stats.closeTimedOut ? 1 : 0;
  packed[at + 13] = stats.edgeRefusal;
  packed[at + 14] = stats.httpRequests;
  packed[at + 15] = stats.httpHandlerErrors;
  packed[at + 16] = stats.httpRefusalStatus;
  packed[at + 17] = stats.httpRequestAborted ? 1 : 0;
  packed[at + 18] = stats.internalError ? 1 : 0;
  return at + STATS_SLOTS;
}

/** The connections packed by packConnectionStatsAt, in order, as ConnectionStats objects. */
export function unpackConnectionStats(packed: PackedConnectionStats): ConnectionStats[] {
  const list: ConnectionStats[] = [];
  for (let i = 0; i + STATS_SLOTS <= packed.length; i += STATS_SLOTS) {
    list.push({
      workerId: packed[i] as number,
      handshakeStatus: packed[i + 1] as number,
      bytesIn: packed[i + 2] as number,
      bytesOut: packed[i + 3] as number,
      messagesIn: packed[i + 4] as number,
      messagesOut: packed[i + 5] as number,
      closeCode: packed[i + 6] as number,
      closeReason: packed[i + 7] as string,
      wasClean: packed[i + 8] === 1,
      mailboxPauses: packed[i + 9] as number,
      writePauses: packed[i + 10] as number,
      slowConsumer: packed[i + 11] === 1,
      closeTimedOut: packed[i + 12] === 1,
      edgeRefusal: packed[i + 13] as EdgeRefusal | '',
      httpRequests: packed[i + 14] as number,
      httpHandlerErrors: packed[i + 15] as number,
      httpRefusalStatus: packed[i + 16] as number,
      httpRequestAborted: packed[i + 17] === 1,
      internalError: packed[i + 18] === 1,
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
