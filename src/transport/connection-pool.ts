/**
 * The primary's side of the worker pool. piscina runs the worker threads
 * (start, crash replacement); each worker runs one long-lived lane task
 * (src/workers/connection-worker.ts, serving it with worker-lane.ts) that
 * receives sockets on a MessagePort and reports the
 * connections that ended. The pool hands each accepted socket to the lane
 * with the fewest connections (least-connections balancing), keeps sockets in
 * a bounded backlog while every lane is full or starting, and counts a dead
 * worker's connections as lost before opening its lane again on the
 * replacement worker.
 *
 * Lanes replace one piscina task per connection. In a connection storm
 * (`shoal bench --scenarios connect`, --cpu-prof of both threads) piscina's
 * per-task work (task records, async resources, balancer views, histograms,
 * the task envelope and its result message) was a fifth of the primary's CPU
 * and a tenth of the worker's; an idle connection kept about 0.9 KB in the
 * primary (the task record and its promise) and 1 KB in the worker (the
 * task's message and suspended async function) alive (heap snapshots of
 * 1,000 and 5,000 idle connections).
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Transferable } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from '../telemetry/logger.ts';
import type { WorkerCounters, WorkerGauges, WorkerReport } from '../telemetry/worker-metrics.ts';
import { dropConnection, type AcceptedConnection } from './accept-handles.ts';
import { applyExternalMemoryPolicy } from './external-memory-policy.ts';
import { unpackConnectionStats, type AcceptOrder, type ConnectionStats, type LaneMessage, type LaneTask, type WorkerConfig, type WorkerLoad } from './messages.ts';

/** How the pool is sized. */
export interface ConnectionPoolOptions {
  readonly workers: number;
  readonly maxConnectionsPerWorker: number;
  /** Sockets waiting for a lane with room; past it `dispatch` refuses. */
  readonly acceptBacklog: number;
  readonly workerData: WorkerConfig;
  /** URL of the worker entry module whose default export serves a lane (src/workers/connection-worker.ts). */
  readonly workerFilename: string;
  /** Where the pool's own lines go (a worker error). */
  readonly logger: Logger;
  /** Workers accept connections themselves once `startAccepting` is called (worker-acceptor.ts). */
  readonly acceptInWorkers?: boolean;
  /** With `acceptInWorkers`: the limit over all workers that each worker checks. */
  readonly maxConnections?: number;
}

/** What the pool reports to its owner (the primary). */
export interface PoolListener {
  /** A connection's socket closed in its worker. Called once per dispatched connection, unless it was lost. */
  connectionEnded(stats: ConnectionStats): void;
  /** A worker died with `count` connections that had been handed to it and had not ended. */
  connectionsLost(count: number, error: unknown): void;
  /** A connection could not be posted to a worker; it has been closed. */
  transferFailed(error: unknown): void;
  /** Message and byte counts a worker accumulated since its previous report (open connections included). */
  counted(counters: WorkerCounters): void;
  /** A worker's periodic report (its counters are passed to `counted` first). */
  reported(workerId: number, report: WorkerReport): void;
  /** Log lines of a worker: JSON, one per line, each with its newline. */
  logged(lines: string): void;
  /** With `acceptInWorkers`: connections a worker accepted itself, and those it refused with 503 (before their `connectionEnded`). */
  acceptedByWorker?(accepted: number, refused: number): void;
}

/** What the balancer sees of a lane. */
export interface LaneLoad {
  /** The lane's worker is listening (it said so on the lane). */
  readonly up: boolean;
  /** Connections handed to the lane that have not ended. */
  readonly active: number;
}

/**
 * The balancer: the index of the lane with the fewest connections among those
 * that are up and under `limit`, the first such on a tie; -1 when none has room.
 */
export function pickLane(lanes: readonly LaneLoad[], limit: number): number {
  let best = -1;
  let fewest = limit;
  for (let i = 0; i < lanes.length; i++) {
    const lane = lanes[i] as LaneLoad;
    if (lane.up && lane.active < fewest) {
      best = i;
      fewest = lane.active;
    }
  }
  return best;
}

/**
 * Cap on a worker's young generation (V8's default lets it grow to 48 MB).
 * The objects of every new connection survive a scavenge, so a burst of
 * connections grows the young generation to its maximum, and the pages stay
 * resident. RSS growth per idle connection after 5,000 (`shoal bench
 * --scenarios idle --idle-connections 5000`): 1 worker 5.3 KiB with V8's
 * default, 4.2 KiB with 24 MB, 4.0 KiB with 16 MB, 2.9 KiB with 12 MB;
 * 2 workers 7.1 KiB with 16 MB, 4.3 KiB with 12 MB (8 MB saves nothing more).
 * Steady traffic keeps the young generation small anyway: 2 million 32-byte
 * echoes took 95 scavenges with the default and 92-99 with 12-24 MB; rpc
 * took as many scavenges per message with 8-16 MB as with the default; a
 * connection storm took 75 scavenges instead of 41 (16 MB) in about the same
 * total time (--trace-gc, shared machine).
 */
export const WORKER_YOUNG_GENERATION_MB = 12;

/** One worker's lane, as the primary sees it; replaced by a new one when its worker dies. */
class Lane implements LaneLoad {
  readonly port: MessagePort;
  up: boolean;
  active: number;
  /** threadId of the worker serving the lane, 0 until it is up. */
  workerId: number;
  /** The gauges of the worker's latest report; null before the first. */
  gauges: WorkerGauges | null;
  /** performance.now() of the latest message from the worker (its reports come every 0.5 s). */
  heardAt: number;
  /** With `acceptInWorkers`: the worker listens itself / closed its listener at shutdown. */
  accepting: boolean;
  stoppedAccepting: boolean;
  /** Connections the worker reported it accepted itself (its `ended` batches). */
  reportedAccepted: number;

  constructor(port: MessagePort) {
    this.port = port;
    this.up = false;
    this.active = 0;
    this.workerId = 0;
    this.gauges = null;
    this.heardAt = 0;
    this.accepting = false;
    this.stoppedAccepting = false;
    this.reportedAccepted = 0;
  }
}

/**
 * The pool. Await `ready`, call `dispatch` for each accepted socket,
 * `takeQueued` when shutting down (the caller answers those sockets), then
 * `destroy`.
 */
export class ConnectionPool {
  readonly options: ConnectionPoolOptions;
  /**
   * Resolves once every worker serves its lane (the app is loaded and
   * connections spread over all workers from the first one); rejects when a
   * worker dies before that.
   */
  readonly ready: Promise<void>;
  #starting: PromiseWithResolvers<void> | null;
  #lanesUp: number;
  #pool: Piscina<LaneTask, void>;
  #listener: PoolListener;
  #lanes: Lane[];
  #backlog: AcceptedConnection[];
  #destroying: boolean;
  /**
   * With `acceptInWorkers`, shared with the workers (AcceptOrder): one Int32
   * per lane, the connections open on its worker, then one per lane, the
   * connections its worker ever accepted (to count, when a worker dies, those
   * it had not reported yet).
   */
  readonly #open: SharedArrayBuffer;
  /** The address workers accept on, once `startAccepting` was called. */
  #acceptAt: { host: string; port: number } | null;
  #acceptWaiter: PromiseWithResolvers<void> | null;
  #stopWaiter: PromiseWithResolvers<void> | null;
  #shuttingDown: boolean;

  constructor(options: ConnectionPoolOptions, listener: PoolListener) {
    this.options = options;
    this.#listener = listener;
    this.#backlog = [];
    this.#destroying = false;
    this.#open = new SharedArrayBuffer(8 * options.workers);
    this.#acceptAt = null;
    this.#acceptWaiter = null;
    this.#stopWaiter = null;
    this.#shuttingDown = false;
    this.#starting = Promise.withResolvers<void>();
    this.ready = this.#starting.promise;
    // Handled here too: an owner that never awaits `ready` must not see an unhandled rejection.
    this.ready.catch(() => {});
    this.#lanesUp = 0;
    // Before the workers' isolates exist: V8 flags are process-wide.
    applyExternalMemoryPolicy();
    this.#pool = new Piscina<LaneTask, void>({
      filename: options.workerFilename,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: Infinity,
      // One lane per worker: the least-busy worker for a lane task is one without a lane.
      concurrentTasksPerWorker: 1,
      // Lane tasks wait here for a replacement worker to start.
      maxQueue: options.workers,
      // Workers must never block in Atomics.wait: their connections live between messages.
      atomics: 'disabled',
      recordTiming: false,
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      workerData: options.workerData,
    });
    // Without a listener, a worker error with no task in flight would crash the primary.
    this.#pool.on('error', (error: unknown) => options.logger.error({ err: error }, 'worker error'));
    this.#lanes = [];
    for (let i = 0; i < options.workers; i++) this.#openLane(i);
  }

  /** The worker threads (piscina replaces crashed ones). */
  get threads(): readonly { threadId: number }[] {
    return this.#pool.threads;
  }

  /** Sockets waiting in the backlog. */
  get queued(): number {
    return this.#backlog.length;
  }

  /** Each worker that serves its lane, with the connections handed to it that have not ended and its latest gauges. */
  workerLoads(): WorkerLoad[] {
    const loads: WorkerLoad[] = [];
    for (const lane of this.#lanes) if (lane.up) loads.push({ workerId: lane.workerId, connections: lane.active, gauges: lane.gauges });
    return loads;
  }

  /**
   * True when every worker serves its lane and has been heard from within
   * `withinMs` (a worker whose event loop is stuck stops reporting).
   */
  allServing(withinMs: number): boolean {
    const now = performance.now();
    for (const lane of this.#lanes) if (!lane.up || now - lane.heardAt > withinMs) return false;
    return this.#lanes.length > 0;
  }

  /**
   * Hands `connection` (accepted, unread) to the least-loaded lane, or
   * queues it when no lane has room. Returns false, leaving the connection
   * to the caller, when the backlog is full.
   */
  dispatch(connection: AcceptedConnection): boolean {
    if (this.#backlog.length === 0) {
      const index = pickLane(this.#lanes, this.options.maxConnectionsPerWorker);
      if (index >= 0) {
        this.#send(this.#lanes[index] as Lane, connection);
        return true;
      }
    }
    if (this.#backlog.length >= this.options.acceptBacklog) return false;
    this.#backlog.push(connection);
    return true;
  }

  /** Removes and returns every queued connection (the caller refuses them). */
  takeQueued(): AcceptedConnection[] {
    return this.#backlog.splice(0);
  }

  /**
   * `acceptInWorkers`: every worker listens on `host`:`port` (SO_REUSEPORT)
   * and accepts connections itself, replacements too; resolves once all
   * do, rejects with the first worker's listen error.
   */
  startAccepting(host: string, port: number): Promise<void> {
    this.#acceptAt = { host, port };
    this.#acceptWaiter = Promise.withResolvers<void>();
    const started = this.#acceptWaiter.promise;
    for (let i = 0; i < this.#lanes.length; i++) {
      const lane = this.#lanes[i] as Lane;
      if (lane.up) this.#orderAccept(i, lane);
    }
    return started;
  }

  /**
   * Resolves once every worker that accepts has closed its listener and
   * reported its last accepted connections (they stop on the shutdown
   * broadcast); at once without `acceptInWorkers`.
   */
  stoppedAccepting(): Promise<void> {
    // A replacement worker that starts from now on is not told to accept (it missed the shutdown broadcast).
    this.#shuttingDown = true;
    if (this.#acceptAt === null || this.#allStopped()) return Promise.resolve();
    this.#stopWaiter ??= Promise.withResolvers<void>();
    return this.#stopWaiter.promise;
  }

  #allStopped(): boolean {
    for (const lane of this.#lanes) if (lane.up && lane.accepting && !lane.stoppedAccepting) return false;
    return true;
  }

  #orderAccept(index: number, lane: Lane): void {
    const at = this.#acceptAt as { host: string; port: number };
    const order: AcceptOrder = {
      type: 'accept',
      host: at.host,
      port: at.port,
      slot: index,
      open: this.#open,
      maxConnections: this.options.maxConnections ?? Number.MAX_SAFE_INTEGER,
      maxConnectionsPerWorker: this.options.maxConnectionsPerWorker,
    };
    lane.port.postMessage(order);
  }

  /** Stops the workers; connections still open in them are dropped. */
  async destroy(): Promise<void> {
    this.#destroying = true;
    await this.#pool.destroy();
    for (const lane of this.#lanes) lane.port.close();
  }

  #send(lane: Lane, connection: AcceptedConnection): void {
    lane.active++;
    try {
      lane.port.postMessage(connection, [connection as unknown as Transferable]);
    } catch (error) {
      lane.active--;
      dropConnection(connection);
      this.#listener.transferFailed(error);
    }
  }

  /** Opens lane `index` on a fresh channel and starts its task; piscina runs it on a worker without a lane. */
  #openLane(index: number): void {
    const { port1, port2 } = new MessageChannel();
    const lane = new Lane(port1);
    this.#lanes[index] = lane;
    port1.on('message', (message: LaneMessage) => this.#received(lane, message));
    // The listening server keeps the process alive, not the lanes.
    port1.unref();
    const task: LaneTask = { port: port2 };
    this.#pool.run(task, { transferList: [port2] as never }).then(
      () => this.#closed(index, lane, new Error('lane task returned')),
      (error: unknown) => this.#closed(index, lane, error),
    );
  }

  #received(lane: Lane, message: LaneMessage): void {
    lane.heardAt = performance.now();
    switch (message.type) {
      case 'ready':
        lane.up = true;
        lane.workerId = message.workerId;
        if (this.#acceptAt !== null && !this.#shuttingDown) this.#orderAccept(this.#lanes.indexOf(lane), lane);
        if (this.#starting !== null && ++this.#lanesUp === this.options.workers) {
          this.#starting.resolve();
          this.#starting = null;
        }
        break;
      case 'ended':
        this.#ended(lane, message);
        break;
      case 'accepting':
        lane.accepting = true;
        if (this.#acceptWaiter !== null && this.#lanes.every((each) => each.accepting)) {
          this.#acceptWaiter.resolve();
          this.#acceptWaiter = null;
        }
        return;
      case 'accept-failed':
        if (this.#acceptWaiter !== null) {
          this.#acceptWaiter.reject(new Error(`a worker could not listen on ${this.#acceptAt?.host}:${this.#acceptAt?.port}: ${message.message}`));
          this.#acceptWaiter = null;
        } else {
          this.options.logger.error({ reason: message.message }, 'a replacement worker could not listen; it takes no connections');
        }
        return;
      case 'stopped-accepting':
        lane.stoppedAccepting = true;
        if (this.#stopWaiter !== null && this.#allStopped()) {
          this.#stopWaiter.resolve();
          this.#stopWaiter = null;
        }
        return;
      case 'report':
        lane.gauges = message.report.gauges;
        this.#listener.counted(message.report.counters);
        this.#listener.reported(lane.workerId, message.report);
        return;
      case 'log':
        this.#listener.logged(message.lines);
        return;
    }
    this.#drainBacklog();
  }

  #acceptedByWorker(lane: Lane, accepted: number, refused: number): void {
    if (accepted === 0 && refused === 0) return;
    lane.active += accepted;
    lane.reportedAccepted += accepted;
    this.#listener.acceptedByWorker?.(accepted, refused);
  }

  /** A worker's batch of ended connections: their counters, what it accepted itself, then each connection. */
  #ended(lane: Lane, message: Extract<LaneMessage, { type: 'ended' }>): void {
    const listener = this.#listener;
    listener.counted(message.counters);
    this.#acceptedByWorker(lane, message.accepted, message.refused);
    for (const stats of unpackConnectionStats(message.stats)) {
      lane.active--;
      listener.connectionEnded(stats);
    }
  }

  /** Lane `index`'s task ended: its worker died (or the pool is being destroyed). */
  #closed(index: number, lane: Lane, error: unknown): void {
    if (this.#destroying || this.#lanes[index] !== lane) return;
    if (this.#starting !== null) {
      this.#starting.reject(new Error('a worker stopped before it could serve connections', { cause: error }));
      this.#starting = null;
    }
    lane.up = false;
    // Reports the worker posted before it died still count as ended.
    const port = lane.port;
    for (let entry = receiveMessageOnPort(port); entry !== undefined; entry = receiveMessageOnPort(port)) {
      const message = entry.message as LaneMessage;
      if (message.type === 'ended') {
        this.#ended(lane, message);
      } else if (message.type === 'report') {
        this.#listener.counted(message.report.counters);
        this.#listener.reported(lane.workerId, message.report);
      } else if (message.type === 'log') {
        this.#listener.logged(message.lines);
      }
    }
    port.close();
    if (this.#acceptAt !== null) {
      // Connections the worker accepted but had not reported (its batch never left): accepted, and lost with the rest.
      const shared = new Int32Array(this.#open);
      const workers = this.options.workers;
      const unreported = (Atomics.load(shared, workers + index) - lane.reportedAccepted) | 0;
      if (unreported > 0) this.#acceptedByWorker(lane, unreported, 0);
      // The replacement starts from zero; the dead worker's connections no longer count against the limit.
      Atomics.store(shared, index, 0);
      Atomics.store(shared, workers + index, 0);
    }
    this.#openLane(index);
    if (lane.active > 0) this.#listener.connectionsLost(lane.active, error);
    if (this.#stopWaiter !== null && this.#allStopped()) {
      this.#stopWaiter.resolve();
      this.#stopWaiter = null;
    }
  }

  #drainBacklog(): void {
    const backlog = this.#backlog;
    while (backlog.length > 0) {
      const index = pickLane(this.#lanes, this.options.maxConnectionsPerWorker);
      if (index < 0) return;
      this.#send(this.#lanes[index] as Lane, backlog.shift() as AcceptedConnection);
    }
  }
}
