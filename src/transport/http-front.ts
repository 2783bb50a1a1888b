/**
 * HTTP beside WebSocket on the same port: the app's `http(req, res)` handler
 * gets every request that is not a WebSocket upgrade, through a worker-local
 * `http.Server` that never listens. The ConnectionHost reads the first
 * request head itself (the WebSocket path costs nothing more); when it is
 * not an upgrade, it hands the socket here with the bytes read so far, which
 * are put back (`unshift`) before Node's HTTP parser takes the socket.
 * An upgrade that arrives later on the same keep-alive connection comes back
 * to the host's handshake path (`upgrade`).
 *
 * Limits, as for upgrades: the head size (`maxHeadBytes`, Node's
 * `maxHeaderSize`), the handshake timeout for the whole of each request
 * (head and body: Node's `headersTimeout` and `requestTimeout`),
 * `maxBodyBytes` per request body (413), and the idle timeout
 * (`idleTimeoutMs`) while no byte moves either way (a client that stops
 * reading a response). A handler that throws or rejects gets a 500 (or,
 * once its headers are out, a destroyed socket) and costs only its
 * connection.
 */
import { log } from '../telemetry/logger.ts';
import { logPeerCaused } from '../telemetry/rate-limited-log.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listHasToken } from '../protocol/http-syntax.ts';
import type { RequestHead } from '../protocol/request-head.ts';
import type { ConnectionStats } from './messages.ts';
import { settleWireBytes } from './wire-bytes.ts';

/** What the app exports as `http`. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** A connection's bookkeeping, carried from the binding to HTTP and back. */
export interface CarriedConnection {
  readonly stats: ConnectionStats;
  readonly done: ((stats: ConnectionStats) => void) | null;
  /** The client's address when it is not the socket's peer (PROXY header), else null. */
  readonly clientAddress: string | null;
}

/** Limits of the HTTP side. */
export interface HttpFrontConfig {
  readonly maxHeadBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly maxBodyBytes: number;
  /** A connection with no byte moving either way for this long is destroyed (0: never). */
  readonly idleTimeoutMs: number;
}

/** Called with a keep-alive connection's WebSocket upgrade request, already parsed by Node. */
export type UpgradeFromHttp = (socket: Socket, head: RequestHead, rest: Buffer, carried: CarriedConnection) => void;

/** Idle time of a keep-alive connection between requests (Node's default). */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 5000;

/** True when a request head asks for a WebSocket (an Upgrade header naming websocket). */
export function isWebSocketUpgrade(head: RequestHead): boolean {
  const upgrade = head.headers.get('upgrade');
  return upgrade !== undefined && listHasToken(upgrade, 'websocket');
}

const STATUS_OF_CLIENT_ERROR: Readonly<Record<string, number>> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
  HPE_HEADERS_TIMEOUT: 408,
};

/**
 * Errors that mean the client went away (a reset, or a FIN in the middle of
 * a message: llhttp's "invalid EOF state"): not a request the server
 * refuses, and nothing can be answered.
 */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'HPE_INVALID_EOF_STATE']);

/** True when `error` says the client went away (a reset, or a close in the middle of a message), not that it sent something wrong. */
export function isClientGone(error: unknown): boolean {
  return CLIENT_GONE.has((error as NodeJS.ErrnoException | null)?.code ?? '');
}

/** Node's list of an HTTP server's connections (internal to node:http): `active()` are those in the middle of a message. */
interface ConnectionsList {
  active(): readonly unknown[];
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
};

/** The worker's HTTP server for the app's `http` handler. */
export class HttpFront {
  readonly #server: Server;
  readonly #handler: HttpHandler;
  readonly #config: HttpFrontConfig;
  /** Sockets on the HTTP side, with their bookkeeping, 'close' listener and latest request. */
  readonly #connections: Map<Socket, HttpConnection>;
  /** Node's own list of the server's connections, which knows whether one is in the middle of a request head; null when this Node has none. */
  readonly #parsers: ConnectionsList | null;
  #shuttingDown: boolean;

  constructor(config: HttpFrontConfig, handler: HttpHandler, upgrade: UpgradeFromHttp) {
    this.#config = config;
    this.#handler = handler;
    this.#connections = new Map();
    this.#shuttingDown = false;
    this.#server = createServer(
      {
        maxHeaderSize: config.maxHeadBytes,
        headersTimeout: config.handshakeTimeoutMs,
        requestTimeout: config.handshakeTimeoutMs,
        keepAliveTimeout: HTTP_KEEP_ALIVE_TIMEOUT_MS,
        // How often Node checks the two timeouts above (its default is 30 s).
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.handshakeTimeoutMs / 4))),
        // A later request on the connection that asks for a WebSocket comes back to Shoal; other Upgrade values are requests.
        shouldUpgradeCallback: (req: IncomingMessage) => listHasToken([req.headers.upgrade ?? ''], 'websocket'),
      },
      (req, res) => this.#request(req, res),
    );
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, rest: Buffer) => {
      const carried = this.#release(socket);
      if (carried === undefined) {
        socket.destroy();
        return;
      }
      socket.setTimeout(0);
      upgrade(socket, requestHeadOf(req), rest, carried);
    });
    // Past the request, none of the limits above bounds a connection: a client that stops reading a
    // streamed response held its socket (and what the handler had written) forever. The WebSocket idle
    // timeout applies here too, as Node's socket inactivity timeout, which counts neither buffered writes
    // nor bytes the client does not read (no 'timeout' listener: Node destroys the socket).
    this.#server.timeout = config.idleTimeoutMs;
    this.#server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => this.#clientError(error, socket));
    // The server never listens, but Node enforces headersTimeout and
    // requestTimeout from a timer it starts on 'listening'.
    this.#server.emit('listening');
    this.#parsers = connectionsListOf(this.#server);
  }

  /** Connections on the HTTP side now. */
  get size(): number {
    return this.#connections.size;
  }

  /**
   * Takes a socket whose first request head (`bytes`, everything read so
   * far) is not an upgrade; the socket must be paused, with no listeners of
   * the host left on it.
   */
  take(socket: Socket, bytes: Buffer, carried: CarriedConnection): void {
    const onClose = (): void => this.#closed(socket);
    this.#connections.set(socket, { carried, onClose, request: null, response: null });
    if (carried.clientAddress !== null) {
      // The PROXY header's address, where the handler looks for it (costs this socket its fast properties).
      Object.defineProperty(socket, 'remoteAddress', { value: carried.clientAddress, configurable: true });
    }
    socket.on('close', onClose);
    socket.unshift(bytes);
    this.#server.emit('connection', socket);
    socket.resume();
  }

  /** Graceful shutdown: idle keep-alive connections close now, busy ones after their current response. */
  shutdown(): void {
    this.#shuttingDown = true;
    this.#server.closeIdleConnections();
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const connection = this.#connections.get(req.socket);
    if (connection !== undefined) {
      connection.carried.stats.httpRequests++;
      connection.request = req;
      connection.response = res;
    }
    if (this.#shuttingDown) res.shouldKeepAlive = false;
    const limit = this.#config.maxBodyBytes;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      this.#refuse(req.socket, res, 413, `request body over ${limit} bytes`);
      return;
    }
    if (req.headers['transfer-encoding'] !== undefined) this.#limitChunkedBody(req, res, limit);
    try {
      const result = this.#handler(req, res);
      if (result instanceof Promise) result.catch((error: unknown) => this.#handlerFailed(req, res, error));
    } catch (error) {
      this.#handlerFailed(req, res, error);
    }
  }

  /** A chunked body has no declared length: count it as Node's parser pushes it. */
  #limitChunkedBody(req: IncomingMessage, res: ServerResponse, limit: number): void {
    let received = 0;
    const push = req.push;
    req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk !== null && chunk !== undefined) {
        received += (chunk as Buffer).length;
        if (received > limit) {
          this.#refuse(req.socket, res, 413, `request body over ${limit} bytes`);
          return false;
        }
      }
      return push.call(req, chunk, encoding);
    };
  }

  #handlerFailed(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    // The client went away (or a limit cut the request) while the handler read it: not the handler's fault.
    if (req.socket.destroyed || res.writableEnded || (req.destroyed && !req.complete)) return;
    logPeerCaused(log(), 'error', 'http_handler_failed', { err: error, method: req.method, url: req.url }, 'the http handler failed; answered 500 and closed the connection');
    const stats = this.#connections.get(req.socket)?.carried.stats;
    if (stats !== undefined) stats.httpHandlerErrors++;
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end('internal error in the http handler\n');
  }

  /** Answers `status` with the reason and closes the connection after it. */
  #refuse(socket: Socket, res: ServerResponse, status: number, reason: string): void {
    const stats = this.#connections.get(socket)?.carried.stats;
    if (stats !== undefined) stats.httpRefusalStatus = status;
    if (res.headersSent) {
      socket.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end(`${reason}\n`);
  }

  /**
   * Node's parser refused a request (or a timeout struck): answer like the
   * upgrade path does, then close. A client that went away (reset, or closed
   * in the middle of a request) is not refused: its connection is closed and,
   * when a request was under way, counted as an aborted request.
   */
  #clientError(error: NodeJS.ErrnoException, socket: Socket): void {
    const connection = this.#connections.get(socket);
    if (isClientGone(error)) {
      // After a refusal of ours the client's reset is no abort.
      if (connection !== undefined && connection.carried.stats.httpRefusalStatus === 0 && this.#midRequest(socket, connection, error)) {
        connection.carried.stats.httpRequestAborted = true;
      }
      socket.destroy();
      return;
    }
    const status = STATUS_OF_CLIENT_ERROR[error.code ?? ''] ?? 400;
    if (connection !== undefined) connection.carried.stats.httpRefusalStatus = status;
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const reason =
      status === 408 ? `request not received within ${this.#config.handshakeTimeoutMs} ms` : status === 431 ? 'request head too large' : `malformed HTTP request (${error.code ?? 'parse error'})`;
    const body = `${reason}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    socket.destroySoon();
  }

  /** True when the client left in the middle of a request: its head or body part-sent, or its response not complete. */
  #midRequest(socket: Socket, connection: HttpConnection, error: NodeJS.ErrnoException): boolean {
    // llhttp reports an EOF as an error only inside a message.
    if (error.code === 'HPE_INVALID_EOF_STATE') return true;
    const { request, response } = connection;
    if (request !== null && !request.complete) return true;
    if (response !== null && !response.writableFinished) return true;
    // Between requests: idle, unless some bytes of the next head came. Only Node's parser knows;
    // its list walks the connections in the middle of a message (Node walks them all at every
    // `connectionsCheckingInterval` too). Without the list, a reset here counts as an abort.
    const parser = (socket as Socket & { parser?: unknown }).parser;
    return this.#parsers === null || parser === undefined || this.#parsers.active().includes(parser);
  }

  /** Forgets a socket (closed, or upgraded back to the host). */
  #release(socket: Socket): CarriedConnection | undefined {
    const entry = this.#connections.get(socket);
    if (entry === undefined) return undefined;
    this.#connections.delete(socket);
    socket.off('close', entry.onClose);
    return entry.carried;
  }

  #closed(socket: Socket): void {
    const carried = this.#release(socket);
    if (carried === undefined) return;
    const stats = carried.stats;
    settleWireBytes(stats, socket);
    carried.done?.(stats);
  }
}

/** A connection on the HTTP side. */
interface HttpConnection {
  readonly carried: CarriedConnection;
  readonly onClose: () => void;
  /** The latest request on the connection and its response (null before the first); held until the next request or the close (an idle keep-alive connection lasts 5 s). */
  request: IncomingMessage | null;
  response: ServerResponse | null;
}

/**
 * Node's internal list of `server`'s connections (the one its request
 * timeouts and `closeIdleConnections` use), found by its symbol's
 * description; null when this Node has none.
 */
function connectionsListOf(server: Server): ConnectionsList | null {
  const symbol = Object.getOwnPropertySymbols(server).find((candidate) => candidate.description === 'http.server.connections');
  const list = symbol === undefined ? undefined : (server as unknown as Record<symbol, unknown>)[symbol];
  return typeof (list as Partial<ConnectionsList> | undefined)?.active === 'function' ? (list as ConnectionsList) : null;
}

/** The RequestHead of a request Node has parsed (for the upgrade path). */
function requestHeadOf(req: IncomingMessage): RequestHead {
  const headers = new Map<string, string[]>();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const values = headers.get(name);
    if (values === undefined) headers.set(name, [raw[i + 1]]);
    else values.push(raw[i + 1]);
  }
  return { method: req.method ?? 'GET', target: req.url ?? '/', httpVersion: req.httpVersion, headers };
}
