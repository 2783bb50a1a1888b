/**
 * Wraps a connection received from the primary in a net.Socket: a bare TCP
 * handle (the usual case, accept-handles.ts) or a transferred socket, which
 * is re-wrapped in a fresh net.Socket.
 *
 * Node builds a transferred socket by deserializing it property by property,
 * which leaves the object in V8's dictionary mode: its properties take about
 * 1.6 KB per connection (heap snapshot of 2,000 idle connections), a quarter
 * of a worker's memory per idle connection. A Socket constructed around the
 * same handle has fast properties.
 *
 * `onread` (net.Socket's option: reads land in `buffer`, `callback` gets
 * them, no 'data' events) is passed to the new Socket; a received socket
 * whose handle is out of reach keeps reading through its stream.
 */
import { Socket } from 'node:net';
import type { TcpHandle } from './accept-handles.ts';

/** The private fields this relies on; absent in some future Node, the socket is used as received. */
interface SocketInternals {
  _handle: unknown;
  allowHalfOpen: boolean;
}

/** net.Socket's `onread` option. */
export interface OnRead {
  readonly buffer: Buffer;
  /** Called with the socket as `this`; false pauses reading. */
  readonly callback: (this: Socket, length: number, buffer: Buffer) => boolean;
}

/**
 * Returns a Socket with fast properties that owns `received` (a TCP handle)
 * or `received`'s handle (a socket); after this, a received socket is inert
 * (no handle) and must not be used. Falls back to `received` itself when its
 * handle is not reachable. The Socket starts reading at once, into `onread`
 * when given.
 */
export function adoptSocket(received: Socket | TcpHandle, onread?: OnRead): Socket {
  if (!(received instanceof Socket)) return new Socket({ handle: received, onread } as unknown as ConstructorParameters<typeof Socket>[0]);
  const internals = received as unknown as SocketInternals;
  const handle = internals._handle;
  if (handle === null || handle === undefined) return received;
  internals._handle = null;
  return new Socket({ handle, allowHalfOpen: internals.allowHalfOpen, onread } as ConstructorParameters<typeof Socket>[0]);
}
