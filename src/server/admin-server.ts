/**
 * The admin HTTP port, served by node:http on the primary thread (never on
 * the WebSocket port): `/livez` (the process answers), `/readyz` (every
 * worker serves, not draining), `/healthz`, `/metrics` (Prometheus text
 * format) and `/stats` (JSON). GET and HEAD only; no request body is ever read; every
 * response is small and built from counters the primary already has.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { log, type Logger } from '../telemetry/logger.ts';
import { adminSnapshot, ConnectionTally, healthOf, readinessOf, type AdminSource, type Health } from './admin-stats.ts';
import type { ConnectionStats } from '../transport/messages.ts';
import { createMetricsRegistry } from './metrics.ts';

/** Where the admin port listens. */
export interface AdminServerOptions {
  readonly host: string;
  /** 0 asks the OS for a free port. */
  readonly port: number;
  /** Where its errors go (the thread's logger by default). */
  readonly logger?: Logger;
}

/** Admin connections open at once; more are closed on accept (a scraper or a load balancer needs a few). */
export const ADMIN_MAX_CONNECTIONS = 256;
/** Largest request head; bigger ones get 431 from node:http. */
const MAX_HEADER_BYTES = 8 * 1024;
/** Time a client has to send its request head, and the whole request. */
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;

const PATHS = ['/livez', '/readyz', '/healthz', '/metrics', '/stats'] as const;
type AdminPath = (typeof PATHS)[number];

function isAdminPath(path: string): path is AdminPath {
  return (PATHS as readonly string[]).includes(path);
}

/**
 * The admin endpoints of one server. Call `record` with every finished
 * connection's stats, `listen` once, and `close` after the server has
 * stopped (it answers /healthz with 503 while the server shuts down).
 */
export class AdminServer {
  readonly options: AdminServerOptions;
  #source: AdminSource;
  #tally: ConnectionTally;
  #registry: Registry;
  #http: Server;
  #startedAt: number;
  #logger: Logger;

  constructor(source: AdminSource, options: AdminServerOptions) {
    this.options = options;
    this.#logger = options.logger ?? log();
    this.#source = source;
    this.#tally = new ConnectionTally();
    this.#registry = createMetricsRegistry(source, this.#tally);
    this.#http = createServer(
      { maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1_000 },
      (request, response) => this.#handle(request, response),
    );
    this.#http.maxConnections = ADMIN_MAX_CONNECTIONS;
    this.#startedAt = performance.now();
  }

  /** Adds a finished connection to the handshake and close-code counts. */
  record(stats: ConnectionStats): void {
    this.#tally.record(stats);
  }

  /** Starts listening; resolves with the bound address, rejects on a listen error (e.g. EADDRINUSE). */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const http = this.#http;
      const onError = (error: Error): void => reject(error);
      http.once('error', onError);
      http.listen(this.options.port, this.options.host, () => {
        http.off('error', onError);
        http.on('error', (error) => this.#logger.error({ err: error }, 'admin server error'));
        this.#startedAt = performance.now();
        resolve(http.address() as AddressInfo);
      });
    });
  }

  /** Stops listening and closes every admin connection (keep-alive ones included). */
  close(): Promise<void> {
    const http = this.#http;
    if (!http.listening) return Promise.resolve();
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeAllConnections();
    return closed;
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    // A request body is never read: close the connection after answering rather than discard it.
    if (request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined) {
      response.setHeader('Connection', 'close');
    }
    if (!isAdminPath(path)) {
      send(response, 404, 'text/plain; charset=utf-8', `not found: the admin port serves ${PATHS.join(', ')}\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      send(response, 405, 'text/plain; charset=utf-8', `method not allowed: ${path} answers GET and HEAD\n`);
      return;
    }
    switch (path) {
      case '/livez':
        // The primary's event loop answered: that is all liveness means.
        sendVerdict(response, { ok: true });
        return;
      case '/readyz':
        sendVerdict(response, readinessOf(this.#source));
        return;
      case '/healthz': {
        const health = healthOf(this.#source);
        // The broker's state is reported, not judged: a node without its broker still serves its own clients.
        const broker = this.#source.broker();
        const brokerLine = broker === null ? '' : `broker: ${broker.state}\n`;
        send(response, health.ok ? 200 : 503, 'text/plain; charset=utf-8', health.ok ? `ok\n${brokerLine}` : `${health.reason}\n${brokerLine}`);
        return;
      }
      case '/stats': {
        const snapshot = adminSnapshot(this.#source, this.#tally, performance.now() - this.#startedAt);
        send(response, 200, 'application/json; charset=utf-8', `${JSON.stringify(snapshot)}\n`);
        return;
      }
      case '/metrics':
        this.#registry.metrics().then(
          (text) => send(response, 200, this.#registry.contentType, text),
          (error: unknown) => {
            this.#logger.error({ err: error }, 'collecting metrics failed');
            send(response, 500, 'text/plain; charset=utf-8', 'internal error while collecting metrics\n');
          },
        );
        return;
    }
  }
}

/** 200 `ok`, or 503 with the reason, as text. */
function sendVerdict(response: ServerResponse, verdict: Health): void {
  send(response, verdict.ok ? 200 : 503, 'text/plain; charset=utf-8', verdict.ok ? 'ok\n' : `${verdict.reason}\n`);
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  response.end(body);
}
