/**
 * The programmatic face of Shoal: `createServer(options)`, `listen()`,
 * `close()`, and `publish()`/`sendTo()` from the host process. Used by the
 * CLI and the tests; the work happens in src/transport (primary thread) and
 * the worker pool; `publish()`/`sendTo()` go through this thread's app
 * services (src/app/services.ts, createHostServices).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { threadId } from 'node:worker_threads';
import { brokerStatus } from '../app/broker.ts';
import { checkName } from '../app/context.ts';
import { isRawData } from '../app/pubsub/raw-message.ts';
import type { BrokerConfig } from '../app/redis-broker.ts';
import { createHostServices, type AppServices } from '../app/services.ts';
import type { ConnectionAddress, HostServer, PublishOptions } from '../app/types.ts';
import type { AdminServer } from './admin-server.ts';
import type { AdminSource, ServerState } from './admin-stats.ts';
import { log, type Logger } from '../telemetry/logger.ts';
import { Primary, type PrimaryStats } from '../transport/primary.ts';
import type { ConnectionStats } from '../transport/messages.ts';
import { loadApp, resolveAppSpecifier } from '../app/load-app.ts';
import { CONNECTION_WORKER_URL } from '../workers/entry-urls.ts';
import { createLogOutput } from './log-output.ts';
import { resolveServerOptions, type ServerOptions } from './options.ts';
import { holdStartupFlags, releaseStartupFlags } from './startup-v8-flags.ts';
import { assertSupportedRuntime } from './runtime.ts';
import { loadTlsMaterial, newTicketKeys, type TlsSources } from './tls-files.ts';
import { workerConfigFrom } from './worker-config.ts';
import type { WorkerTls } from '../transport/messages.ts';

/**
 * /readyz wants every worker heard from within this long. Workers report
 * every 0.5 s, so 5 s means ten missed reports: an event loop blocked that
 * long is not serving anyone.
 */
export const READY_REPORT_AGE_MS = 5_000;

/** Where a listening server can be reached. */
export interface ListeningAddress {
  readonly host: string;
  readonly port: number;
  /** ws://host:port/ (wss:// with TLS; IPv6 hosts in brackets). */
  readonly url: string;
}

/** Where the admin endpoints of a listening server can be reached. */
export interface AdminAddress {
  readonly host: string;
  readonly port: number;
  /** http://host:port/ (IPv6 hosts in brackets); the endpoints are /healthz, /metrics and /stats. */
  readonly url: string;
}

/**
 * A Shoal server. Events: `connectionEnd` (ConnectionStats) for each finished
 * connection, `connectionLost` (Error) for each connection lost with its
 * worker, `error` after listen.
 */
export class ShoalServer extends EventEmitter implements HostServer {
  readonly options: ServerOptions;
  #primary: Primary | null;
  /** This thread's pub/sub and routing, from `listen()` on. */
  #host: AppServices | null;
  /** What the app's onStart returned to run at close. */
  #onStop: (() => void | Promise<void>) | null;
  #address: ListeningAddress | null;
  #admin: AdminServer | null;
  #adminAddress: AdminAddress | null;
  #state: ServerState;
  #logger: Logger | null;

  constructor(options: ServerOptions) {
    super();
    this.options = options;
    this.#primary = null;
    this.#host = null;
    this.#onStop = null;
    this.#address = null;
    this.#admin = null;
    this.#adminAddress = null;
    this.#state = 'starting';
    this.#logger = null;
  }

  /**
   * The primary's logger once `listen()` has started: the `logger` option
   * (as a child with `worker`), or Shoal's own pino logger on stderr.
   */
  get logger(): Logger | null {
    return this.#logger;
  }

  /** The bound address once `listen()` has resolved, else null. */
  get address(): ListeningAddress | null {
    return this.#address;
  }

  /** The admin endpoints' address once `listen()` has resolved with `adminPort` set, else null. */
  get adminAddress(): AdminAddress | null {
    return this.#adminAddress;
  }

  /** Counters of the primary thread; zeros before `listen()`. */
  get stats(): Readonly<PrimaryStats> | null {
    return this.#primary?.stats ?? null;
  }

  /** threadIds of the live workers. */
  get workerIds(): number[] {
    return this.#primary?.threads.map((thread) => thread.threadId) ?? [];
  }

  /**
   * Checks the app (loading it once here, so a bad module fails now and not
   * in every worker), starts the workers and listens. Rejects on a bad app or
   * a listen error (e.g. EADDRINUSE). V8's start-up flags are held until the
   * workers are ready (startup-v8-flags.ts: no optimising compiles of code
   * that runs once, no growth of the young generation while modules load).
   */
  async listen(): Promise<ListeningAddress> {
    holdStartupFlags();
    try {
      return await this.#listen();
    } finally {
      releaseStartupFlags();
    }
  }

  async #listen(): Promise<ListeningAddress> {
    if (this.#primary !== null) throw new Error('server is already listening');
    const options = this.options;
    const app = resolveAppSpecifier(options.app);
    const output = createLogOutput(options);
    this.#logger = output.logger;
    const appModule = await loadApp(app);
    const broker = brokerConfig(options);
    // Read and check the certificate before any worker starts: a bad file fails listen() with one line.
    const tls = this.#tlsSources();
    const workerTls: WorkerTls | null = tls === null ? null : { ...loadTlsMaterial(tls), ticketKeys: newTicketKeys() };
    const primary = new Primary({
      host: options.host,
      port: options.port,
      workers: options.workers,
      maxConnectionsPerWorker: options.maxConnectionsPerWorker,
      maxConnections: options.maxConnections,
      acceptBacklog: options.acceptBacklog,
      acceptInWorkers: options.acceptInWorkers,
      drainTimeoutMs: options.drainTimeoutMs,
      workerFilename: CONNECTION_WORKER_URL,
      closeTimeoutMs: options.closeTimeoutMs,
      logger: output.logger,
      workerLines: output.writeLines,
      worker: workerConfigFrom(options, { app, broker, tls: workerTls, logLevel: output.level }),
    });
    // prom-client and node:http are loaded only when the admin port is on (prom-client: ~100 ms, ~1.9 MB of heap).
    const admin =
      options.adminPort === null
        ? null
        : new (await import('./admin-server.ts')).AdminServer(this.#adminSource(primary), { host: options.adminHost, port: options.adminPort, logger: output.logger });
    primary.on('connectionEnd', (stats: ConnectionStats) => {
      admin?.record(stats);
      this.emit('connectionEnd', stats);
    });
    primary.on('connectionLost', (error: unknown) => this.emit('connectionLost', error));
    primary.on('error', (error: unknown) => this.emit('error', error));
    this.#primary = primary;
    // On the bus before the workers start: they learn of this thread from its hello or it of them from theirs.
    const host = createHostServices({ workerId: threadId, namespace: primary.controlChannel, broker });
    this.#host = host;
    let bound;
    let adminBound = null;
    try {
      bound = await primary.listen();
      if (admin !== null) adminBound = await admin.listen();
    } catch (error) {
      await primary.close(true);
      await host.close();
      this.#primary = null;
      this.#host = null;
      throw error;
    }
    this.#address = { host: bound.address, port: bound.port, url: `${workerTls === null ? 'ws' : 'wss'}://${hostInUrl(bound)}:${bound.port}/` };
    if (admin !== null && adminBound !== null) {
      this.#admin = admin;
      this.#adminAddress = { host: adminBound.address, port: adminBound.port, url: `http://${hostInUrl(adminBound)}:${adminBound.port}/` };
    }
    this.#state = 'serving';
    if (appModule.onStart !== undefined) {
      try {
        const stop = await appModule.onStart(this);
        if (typeof stop === 'function') this.#onStop = stop;
      } catch (error) {
        await this.close(true);
        throw error;
      }
    }
    return this.#address;
  }

  /**
   * Publish from the host process to every subscriber of `topic` on every
   * worker (and node, with a broker); see HostServer.publish. Throws before
   * `listen()` has resolved, for a bad topic, for data that cannot be
   * encoded, and AppError OVERLOADED / BROKER_UNAVAILABLE.
   */
  publish(topic: string, data: unknown, options?: PublishOptions): void {
    checkName(topic, 'topic');
    this.#services('publish').pubsub.publish(topic, data, options?.isBinary, isRawData(data));
  }

  /** Send an event to one connection of any worker (or node) by its address; see Context.sendTo. */
  sendTo(address: ConnectionAddress, event: string, data?: unknown): boolean {
    checkName(event, 'event name');
    return this.#services('sendTo').router.sendTo(address, event, data);
  }

  /** Resolves when the workers (and the broker) have caught up with this thread's publications. */
  whenDrained(): Promise<void> {
    return this.#services('whenDrained').pubsub.whenDrained();
  }

  /** This server's node id in a cluster (the first part of its addresses), or null without a broker or before listen(). */
  get nodeId(): string | null {
    return this.#host?.broker?.nodeId ?? null;
  }

  #services(method: string): AppServices {
    if (this.#host === null || this.#state !== 'serving') throw new Error(`server.${method}() needs a listening server`);
    return this.#host;
  }

  /**
   * Reads the TLS certificate, key and passphrase again (SIGHUP) and, when
   * they are usable, has every worker use them for new connections; open
   * connections keep theirs. Throws (and changes nothing) when a file is
   * missing, unreadable or the key does not fit the certificate.
   */
  reloadTls(): void {
    const sources = this.#tlsSources();
    if (sources === null) throw new Error('this server was started without TLS (--tls-cert, --tls-key)');
    if (this.#primary === null) throw new Error('server is not listening');
    this.#primary.reloadTls(loadTlsMaterial(sources));
  }

  #tlsSources(): TlsSources | null {
    const { tlsCert, tlsKey, tlsPassphraseFile, tlsPassphrase } = this.options;
    return tlsCert === null || tlsKey === null ? null : { tlsCert, tlsKey, tlsPassphraseFile, tlsPassphrase };
  }

  /** What the admin endpoints read: the primary's counters and workers, and this server's state. */
  #adminSource(primary: Primary): AdminSource {
    const state = (): ServerState => this.#state;
    return {
      get stats() {
        return primary.stats;
      },
      get state() {
        return state();
      },
      workers: () => primary.workerLoads(),
      broker: () => brokerStatus(this.#host?.broker ?? null),
      allWorkersServing: () => primary.allWorkersServing(READY_REPORT_AGE_MS),
      histograms: primary.histograms,
    };
  }

  /**
   * Graceful shutdown: stop accepting, close every connection with 1001
   * "going away", wait up to `drainTimeoutMs` for the close handshakes, stop
   * the workers. `force` skips the wait. Safe to call more than once.
   */
  async close(force: boolean = false): Promise<void> {
    if (this.#primary === null) return;
    const onStop = this.#onStop;
    this.#onStop = null;
    if (onStop !== null) {
      try {
        await onStop();
      } catch (error) {
        log().error({ err: error }, "the app's onStart cleanup failed");
      }
    }
    // The admin port stays up during the drain and answers /healthz with 503.
    if (this.#state !== 'stopped') this.#state = 'shutting-down';
    await this.#primary.close(force);
    // A second close() (a second signal) may be waiting here too: the host services close once.
    const host = this.#host;
    this.#host = null;
    await host?.close();
    this.#state = 'stopped';
    await this.#admin?.close();
  }
}

/** The broker of the workers and of this thread, with a fresh node id; null without `broker`. */
function brokerConfig(options: ServerOptions): BrokerConfig | null {
  if (options.broker === null) return null;
  return { url: options.broker, nodeId: randomBytes(6).toString('hex'), password: options.brokerPassword };
}

function hostInUrl(address: { address: string; family: string }): string {
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

/** Creates a server (not yet listening); throws a RangeError for an invalid option, an Error (one line, see runtime.ts) on an unsupported Node.js. */
export function createServer(options: Partial<ServerOptions> = {}): ShoalServer {
  assertSupportedRuntime();
  return new ShoalServer(resolveServerOptions(options));
}
