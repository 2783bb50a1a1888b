/**
 * Everything the main thread and the generator threads say to each other, in
 * one place. Times are epoch milliseconds (performance.timeOrigin +
 * performance.now()), comparable across threads.
 */
import type { ConnectTarget } from './bench-connection.ts';

/**
 * Scenarios that run on the generator threads (`reject` is the http
 * scenario's rejected-upgrade flood; `socketio-broadcast` is the broadcast
 * driver on Socket.IO's wire, for the cross-node scenario's Socket.IO peer).
 */
export type SocketScenarioKind = 'echo' | 'rpc' | 'broadcast' | 'raw-broadcast' | 'socketio-broadcast' | 'connect' | 'idle' | 'reject';

/** A generator thread's share of one scenario run (passed as workerData). */
export interface ThreadSetup {
  threadIndex: number;
  threadCount: number;
  kind: SocketScenarioKind;
  target: ConnectTarget;
  /** Broadcast scenarios: where publishers connect when not to `target` (another node: cross-node), else null. */
  publisherTarget: ConnectTarget | null;
  /** Broadcast scenarios: this thread's publications per second in total, paced; 0 = as fast as answers come back. */
  publishRate: number;
  /** Connections this thread opens (echo, rpc, idle), or concurrent loops (connect, reject). */
  connections: number;
  /** broadcast: subscribers and publishers of this thread. */
  subscribers: number;
  publishers: number;
  /** Messages in flight per connection (echo, rpc, broadcast publishers). */
  inflight: number;
  /** Payload bytes (echo; broadcast padding). */
  payloadBytes: number;
  /** This thread's share of the run's message cap: it stops sending once it has sent this many. */
  maxMessages: number;
  /** A request without an answer for this long counts as a timeout and ends its connection. */
  timeoutMs: number;
  /** How many handshakes may be under way at once while connecting (setup of echo/rpc/idle/broadcast). */
  connectConcurrency: number;
}

/** The measured window, sent once every thread reported `ready`. */
export interface RunSchedule {
  type: 'run';
  /** Start sending. */
  startAt: number;
  /** End of warm-up: counters and histogram reset here. */
  measureAt: number;
  /** End of the measured window: stop sending, drain, close, report. */
  endAt: number;
}

/** Main -> thread. */
export type ToThread = RunSchedule | { type: 'abort' };

/** Error counters; a connection contributes at most one. */
export interface ErrorCounts {
  handshakeFailures: number;
  unexpectedCloses: number;
  protocolErrors: number;
  timeouts: number;
}

/** One thread's result. */
export interface ThreadResult {
  type: 'result';
  threadIndex: number;
  /** Messages (round trips, deliveries, handshakes) completed inside the measured window. */
  messages: number;
  /** Payload bytes received inside the window. */
  bytes: number;
  /** Secondary count inside the window (broadcast: publish requests answered). */
  secondary: number;
  /** Compressed base64 HDR histogram of latencies in microseconds. */
  histogram: string;
  errors: ErrorCounts;
  /** The first few distinct failure reasons, for the report. */
  errorSamples: string[];
  /** Connections open at the end of the window. */
  openAtEnd: number;
  /** This thread's CPU time inside the window (process.threadCpuUsage), microseconds. */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Actual window length, ms. */
  windowMs: number;
  /** True when the thread hit its message cap before the window ended. */
  hitMessageCap: boolean;
}

/** Thread -> main. */
export type FromThread =
  | { type: 'ready'; threadIndex: number; open: number; errors: ErrorCounts }
  | { type: 'progress'; threadIndex: number; messages: number }
  | ThreadResult
  | { type: 'fatal'; threadIndex: number; message: string };
