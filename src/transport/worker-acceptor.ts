/**
 * A worker that accepts connections itself (`acceptInWorkers`): it listens
 * on the primary's address with SO_REUSEPORT, so the kernel spreads new
 * connections over the workers' listeners and the primary is off the path
 * of every connection (no hand-off: bench/handshake-cost.ts measured the
 * primary's ~11 us per handshake gone and the total 11% lower, docs/measurements.md,
 * "Against bare Node"). The limits the primary applies otherwise are
 * applied here: past `maxConnectionsPerWorker` on this worker or
 * `maxConnections` over all workers (one Int32 per lane in shared memory)
 * the connection gets the primary's 503; there is no accept backlog beyond
 * the kernel's.
 */
import { createServer, type Server } from 'node:net';
import type { ConnectionStats, AcceptOrder } from './messages.ts';
import { acceptHandles, CONNECTION_LIMIT_REASON, refuseConnection, type AcceptedConnection } from './accept-handles.ts';
import type { ConnectionHost } from './connection-host.ts';
import type { WorkerLane } from './worker-lane.ts';

export class WorkerAcceptor {
  readonly #server: Server;
  readonly #open: Int32Array;
  readonly #slot: number;
  readonly #order: AcceptOrder;
  readonly #host: ConnectionHost;
  readonly #lane: WorkerLane;
  readonly #closeTimeoutMs: number;
  #stopped: boolean;

  /** Starts listening on the order's address; the lane reports `accepting` or `accept-failed`. */
  constructor(order: AcceptOrder, host: ConnectionHost, lane: WorkerLane, closeTimeoutMs: number) {
    this.#order = order;
    this.#open = new Int32Array(order.open);
    this.#slot = order.slot;
    this.#host = host;
    this.#lane = lane;
    this.#closeTimeoutMs = closeTimeoutMs;
    this.#stopped = false;
    this.#server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.#accept(socket));
    const onListenError = (error: Error): void => lane.acceptFailed(error.message);
    this.#server.once('error', onListenError);
    this.#server.listen({ host: order.host, port: order.port, reusePort: true }, () => {
      this.#server.off('error', onListenError);
      // Accept errors (EMFILE) leave the listener up; the server keeps accepting once descriptors free up.
      this.#server.on('error', () => {});
      acceptHandles(this.#server, (handle) => this.#accept(handle));
      lane.accepting();
    });
  }

  /** Shutdown: stop accepting (new clients are refused by the kernel) and tell the primary. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#server.close();
    this.#lane.stoppedAccepting();
  }

  #accept(connection: AcceptedConnection): void {
    const open = this.#open;
    const order = this.#order;
    const workers = open.length / 2;
    let total = 0;
    for (let i = 0; i < workers; i++) total += Atomics.load(open, i);
    // Workers check and count without a lock: racing on the last places they can overshoot by one each.
    if (total >= order.maxConnections || Atomics.load(open, this.#slot) >= order.maxConnectionsPerWorker) {
      refuseConnection(connection, CONNECTION_LIMIT_REASON, this.#closeTimeoutMs);
      this.#lane.countRefused();
      return;
    }
    Atomics.add(open, this.#slot, 1);
    Atomics.add(open, workers + this.#slot, 1);
    this.#lane.countAccepted();
    this.#host.serve(connection, this.#ended);
  }

  /** Shared by every connection: one less open here, and its stats to the lane. */
  readonly #ended = (stats: ConnectionStats): void => {
    Atomics.sub(this.#open, this.#slot, 1);
    this.#lane.connectionEnded(stats);
  };
}
