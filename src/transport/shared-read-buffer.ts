/**
 * The worker thread's read buffer for plain TCP sockets (net.Socket's
 * `onread`: every read of every such socket lands in it, socket-binding.ts
 * `sharedReads`), and the one way it is replaced.
 *
 * A lent message (an app with `borrowMessages`) is a view of this buffer,
 * and its echo may be written from it by reference: when the kernel takes
 * the whole write at once (nearly always: `shoal bench` echo at 16 KiB,
 * 64 KiB and 1 MiB never left a byte behind), nothing refers to the buffer
 * once the read is over. When a write that refers to it is left in libuv
 * (the kernel took only part of it), the next read of any socket would
 * write over bytes still to be sent: every socket is then moved to a fresh
 * buffer (`replace`) before control goes back to the event loop, and the
 * old one stays alive, referenced by the write, until it is sent. Moving a
 * socket is one call into its handle (`useUserBuffer`, what net.Socket
 * itself calls for `onread`); it stacks a small native read listener
 * (tens of bytes) on the handle, freed when the socket closes. So
 * `replace` costs one call and one listener per live socket of the worker,
 * which is why the binding writes by reference only to sockets that had
 * nothing queued as the read began, never within REPLACE_MIN_INTERVAL_MS of
 * a replacement, and not at all once the worker has replaced the buffer
 * MAX_REPLACEMENTS times (socket-binding.ts `send`: such replies are copied
 * instead).
 */
import { UnmaskArena, WASM_PAGE_BYTES, useUnmaskArena } from '../protocol/wasm-unmask.ts';
import { SlotList } from './slot-list.ts';

/** A stream handle's method that sets the memory its next reads land in. */
interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/** After a replacement, writes from the buffer copy for this long, so that replacing costs a bounded share of the worker. */
export const REPLACE_MIN_INTERVAL_MS = 100;

/** Replacements in a worker's life, at most: bounds the listeners stacked on long-lived sockets (MAX_REPLACEMENTS per socket). */
export const MAX_REPLACEMENTS = 16;

/** What reads into the buffer: a connection's binding, registered for as long as its socket (or bare handle, bare-tcp.ts) can read. */
export interface ReadBufferReader {
  /** The stream handle its reads land through; null when it reads no more (closed, being destroyed). */
  readonly readHandle: object | null;
  /** Index in the buffer's list of readers (slot-list.ts), -1 when in none; only the buffer writes it. */
  readerSlot: number;
}

export class SharedReadBuffer {
  /** Where the next read of every registered socket lands. */
  buffer: Buffer;
  /** Its ArrayBuffer (`buffer.buffer`, kept so that a view is told without the getter's call). */
  memory: ArrayBufferLike;
  /** Times the buffer was replaced. */
  replacements: number;
  /** The clock's time of the last replacement (-Infinity: none yet). */
  replacedAt: number;
  /** The readers of sockets created with this buffer as their `onread` buffer, until each socket closes. */
  readonly #readers: SlotList<ReadBufferReader>;

  constructor(bytes: number) {
    this.buffer = allocate(bytes);
    this.memory = this.buffer.buffer;
    this.replacements = 0;
    this.replacedAt = -Infinity;
    this.#readers = new SlotList({ get: (reader) => reader.readerSlot, set: (reader, slot) => (reader.readerSlot = slot) });
  }

  /** Registers a reader whose socket's reads land in `buffer` (created with it as its `onread` buffer). */
  add(reader: ReadBufferReader): void {
    this.#readers.add(reader);
  }

  /** Forgets a reader whose socket has closed (nothing when it is not registered). */
  delete(reader: ReadBufferReader): void {
    this.#readers.delete(reader);
  }

  /**
   * True when a write referring to the buffer may be left queued at `now`
   * (milliseconds, a monotonic clock): the replacements are not used up and
   * none was in the last REPLACE_MIN_INTERVAL_MS.
   */
  mayPin(now: number): boolean {
    return this.replacements < MAX_REPLACEMENTS && now - this.replacedAt >= REPLACE_MIN_INTERVAL_MS;
  }

  /**
   * A write in flight refers to the buffer: moves every registered socket to
   * a fresh one. Call before control returns to the event loop (before any
   * other read).
   */
  replace(now: number): void {
    const next = allocate(this.buffer.length);
    this.buffer = next;
    this.memory = next.buffer;
    this.replacements++;
    this.replacedAt = now;
    this.#readers.forEach((reader) => {
      const handle = reader.readHandle as UserBufferHandle | null;
      if (handle !== null) handle.useUserBuffer(next);
    });
  }
}

/**
 * A read buffer of `bytes`: the memory of a WebAssembly unmasking arena when
 * it is a whole number of pages and WebAssembly SIMD is there, made the
 * thread's arena (a frame inside a read is then unmasked in place by
 * protocol/wasm-unmask.ts), else a plain buffer.
 */
function allocate(bytes: number): Buffer {
  if (!UnmaskArena.available || bytes % WASM_PAGE_BYTES !== 0) return Buffer.allocUnsafeSlow(bytes);
  let arena: UnmaskArena;
  try {
    arena = new UnmaskArena(bytes / WASM_PAGE_BYTES);
  } catch {
    // No address space for one more WebAssembly memory (V8 reserves guard regions for each; a `ulimit -v`):
    // a plain buffer, its frames unmasked by the other paths.
    useUnmaskArena(null);
    return Buffer.allocUnsafeSlow(bytes);
  }
  useUnmaskArena(arena);
  return arena.buffer;
}
