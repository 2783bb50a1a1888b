/**
 * This thread's live metrics, as plain numbers: the hot path adds to
 * `workerCounters` and observes into `workerHistograms` (an increment or a
 * short bucket scan, no allocation, no message), and the worker's reporter
 * takes what accumulated and posts it to the primary at most every
 * REPORT_INTERVAL_MS (workers/worker-reporter.ts), which adds it up for
 * /metrics. In the primary and in unit tests these counters just grow.
 */
import type { BrokerStatus } from './broker-stats.ts';
import { HistogramFamily, type HistogramDelta } from './histogram.ts';
import { HANDSHAKE_DURATION, PUBLICATION_FANOUT, PUBLICATION_WRITE_DELAY, REQUEST_DURATION } from './metric-definitions.ts';

/** Message and byte counts, since the previous report (a delta). */
export interface WorkerCounters {
  messagesIn: number;
  messagesOut: number;
  /** Wire bytes. */
  bytesIn: number;
  bytesOut: number;
}

/** What a worker measures of itself at a report. */
export interface WorkerGauges {
  /** Live connections in any phase. */
  connections: number;
  /** Messages waiting in the connections' mailboxes. */
  mailboxDepth: number;
  /** Bytes waiting in the connections' send buffers. */
  sendBufferBytes: number;
  /** Publications forwarded to other workers and not acknowledged yet, in bytes. */
  pubsubBacklogBytes: number;
  /** Event-loop delay over the report interval (monitorEventLoopDelay), seconds. */
  eventLoopLagMeanSeconds: number;
  eventLoopLagP99Seconds: number;
  eventLoopLagMaxSeconds: number;
  /** Share of the interval the event loop was busy, 0..1 (performance.eventLoopUtilization). */
  eventLoopUtilization: number;
  /** The worker's broker connections: state, and counters since the worker started; null on a single node. */
  broker: BrokerStatus | null;
}

/** One report of a worker: what accumulated since the previous one, and its gauges now. */
export interface WorkerReport {
  readonly counters: WorkerCounters;
  readonly histograms: readonly HistogramDelta[];
  readonly gauges: WorkerGauges;
}

/** Counts since the last `takeCounters`; add to them directly. */
export const workerCounters: WorkerCounters = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };

/** Returns the counts since the previous call and starts again from zero. */
export function takeCounters(): WorkerCounters {
  const taken = { ...workerCounters };
  workerCounters.messagesIn = 0;
  workerCounters.messagesOut = 0;
  workerCounters.bytesIn = 0;
  workerCounters.bytesOut = 0;
  return taken;
}

/** The histograms of this thread. */
export const workerHistograms = {
  handshake: new HistogramFamily(HANDSHAKE_DURATION),
  request: new HistogramFamily(REQUEST_DURATION),
  fanout: new HistogramFamily(PUBLICATION_FANOUT),
  writeDelay: new HistogramFamily(PUBLICATION_WRITE_DELAY),
} as const;

/** What every histogram collected since the previous call. */
export function takeHistograms(): HistogramDelta[] {
  const deltas: HistogramDelta[] = [];
  for (const family of Object.values(workerHistograms)) family.drain(deltas);
  return deltas;
}

/** Milliseconds since the Unix epoch with sub-millisecond precision, comparable between the threads of a process. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}
