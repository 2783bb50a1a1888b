/**
 * Destroys a plain TCP socket without its handle's close callback, for the
 * end of a clean closing handshake (socket-binding.ts): the caller does the
 * close bookkeeping itself, at once, instead of in a 'close' event.
 *
 * Why: `socket.destroy()` closes the descriptor at once (libuv's `uv_close`
 * calls close(2) synchronously for a TCP handle), but Node asks for a
 * callback when libuv is done with the handle, on the next turn of the event
 * loop, and emits 'close' from it: one more call from C++ into JavaScript per
 * connection (MakeCallback with its async context and the tick queue after
 * it), about 1.5 us of a worker's 2.6 us for that callback in a connection
 * storm (perf, bench/handshake-cost.ts), for an event only the binding
 * listens to. Without a callback, Node's handle does not call into
 * JavaScript when it is freed.
 *
 * How: for the one `destroy()` call, the handle's `close` is an own property
 * that calls the prototype's `close` without the callback that Node's
 * `Socket._destroy` passes; everything else of the destroy is Node's own
 * (the stream's destroyed state, `bytesRead` and `bytesWritten` kept, the
 * handle let go). The socket never emits 'close' then. Where Node's
 * internals differ (no handle, a close deferred to after an error, a
 * reset) it changes nothing and returns false: destroy the socket as usual.
 */
import type { Socket } from 'node:net';

/** The parts of Node's TCP handle and of its Socket this relies on. */
interface ClosableHandle {
  close(callback?: () => void): void;
}
interface SocketInternals {
  _handle: ClosableHandle | null;
  _closeAfterHandlingError?: boolean;
  resetAndClosing?: boolean;
}

/** The handles' `close` (HandleWrap's, shared by every TCP handle), from the first handle seen. */
let handleClose: ((this: ClosableHandle, callback?: () => void) => void) | null = null;

/** Set when `closeWithoutCallback` ran during the current `destroyQuietly`. */
let closed = false;

function closeWithoutCallback(this: ClosableHandle): void {
  closed = true;
  (handleClose as (this: ClosableHandle) => void).call(this);
}

/**
 * Destroys `socket` (a plain TCP socket with nothing left to write) and
 * closes its descriptor without a 'close' event to follow; true when it did.
 * False, with the socket untouched, when Node's internals are not as
 * expected: call `socket.destroy()` then (a 'close' event follows).
 */
export function destroyQuietly(socket: Socket): boolean {
  const internals = socket as unknown as SocketInternals;
  const handle = internals._handle;
  if (handle === null || typeof handle !== 'object' || internals._closeAfterHandlingError === true || internals.resetAndClosing === true) return false;
  const close = handle.close;
  if (typeof close !== 'function') return false;
  handleClose ??= close;
  if (close !== handleClose) return false;
  closed = false;
  handle.close = closeWithoutCallback;
  socket.destroy();
  if (closed) return true;
  // Node did not close the handle in destroy(): close it now, with the 'close' event the socket would have emitted.
  delete (handle as Partial<ClosableHandle>).close;
  handle.close(() => socket.emit('close', false));
  return false;
}
