/**
 * Accepted connections as bare TCP handles, without a net.Socket around
 * them in the primary.
 *
 * The primary never reads a byte; it only hands each connection to a worker.
 * A net.Socket built for that (Node's own accept callback builds one per
 * connection), transferred, and destroyed cost about a quarter of the
 * primary's time in a connection storm, and the worker built a second one
 * while deserializing it (--cpu-prof, 32 concurrent handshakes). A TCP handle
 * is transferable by itself: the worker wraps it in the one Socket it uses.
 *
 * This replaces the listening handle's `onconnection` callback, a Node
 * internal (present in Node 24 and 26). Where it is missing the server keeps
 * emitting 'connection' with sockets, which work the same way, only slower.
 */
import { Socket, type Server } from 'node:net';
import { buildErrorResponse } from '../protocol/handshake-response.ts';

/** The part of Node's TCP handle (tcp_wrap) the primary uses; a Transferable for postMessage. */
export interface TcpHandle {
  setNoDelay(enable: boolean): number;
  /** Closes the descriptor (a connection refused without a word). */
  close(callback?: () => void): void;
}

/** An accepted connection on its way to a worker: a bare handle, or a socket where Node's internals differ. */
export type AcceptedConnection = TcpHandle | Socket;

/** The connection as a Socket the primary can answer on itself (a 503); it starts reading at once. */
export function toSocket(connection: AcceptedConnection): Socket {
  if (connection instanceof Socket) return connection;
  return new Socket({ handle: connection } as unknown as ConstructorParameters<typeof Socket>[0]);
}

/** Reason of the 503 for a connection over the server's connection limit. */
export const CONNECTION_LIMIT_REASON = 'server is at its connection limit';

/**
 * Answers a connection that will not be served with a 503 carrying `reason`
 * and closes it; reads (and discards) until the client closes, destroyed
 * after `closeTimeoutMs`.
 */
export function refuseConnection(connection: AcceptedConnection, reason: string, closeTimeoutMs: number): void {
  const socket = toSocket(connection);
  socket.on('error', () => {});
  socket.setTimeout(closeTimeoutMs, () => socket.destroy());
  socket.resume();
  socket.end(buildErrorResponse(503, reason));
}

/** Closes a connection that cannot be served (a failed hand-off). */
export function dropConnection(connection: AcceptedConnection): void {
  if (connection instanceof Socket) connection.destroy();
  else connection.close();
}

interface ListenHandle {
  onconnection: ((status: number, handle: TcpHandle | undefined) => void) | undefined;
  setNoDelay?: (enable: boolean) => number;
}

/**
 * Makes the listening `server` hand each accepted connection to `onHandle` as
 * a bare TCP handle with TCP_NODELAY set (nothing read, nothing written).
 * Call once, after 'listening'. Accept errors go to the server's 'error'
 * event. Returns false, changing nothing, when Node's internals differ.
 */
export function acceptHandles(server: Server, onHandle: (handle: TcpHandle) => void): boolean {
  const listening = (server as unknown as { _handle: ListenHandle | null })._handle;
  if (listening === null || typeof listening.onconnection !== 'function') return false;
  // TCP_NODELAY set once on the listening socket: Linux copies it to every
  // socket accepted from it, which saves a setsockopt (and a call into C++)
  // per connection, 0.4 of the primary's ~15 us per handshake (perf of a
  // storm). Elsewhere, or if that fails, it is set on each handle.
  const inherited = process.platform === 'linux' && typeof listening.setNoDelay === 'function' && listening.setNoDelay(true) === 0;
  listening.onconnection = (status, handle) => {
    if (status < 0 || handle === undefined) {
      // As Node's own callback does: the accept failed (e.g. EMFILE); the server keeps listening.
      server.emit('error', Object.assign(new Error(`accept failed (status ${status})`), { errno: status }));
      return;
    }
    if (!inherited) handle.setNoDelay(true);
    onHandle(handle);
  };
  return true;
}
