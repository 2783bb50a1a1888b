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

interface StreamHandle {
  writeBuffer(req: WriteRequest, data: Uint8Array): number;
  writev(req: WriteRequest, chunks: readonly Uint8Array[], allBuffers: true): number;
}

/** Node's stream_wrap binding: the write request's constructor and the state its C++ reports a write's and a read's outcome in. */
export interface StreamWrapBinding {
  WriteWrap: new () => WriteRequest;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
  /** Index of a read's length (or error) in `streamBaseState`, for a handle's own `onread` (bare-tcp.ts). */
  kReadBytesOrError: number;
}

/** What a direct write did. */
export const DirectWrite = {
  /** Not attempted (not a plain TCP socket, data buffered in its stream, or no binding): use socket.write. */
  UNAVAILABLE: 0,
  /** The kernel took it all. */
  DONE: 1,
  /** Queued in libuv; the owner's `directWriteDone` follows. */
  QUEUED: 2,
  /** The write failed (the peer is gone): the socket has been destroyed (a bare handle: left to the caller). */
  FAILED: 3,
} as const;
export type DirectWrite = (typeof DirectWrite)[keyof typeof DirectWrite];

function loadBinding(): StreamWrapBinding | null {
  if (process.execArgv.includes('--pending-deprecation') || process.env.NODE_PENDING_DEPRECATION === '1' || /--pending-deprecation/.test(process.env.NODE_OPTIONS ?? '')) return null;
  try {
    const binding = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    if (typeof binding.WriteWrap !== 'function' || !(binding.streamBaseState instanceof Int32Array) || typeof binding.kLastWriteWasAsync !== 'number' || typeof binding.kReadBytesOrError !== 'number') return null;
    return binding as StreamWrapBinding;
  } catch {
    return null;
  }
}

const binding = loadBinding();

/** The stream_wrap binding, null where direct writes are off (then bare-tcp.ts is off too). */
export const streamWrap: StreamWrapBinding | null = binding;

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
  return destroyIfFailed(socket, writeHandle(handle, data, owner));
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
  return destroyIfFailed(socket, writevHandle(handle, chunks, bytes, owner));
}

function destroyIfFailed(socket: Socket, written: DirectWrite): DirectWrite {
  if (written === DirectWrite.FAILED) socket.destroy();
  return written;
}

/**
 * `writeDirect` for a plain TCP handle without a Socket (bare-tcp.ts, whose
 * caller writes nothing through a stream): FAILED leaves the handle to the
 * caller to close.
 */
export function writeHandle(handle: object, data: Uint8Array, owner: DirectWriteOwner): DirectWrite {
  const req = spare ?? newRequest();
  return settle(handle as StreamHandle, req, (handle as StreamHandle).writeBuffer(req, data), data, data.length, owner);
}

/** `writevDirect` for a plain TCP handle without a Socket, as `writeHandle`. */
export function writevHandle(handle: object, chunks: readonly Uint8Array[], bytes: number, owner: DirectWriteOwner): DirectWrite {
  const req = spare ?? newRequest();
  return settle(handle as StreamHandle, req, (handle as StreamHandle).writev(req, chunks, true), chunks, bytes, owner);
}

/** What became of a write the handle was given (`err`: its return value). */
function settle(handle: StreamHandle, req: WriteRequest, err: number, data: Uint8Array | readonly Uint8Array[], bytes: number, owner: DirectWriteOwner): DirectWrite {
  if (err !== 0) {
    // Not reused: a write that failed after a partial try may have bound it before giving up.
    spare = null;
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
