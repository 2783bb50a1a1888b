/**
 * The piscina task each worker runs once, for as long as the worker lives:
 * it takes the sockets the primary posts on the lane's port, serves each one
 * (worker.ts), and reports the connections that ended to the primary, batched
 * once per event-loop turn.
 */
import type { Socket } from 'node:net';
import { threadId, type MessagePort } from 'node:worker_threads';
import type { ConnectionStats, LaneMessage, LaneTask } from './messages.ts';
import { serveSocket } from './worker.ts';

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

  /** Bound once: called for every socket the primary hands over. */
  readonly #onSocket = (socket: Socket): void => serveSocket(socket, this.#onEnded);

  /** Bound once: called with each connection's stats when its socket has closed. */
  readonly #onEnded = (stats: ConnectionStats): void => {
    this.#ended.push(stats);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(this.#flush);
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
