/**
 * The primary thread: accepts TCP connections without reading a byte and
 * hands each socket to the worker pool (connection-pool.ts: the worker with
 * the fewest connections, or a bounded backlog). It answers 503 itself when
 * the server is full, and drives graceful shutdown. With `acceptInWorkers`
 * it only binds the port: the workers listen on it too (SO_REUSEPORT) and
 * accept their connections themselves (worker-acceptor.ts), and the primary
 * closes its own listener once they all do.
 */
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { BroadcastChannel } from 'node:worker_threads';
import { CloseCode } from '../protocol/constants.ts';
import { HistogramTotals } from '../telemetry/histogram.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { WorkerCounters, WorkerReport } from '../telemetry/worker-metrics.ts';
import { acceptHandles, CONNECTION_LIMIT_REASON, refuseConnection, type AcceptedConnection } from './accept-handles.ts';
import { ConnectionPool } from './connection-pool.ts';
import type { ConnectionStats, ControlMessage, WorkerConfig, WorkerLoad } from './messages.ts';

/** What the primary needs besides the per-worker configuration. */
export interface PrimaryOptions {
  readonly host: string;
  readonly port: number;
  readonly workers: number;
  readonly maxConnectionsPerWorker: number;
  readonly maxConnections: number;
  readonly acceptBacklog: number;
  /**
   * Workers accept connections themselves on the primary's port (SO_REUSEPORT,
   * transport/worker-acceptor.ts) instead of the primary handing each one over.
   */
  readonly acceptInWorkers?: boolean;
  readonly drainTimeoutMs: number;
  /** How long a refused socket may linger before it is destroyed. */
  readonly closeTimeoutMs: number;
  readonly worker: Omit<WorkerConfig, 'controlChannel'>;
  /** URL of the connection worker's entry module (src/workers/entry-urls.ts). */
  readonly workerFilename: string;
  /** The primary's own lines. */
  readonly logger: Logger;
  /** Writes the workers' log lines (JSON, one per line) where the server's lines go. */
  readonly workerLines: (lines: string) => void;
}

/** Counters of the primary (since start). */
export interface PrimaryStats {
  /** TCP connections accepted. */
  accepted: number;
  /** Connections handed to the pool and not finished yet (queued ones included). */
  active: number;
  /** Connections refused with 503 by the primary (connection cap or full backlog). */
  rejected: number;
  /** Of `rejected`: over `maxConnections`. */
  rejectedConnectionLimit: number;
  /** Of `rejected`: the accept backlog was full. */
  rejectedBacklog: number;
  /** Of `rejected`: arrived while shutting down. */
  rejectedShutdown: number;
  /** Sockets that could not be transferred to a worker. */
  transferFailures: number;
  /** Connections lost because their worker died. */
  lostToWorkerExit: number;
  /** Connections that ended and whose stats their worker reported. */
  completed: number;
  /** Finished connections closed by the slow-consumer policy. */
  slowConsumers: number;
  /** Times finished connections paused reading for a full mailbox. */
  mailboxPauses: number;
  /**
   * Messages and wire bytes of every connection, open ones included: the
   * workers report what they counted every 0.5 s and with each batch of
   * ended connections.
   */
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** Reason body of the 503s the primary sends. */
export const REJECT_FULL = CONNECTION_LIMIT_REASON;
export const REJECT_BACKLOG = 'server is busy: accept backlog full';
export const REJECT_SHUTDOWN = 'server is shutting down';

let channelCounter = 0;

/** All-zero primary counters: a new Primary's starting stats (also what tests build fakes from). */
export function emptyPrimaryStats(): PrimaryStats {
  return {
    accepted: 0,
    active: 0,
    rejected: 0,
    rejectedConnectionLimit: 0,
    rejectedBacklog: 0,
    rejectedShutdown: 0,
    transferFailures: 0,
    lostToWorkerExit: 0,
    completed: 0,
    slowConsumers: 0,
    mailboxPauses: 0,
    messagesIn: 0,
    messagesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
}

/**
 * The acceptor and the pool. Events: `connectionEnd` (ConnectionStats) for
 * every finished connection (reported in batches by its worker's lane),
 * `connectionLost` (the worker's error) for every connection that was on a
 * worker when it died, `error` for listen errors.
 */
export class Primary extends EventEmitter {
  readonly options: PrimaryOptions;
  readonly stats: PrimaryStats;
  /** The workers' histograms, summed (server/metrics.ts serves them). */
  readonly histograms: HistogramTotals;
  #server: Server;
  #pool: ConnectionPool;
  #control: BroadcastChannel;
  /** Name of this server's control channel; its workers' channels start with it. */
  readonly controlChannel: string;
  #closing: Promise<void> | null;
  #forced: boolean;
  #idleWaiters: (() => void)[];

  constructor(options: PrimaryOptions) {
    super();
    this.options = options;
    this.stats = emptyPrimaryStats();
    this.histograms = new HistogramTotals();
    const controlChannel = `shoal.control.${process.pid}.${++channelCounter}.${Date.now()}`;
    this.controlChannel = controlChannel;
    this.#control = new BroadcastChannel(controlChannel);
    this.#control.unref();
    this.#pool = new ConnectionPool(
      {
        workers: options.workers,
        maxConnectionsPerWorker: options.maxConnectionsPerWorker,
        acceptBacklog: options.acceptBacklog,
        workerData: { ...options.worker, controlChannel } satisfies WorkerConfig,
        workerFilename: options.workerFilename,
        logger: options.logger,
        acceptInWorkers: options.acceptInWorkers === true,
        maxConnections: options.maxConnections,
      },
      {
        connectionEnded: (result) => this.#finished(result),
        connectionsLost: (count, error) => this.#lost(count, error),
        transferFailed: (error) => this.#transferFailed(error),
        counted: (counters) => this.#counted(counters),
        reported: (_workerId, report) => this.#reported(report),
        logged: options.workerLines,
        acceptedByWorker: (accepted, refused) => this.#acceptedByWorker(accepted, refused),
      },
    );
    this.#server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.#accept(socket));
    this.#closing = null;
    this.#forced = false;
    this.#idleWaiters = [];
  }

  /** The worker threads (piscina replaces crashed ones). */
  get threads(): readonly { threadId: number }[] {
    return this.#pool.threads;
  }

  /** The workers that are up, with the connections each holds (for the admin endpoints). */
  workerLoads(): WorkerLoad[] {
    return this.#pool.workerLoads();
  }

  /** True when every worker serves its lane and reported within `withinMs` (for /readyz). */
  allWorkersServing(withinMs: number): boolean {
    return this.#pool.allServing(withinMs);
  }

  /** Starts listening; resolves with the bound address once every worker is ready to serve. */
  async listen(): Promise<AddressInfo> {
    const address = await new Promise<AddressInfo>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.#server.once('error', onError);
      // With acceptInWorkers the workers join this port (SO_REUSEPORT needs every listener to ask for it).
      this.#server.listen({ port: this.options.port, host: this.options.host, reusePort: this.options.acceptInWorkers === true }, () => {
        this.#server.off('error', onError);
        this.#server.on('error', (error) => this.emit('error', error));
        // From now on connections arrive as bare handles (where Node allows it) rather than sockets.
        acceptHandles(this.#server, (handle) => this.#accept(handle));
        resolve(this.#server.address() as AddressInfo);
      });
    });
    await this.#pool.ready;
    if (this.options.acceptInWorkers === true) {
      await this.#pool.startAccepting(this.options.host, address.port);
      // Every worker listens: the primary stops accepting (what it accepted until now was handed over as usual).
      this.#server.close();
    }
    return address;
  }

  /** Tells every worker to use this certificate and key for new TLS connections (already checked by the caller). */
  reloadTls(material: { readonly cert: string; readonly key: string; readonly passphrase: string | undefined }): void {
    const message: ControlMessage = { type: 'tls', cert: material.cert, key: material.key, passphrase: material.passphrase };
    this.#control.postMessage(message);
  }

  /**
   * Graceful shutdown: stop accepting, close every connection with 1001
   * "going away", wait up to the drain timeout, then stop the workers.
   * `force` skips the wait.
   */
  close(force: boolean = false): Promise<void> {
    if (force) {
      // Also cuts short a drain that is already under way.
      this.#forced = true;
      this.#wakeIdleWaiters();
    }
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const message: ControlMessage = { type: 'shutdown', code: CloseCode.GOING_AWAY, reason: 'going away' };
    this.#control.postMessage(message);
    for (const connection of this.#pool.takeQueued()) {
      this.#reject(connection, REJECT_SHUTDOWN);
      this.#release();
    }
    if (!this.#forced) {
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          timedOut = true;
          resolve();
        }, this.options.drainTimeoutMs);
      });
      // Woken when the last connection ends, or by close(true).
      const woken = () => new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      // Workers that accept themselves report their last connections before they say they stopped: only then is `active` complete.
      let stopped = false;
      const stopping = this.#pool.stoppedAccepting().then(() => {
        stopped = true;
      });
      while (!stopped && !this.#forced && !timedOut) await Promise.race([stopping, timeout, woken()]);
      while (this.stats.active > 0 && !this.#forced && !timedOut) await Promise.race([timeout, woken()]);
      clearTimeout(timer);
    }
    await this.#pool.destroy();
    this.#control.close();
    await stopped;
  }

  #accept(connection: AcceptedConnection): void {
    const stats = this.stats;
    stats.accepted++;
    if (this.#closing !== null) {
      this.#reject(connection, REJECT_SHUTDOWN);
      return;
    }
    if (stats.active >= this.options.maxConnections) {
      this.#reject(connection, REJECT_FULL);
      return;
    }
    stats.active++;
    if (!this.#pool.dispatch(connection)) {
      stats.active--;
      this.#reject(connection, REJECT_BACKLOG);
    }
  }

  #finished(result: ConnectionStats): void {
    const stats = this.stats;
    stats.completed++;
    if (result.slowConsumer) stats.slowConsumers++;
    stats.mailboxPauses += result.mailboxPauses;
    this.#release();
    this.emit('connectionEnd', result);
  }

  #transferFailed(error: unknown): void {
    this.stats.transferFailures++;
    this.options.logger.error({ err: error }, 'could not hand a connection to a worker; closed it');
    this.#release();
  }

  /** Connections a worker accepted (and refused) itself, with acceptInWorkers; their ends follow as usual. */
  #acceptedByWorker(accepted: number, refused: number): void {
    const stats = this.stats;
    stats.accepted += accepted + refused;
    stats.active += accepted;
    stats.rejected += refused;
    stats.rejectedConnectionLimit += refused;
  }

  #counted(counters: WorkerCounters): void {
    const stats = this.stats;
    stats.messagesIn += counters.messagesIn;
    stats.messagesOut += counters.messagesOut;
    stats.bytesIn += counters.bytesIn;
    stats.bytesOut += counters.bytesOut;
  }

  #reported(report: WorkerReport): void {
    for (const delta of report.histograms) this.histograms.add(delta);
  }

  /**
   * A worker died (an uncaught exception or process.exit in it) with `count`
   * connections: their clients saw their TCP connections close; every other
   * worker is unaffected and piscina starts a replacement.
   */
  #lost(count: number, error: unknown): void {
    this.stats.lostToWorkerExit += count;
    for (let i = 0; i < count; i++) {
      this.#release();
      this.emit('connectionLost', error);
    }
  }

  #release(): void {
    this.stats.active--;
    if (this.stats.active === 0) this.#wakeIdleWaiters();
  }

  #wakeIdleWaiters(): void {
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /** Writes a 503 with the reason and closes; reads (and discards) until the client closes, destroyed after the close timeout. */
  #reject(connection: AcceptedConnection, reason: string): void {
    const stats = this.stats;
    stats.rejected++;
    if (reason === REJECT_FULL) stats.rejectedConnectionLimit++;
    else if (reason === REJECT_BACKLOG) stats.rejectedBacklog++;
    else stats.rejectedShutdown++;
    refuseConnection(connection, reason, this.options.closeTimeoutMs);
  }
}
