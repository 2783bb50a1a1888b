/**
 * The worker's end of a lane: it takes the sockets the primary posts on the
 * lane's port, hands each to `serve`, and reports the connections that ended
 * to the primary in batches (with the message and byte counts accumulated
 * since the previous report, so the primary's totals include every byte of a
 * connection by the time it hears the connection ended). It also carries the
 * worker's periodic reports and its log lines and, with `acceptInWorkers`,
 * the primary's order to accept on its port and the counts of the
 * connections the worker accepted and refused itself (in the same batches).
 */
import type { Socket } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import type { TcpHandle } from './accept-handles.ts';
import { takeCounters, type WorkerReport } from '../telemetry/worker-metrics.ts';
import { ConnectionStatsBatch, type AcceptOrder, type ConnectionStats, type LaneMessage } from './messages.ts';

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
  readonly #onAcceptOrder: (order: AcceptOrder) => void;
  /** Stats of the connections ended since the last batch. */
  readonly #ended: ConnectionStatsBatch;
  #accepted: number;
  #refused: number;
  #flushScheduled: boolean;

  /**
   * Listens on `port` and tells the primary that this worker (`workerId`)
   * serves the lane now. `onAcceptOrder` is called when the primary asks the
   * worker to accept connections itself (`acceptInWorkers`).
   */
  constructor(port: MessagePort, workerId: number, serve: ServeSocket, onAcceptOrder: (order: AcceptOrder) => void = () => {}) {
    this.#port = port;
    this.#serve = serve;
    this.#onAcceptOrder = onAcceptOrder;
    this.#ended = new ConnectionStatsBatch();
    this.#accepted = 0;
    this.#refused = 0;
    this.#flushScheduled = false;
    port.on('message', this.#onSocket);
    const ready: LaneMessage = { type: 'ready', workerId };
    port.postMessage(ready);
  }

  /** Bound once: called for every connection the primary hands over (a TCP handle, or a socket), and for an accept order. */
  readonly #onSocket = (received: Socket | TcpHandle | AcceptOrder): void => {
    if ((received as AcceptOrder).type === 'accept') this.#onAcceptOrder(received as AcceptOrder);
    else this.#serve(received as Socket | TcpHandle, this.connectionEnded);
  };

  /** Bound once: called with each connection's stats when its socket has closed. */
  readonly connectionEnded = (stats: ConnectionStats): void => {
    this.#ended.add(stats);
    this.#scheduleFlush();
  };

  /** A connection the worker accepted itself (reported with the next batch). */
  countAccepted(): void {
    this.#accepted++;
    this.#scheduleFlush();
  }

  /** A connection the worker refused itself with 503 (reported with the next batch). */
  countRefused(): void {
    this.#refused++;
    this.#scheduleFlush();
  }

  /** The worker listens on the primary's address now. */
  accepting(): void {
    const message: LaneMessage = { type: 'accepting' };
    this.#port.postMessage(message);
  }

  /** The worker could not listen on the primary's address. */
  acceptFailed(reason: string): void {
    const message: LaneMessage = { type: 'accept-failed', message: reason };
    this.#port.postMessage(message);
  }

  /** The worker closed its listener: reports what it counted so far, then says so. */
  stoppedAccepting(): void {
    this.#flush();
    const message: LaneMessage = { type: 'stopped-accepting' };
    this.#port.postMessage(message);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setTimeout(this.#flush, REPORT_INTERVAL_MS);
  }

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
    const stats = this.#ended.take();
    const message: LaneMessage = { type: 'ended', stats, counters: takeCounters(), accepted: this.#accepted, refused: this.#refused };
    this.#accepted = 0;
    this.#refused = 0;
    this.#flushScheduled = false;
    // The numbers' buffer moves to the primary (a copy made for it) rather than being copied again by the serializer.
    this.#port.postMessage(message, [stats.numbers.buffer]);
  };
}
