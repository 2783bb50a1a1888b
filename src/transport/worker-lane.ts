/**
 * The piscina task each worker runs once, for as long as the worker lives:
 * it takes the sockets the primary posts on the lane's port, serves each one
 * (worker.ts), and reports the connections that ended to the primary in
 * batches.
 */
import type { Socket } from 'node:net';
import { threadId, type MessagePort } from 'node:worker_threads';
import type { TcpHandle } from './accept-handles.ts';
import type { ConnectionStats, LaneMessage, LaneTask } from './messages.ts';
import { serveSocket } from './worker.ts';

/**
 * How long ended connections wait to be reported together. A message to the
 * primary costs the worker 15-50 us (mostly waking the other thread): in a
 * connection storm one report per event-loop turn (one or two connections)
 * took a fifth of the worker's time (--cpu-prof, 32 concurrent handshakes).
 * The primary's counts of active connections lag by at most this much.
 */
export const REPORT_INTERVAL_MS = 10;

/** The worker's end of one lane. */
class WorkerLane {
  readonly #port: MessagePort;
  #ended: ConnectionStats[];
  #flushScheduled: boolean;

  constructor(port: MessagePort) {
    this.#port = port;
    this.#ended = [];
    this.#flushScheduled = false;
    port.on('message', this.#onSocket);
    const ready: LaneMessage = { type: 'ready', workerId: threadId };
    port.postMessage(ready);
  }

  /** Bound once: called for every connection the primary hands over (a TCP handle, or a socket). */
  readonly #onSocket = (received: Socket | TcpHandle): void => serveSocket(received, this.#onEnded);

  /** Bound once: called with each connection's stats when its socket has closed. */
  readonly #onEnded = (stats: ConnectionStats): void => {
    this.#ended.push(stats);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setTimeout(this.#flush, REPORT_INTERVAL_MS);
  };

  readonly #flush = (): void => {
    const message: LaneMessage = { type: 'ended', stats: this.#ended };
    this.#ended = [];
    this.#flushScheduled = false;
    this.#port.postMessage(message);
  };
}

/** piscina task: serves the lane until the worker is stopped (it never settles on its own). */
export default function runLane(task: LaneTask): Promise<void> {
  new WorkerLane(task.port);
  return new Promise<void>(() => {});
}
