/**
 * The worker's end of a lane: it takes the sockets the primary posts on the
 * lane's port, hands each to `serve`, and reports the connections that ended
 * to the primary in batches (with the message and byte counts accumulated
 * since the previous report, so the primary's totals include every byte of a
 * connection by the time it hears the connection ended). It also carries the
 * worker's periodic reports and its log lines.
 */
import type { Socket } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import type { TcpHandle } from './accept-handles.ts';
import { takeCounters, type WorkerReport } from '../telemetry/worker-metrics.ts';
import { packConnectionStats, type ConnectionStats, type LaneMessage, type PackedConnectionStats } from './messages.ts';

/**
 * How long ended connections wait to be reported together. A message to the
 * primary costs the worker 15-50 us (mostly waking the other thread): in a
 * connection storm one report per event-loop turn (one or two connections)
 * took a fifth of the worker's time (--cpu-prof, 32 concurrent handshakes).
 * The primary's counts of active connections lag by at most this much.
 */
export const REPORT_INTERVAL_MS = 10;

/** Serves one connection and calls `done` once with its stats when its socket has closed. */
export type ServeSocket = (received: Socket | TcpHandle, done: (stats: ConnectionStats) => void) => void;

export class WorkerLane {
  readonly #port: MessagePort;
  readonly #serve: ServeSocket;
  #ended: PackedConnectionStats;
  #flushScheduled: boolean;

  /** Listens on `port` and tells the primary that this worker (`workerId`) serves the lane now. */
  constructor(port: MessagePort, workerId: number, serve: ServeSocket) {
    this.#port = port;
    this.#serve = serve;
    this.#ended = [];
    this.#flushScheduled = false;
    port.on('message', this.#onSocket);
    const ready: LaneMessage = { type: 'ready', workerId };
    port.postMessage(ready);
  }

  /** Bound once: called for every connection the primary hands over (a TCP handle, or a socket). */
  readonly #onSocket = (received: Socket | TcpHandle): void => this.#serve(received, this.#onEnded);

  /** Bound once: called with each connection's stats when its socket has closed. */
  readonly #onEnded = (stats: ConnectionStats): void => {
    packConnectionStats(this.#ended, stats);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setTimeout(this.#flush, REPORT_INTERVAL_MS);
  };

  /** Posts the worker's periodic report. */
  report(report: WorkerReport): void {
    const message: LaneMessage = { type: 'report', report };
    this.#port.postMessage(message);
  }

  /** Posts a batch of log lines (JSON, one per line) to the primary. */
  postLog(lines: string): void {
    const message: LaneMessage = { type: 'log', lines };
    this.#port.postMessage(message);
  }

  readonly #flush = (): void => {
    const message: LaneMessage = { type: 'ended', stats: this.#ended, counters: takeCounters() };
    this.#ended = [];
    this.#flushScheduled = false;
    this.#port.postMessage(message);
  };
}
