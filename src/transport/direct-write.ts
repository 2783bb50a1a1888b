/**
 * Writes straight to a TCP socket's libuv handle, past the socket's Writable
 * stream, for the frames a connection got outside its own reads in one
 * event-loop turn (fan-out: socket-binding.ts writes them at the end of the
 * turn, one buffer per connection), and for the replies to one read
 * (`writevDirect`: the read's slab regions and large payloads in one writev;
 * through the stream, the cork, the uncork's writev request, its after-write
 * tick and 'drain' event cost every read of a 64 KiB echo).
 *
 * Why: a fan-out turn makes one socket write per subscriber, and through
 * `socket.write` each one costs the Writable's bookkeeping, a new WriteWrap
 * request object (a C++-backed object with internal fields), `_writeGeneric`
 * and the after-write callbacks, on top of the `write(2)` itself: with the
 * kernel's loopback send that was about half of a worker's time in
 * raw-broadcast (--cpu-prof, perf). Here a write is `handle.writeBuffer(req,
 * buffer)`, what `socket.write` ends in, with one request object reused for
 * every write that completes at once (libuv's `uv_try_write` wrote it all:
 * Node's C++ then never touches the request). A write the kernel does not
 * take at once stays queued in libuv, in order with every later write,
 * `socket.write` included (libuv writes a stream's requests in order and
 * tries no write while some are queued); its request is then owned by the
 * write until it completes, and the next write gets a new one.
 *
 * Only when it is safe: a plain TCP handle (not TLS), nothing buffered in the
 * socket's Writable (what is there must leave first), and the stream_wrap
 * binding present. `process.binding('stream_wrap')` is deprecated (DEP0111,
 * documentation-only, a warning only with --pending-deprecation, which
 * therefore turns this off): it is read once, checked, and without it every
 * write takes `socket.write` as before.
 */
import type { Socket } from 'node:net';

/** Who is told when a write that went asynchronous completes (the socket's binding). */
export interface DirectWriteOwner {
  /** `bytes` that were queued in libuv have left (status 0) or failed (status < 0: the socket is being destroyed). */
  directWriteDone(bytes: number, status: number): void;
}

/** Node's WriteWrap request object, with the fields its C++ and this module use. */
interface WriteRequest {
  handle: unknown;
  oncomplete: (this: WriteRequest, status: number) => void;
  /** The buffer (or buffers: `writevDirect`) of a write still queued in libuv, kept alive until it completes. */
  buffer: Uint8Array | readonly Uint8Array[] | null;
  /** Bytes of that write. */
  bytes: number;
  owner: DirectWriteOwner | null;
}

/** A plain TCP socket's libuv handle, as `directHandle` returns it. */
export interface StreamHandle {
  writeBuffer(req: WriteRequest, data: Uint8Array): number;
  writev(req: WriteRequest, chunks: readonly Uint8Array[], allBuffers: true): number;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteRequest;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

/** What a direct write did. */
export const DirectWrite = {
  /** Not attempted (not a plain TCP socket, data buffered in its stream, or no binding): use socket.write. */
  UNAVAILABLE: 0,
  /** The kernel took it all. */
  DONE: 1,
  /** Queued in libuv; the owner's `directWriteDone` follows. */
  QUEUED: 2,
  /** The write failed (the peer is gone): the socket has been destroyed. */
  FAILED: 3,
} as const;
export type DirectWrite = (typeof DirectWrite)[keyof typeof DirectWrite];

function loadBinding(): StreamWrapBinding | null {
  if (process.execArgv.includes('--pending-deprecation') || process.env.NODE_PENDING_DEPRECATION === '1' || /--pending-deprecation/.test(process.env.NODE_OPTIONS ?? '')) return null;
  try {
    const binding = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    if (typeof binding.WriteWrap !== 'function' || !(binding.streamBaseState instanceof Int32Array) || typeof binding.kLastWriteWasAsync !== 'number') return null;
    return binding as StreamWrapBinding;
  } catch {
    return null;
  }
}

const binding = loadBinding();

function onComplete(this: WriteRequest, status: number): void {
  const owner = this.owner as DirectWriteOwner;
  const bytes = this.bytes;
  this.owner = null;
  this.buffer = null;
  owner.directWriteDone(bytes, status);
}

function newRequest(): WriteRequest {
  const req = new (binding as StreamWrapBinding).WriteWrap();
  req.handle = null;
  req.oncomplete = onComplete;
  req.buffer = null;
  req.bytes = 0;
  req.owner = null;
  return req;
}

/** The request for the next write: reused until a write goes asynchronous and keeps it. */
let spare: WriteRequest | null = null;

/** The constructor of plain TCP handles (set from the first socket seen: not exported by node:net). */
let tcpHandleType: unknown = null;

/** True when writes to `socket` may go through `writeDirect` (a plain TCP socket, direct writes available). */
export function canWriteDirect(socket: Socket): boolean {
  if (binding === null) return false;
  const handle = (socket as unknown as { _handle?: object | null })._handle;
  if (typeof handle !== 'object' || handle === null || typeof (handle as Partial<StreamHandle>).writeBuffer !== 'function') return false;
  const type = handle.constructor;
  if (tcpHandleType === null && type.name === 'TCP') tcpHandleType = type;
  return type === tcpHandleType;
}

/**
 * Writes `data` to the handle of `socket` (for which `canWriteDirect` was
 * true) when nothing is buffered in its Writable (`streamEmpty`: the caller
 * knows, and the stream is not read); the buffer must not change until the
 * write is done. UNAVAILABLE also for a socket without its handle (destroyed).
 */
export function writeDirect(socket: Socket, data: Uint8Array, owner: DirectWriteOwner, streamEmpty: boolean = false): DirectWrite {
  if (!streamEmpty && socket.writableLength !== 0) return DirectWrite.UNAVAILABLE;
  const handle = (socket as unknown as { _handle: StreamHandle | null })._handle;
  if (handle === null) return DirectWrite.UNAVAILABLE;
  const req = spare ?? newRequest();
  return settle(socket, handle, req, handle.writeBuffer(req, data), data, data.length, owner);
}

/**
 * The handle of `socket` (for which `canWriteDirect` was true), for
 * `writeToHandle`: net.Socket never gives a socket another handle (it drops
 * it when destroyed: `_handle` null), so the socket's writer may keep it.
 */
export function directHandle(socket: Socket): StreamHandle {
  return (socket as unknown as { _handle: StreamHandle })._handle;
}

/**
 * `writeDirect` with `streamEmpty` to the handle kept from `directHandle`,
 * without reading the socket (one object less per write). A handle that has
 * been closed since (the socket destroyed) fails the write (libuv's
 * descriptor is gone: EBADF; Node's binding: EINVAL, or nothing once its
 * C++ object is freed): FAILED, as a write whose peer is gone.
 */
export function writeToHandle(handle: StreamHandle, socket: Socket, data: Uint8Array, owner: DirectWriteOwner): DirectWrite {
  const req = spare ?? newRequest();
  return settle(socket, handle, req, handle.writeBuffer(req, data), data, data.length, owner);
}

/**
 * Writes `chunks` (`bytes` in all) to the handle of `socket` in one writev,
 * under the same conditions as `writeDirect`; neither the buffers nor the
 * array may change until the write is done (a queued write keeps the array).
 */
export function writevDirect(socket: Socket, chunks: readonly Uint8Array[], bytes: number, owner: DirectWriteOwner): DirectWrite {
  if (socket.writableLength !== 0) return DirectWrite.UNAVAILABLE;
  const handle = (socket as unknown as { _handle: StreamHandle | null })._handle;
  if (handle === null) return DirectWrite.UNAVAILABLE;
  const req = spare ?? newRequest();
  return settle(socket, handle, req, handle.writev(req, chunks, true), chunks, bytes, owner);
}

/** What became of a write the handle was given (`err`: its return value). */
function settle(socket: Socket, handle: StreamHandle, req: WriteRequest, err: number, data: Uint8Array | readonly Uint8Array[], bytes: number, owner: DirectWriteOwner): DirectWrite {
  if (err !== 0) {
    // Not reused: a write that failed after a partial try may have bound it before giving up.
    spare = null;
    socket.destroy();
    return DirectWrite.FAILED;
  }
  const state = (binding as StreamWrapBinding).streamBaseState;
  if (state[(binding as StreamWrapBinding).kLastWriteWasAsync] === 0) {
    spare = req;
    return DirectWrite.DONE;
  }
  // The request now belongs to the queued write (its C++ side points to it).
  spare = null;
  req.handle = handle;
  req.buffer = data;
  req.bytes = bytes;
  req.owner = owner;
  return DirectWrite.QUEUED;
}
