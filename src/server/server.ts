/**
 * The programmatic face of Shoal: `createServer(options)`, `listen()`,
 * `close()`. Used by the CLI and the tests; the work happens in
 * src/transport (primary thread) and the worker pool.
 */
import { EventEmitter } from 'node:events';
import type { AdminServer } from './admin-server.ts';
import type { AdminSource, ServerState } from './admin-stats.ts';
import { Primary, type PrimaryStats } from '../transport/primary.ts';
import type { ConnectionStats } from '../transport/messages.ts';
import { loadApp, resolveAppSpecifier } from '../app/load-app.ts';
import { CONNECTION_WORKER_URL } from '../workers/entry-urls.ts';
import { resolvePerMessageDeflate, resolveServerOptions, type ServerOptions } from './options.ts';
import { assertSupportedRuntime } from './runtime.ts';

/** Where a listening server can be reached. */
export interface ListeningAddress {
  readonly host: string;
  readonly port: number;
  /** ws://host:port/ (IPv6 hosts in brackets). */
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
export class ShoalServer extends EventEmitter {
  readonly options: ServerOptions;
  #primary: Primary | null;
  #address: ListeningAddress | null;
  #admin: AdminServer | null;
  #adminAddress: AdminAddress | null;
  #state: ServerState;

  constructor(options: ServerOptions) {
    super();
    this.options = options;
    this.#primary = null;
    this.#address = null;
    this.#admin = null;
    this.#adminAddress = null;
    this.#state = 'starting';
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
   * a listen error (e.g. EADDRINUSE).
   */
  async listen(): Promise<ListeningAddress> {
    if (this.#primary !== null) throw new Error('server is already listening');
    const options = this.options;
    const app = resolveAppSpecifier(options.app);
    await loadApp(app);
    // Loaded only with an admin port: prom-client and node:http are about
    // 14 MiB of a server's resident memory at rest (docs/server.md, Measurements).
    const adminModule = options.adminPort === null ? null : await import('./admin-server.ts');
    const primary = new Primary({
      host: options.host,
      port: options.port,
      workers: options.workers,
      maxConnectionsPerWorker: options.maxConnectionsPerWorker,
      maxConnections: options.maxConnections,
      acceptBacklog: options.acceptBacklog,
      drainTimeoutMs: options.drainTimeoutMs,
      workerFilename: CONNECTION_WORKER_URL,
      closeTimeoutMs: options.closeTimeoutMs,
      worker: {
        app,
        maxMessageBytes: options.maxMessageBytes,
        maxHeadBytes: options.maxHeadBytes,
        handshakeTimeoutMs: options.handshakeTimeoutMs,
        idleTimeoutMs: options.idleTimeoutMs,
        pingIntervalMs: options.pingIntervalMs,
        closeTimeoutMs: options.closeTimeoutMs,
        mailboxSize: options.mailboxSize,
        mailboxBytes: options.mailboxBytes,
        maxBackpressureBytes: options.maxBackpressureBytes,
        perMessageDeflate: resolvePerMessageDeflate(options.perMessageDeflate),
      },
    });
    const admin =
      adminModule === null ? null : new adminModule.AdminServer(this.#adminSource(primary), { host: options.adminHost, port: options.adminPort as number });
    primary.on('connectionEnd', (stats: ConnectionStats) => {
      admin?.record(stats);
      this.emit('connectionEnd', stats);
    });
    primary.on('connectionLost', (error: unknown) => this.emit('connectionLost', error));
    primary.on('error', (error: unknown) => this.emit('error', error));
    this.#primary = primary;
    let bound;
    let adminBound = null;
    try {
      bound = await primary.listen();
      if (admin !== null) adminBound = await admin.listen();
    } catch (error) {
      await primary.close(true);
      this.#primary = null;
      throw error;
    }
    this.#address = { host: bound.address, port: bound.port, url: `ws://${hostInUrl(bound)}:${bound.port}/` };
    if (admin !== null && adminBound !== null) {
      this.#admin = admin;
      this.#adminAddress = { host: adminBound.address, port: adminBound.port, url: `http://${hostInUrl(adminBound)}:${adminBound.port}/` };
    }
    this.#state = 'serving';
    return this.#address;
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
    };
  }

  /**
   * Graceful shutdown: stop accepting, close every connection with 1001
   * "going away", wait up to `drainTimeoutMs` for the close handshakes, stop
   * the workers. `force` skips the wait. Safe to call more than once.
   */
  async close(force: boolean = false): Promise<void> {
    if (this.#primary === null) return;
    // The admin port stays up during the drain and answers /healthz with 503.
    if (this.#state !== 'stopped') this.#state = 'shutting-down';
    await this.#primary.close(force);
    this.#state = 'stopped';
    await this.#admin?.close();
  }
}

function hostInUrl(address: { address: string; family: string }): string {
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

/** Creates a server (not yet listening); throws a RangeError for an invalid option, an Error (one line, see runtime.ts) on an unsupported Node.js. */
export function createServer(options: Partial<ServerOptions> = {}): ShoalServer {
  assertSupportedRuntime();
  return new ShoalServer(resolveServerOptions(options));
}
