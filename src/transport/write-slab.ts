/**
 * Write coalescing for the read path: while one connection processes a read,
 * the small frames it writes are copied into a per-thread slab and leave as a
 * single buffer (one socket.write per read instead of one per frame).
 *
 * Measured with a 32-frame read of 32-byte echoes through the whole stack and
 * a socket stub: about 100 ns per message with the slab and the small-frame
 * path below, 150-300 ns with one socket.write per frame (Node 24, 2 shared
 * cores; the numbers move with load, the order does not).
 */
import { frameHeaderLength, writeFrameHeader } from '../protocol/frame-header.ts';

/** Frames up to this size are copied into the slab; larger ones are written as they are, not copied (but see `appendFrame`). */
export const COALESCE_MAX_BYTES = 4096;
/** Size of one slab (more for a larger frame); a full slab is replaced, not reused. */
export const SLAB_BYTES = 64 * 1024;
/**
 * A slab made larger than SLAB_BYTES for a large frame is kept while frames
 * larger than SLAB_BYTES keep coming (reused at each rewind), and replaced by
 * one of SLAB_BYTES once none came for one to two of these intervals.
 */
export const LARGE_SLAB_IDLE_MS = 1000;

/** Whoever is reading: the slab hands its region to it, to be written to its socket in order with its other writes. */
export interface SlabOwner {
  writeRegion(region: Uint8Array): void;
}

/**
 * The per-thread slab. Bytes before `used` are not rewritten: each flushed
 * region is a view the socket may hold until it is written, and a full slab is
 * replaced by a new one rather than reused. The one exception is `rewind`:
 * once the owner's socket has written everything (nothing of it left in the
 * socket's buffer or in libuv), the owner's region is free again, and the
 * next read writes over it: the slab stays in the cache and costs no fresh
 * pages. A slab made larger for a large frame is let go once large frames
 * stop coming (LARGE_SLAB_IDLE_MS).
 */
export class WriteSlab {
  /** The connection whose read is being processed, or null outside reads. */
  owner: SlabOwner | null;
  #buffer: Buffer;
  #used: number;
  /** Start of the owner's region not yet written to its socket. */
  #start: number;
  /** Start of the region of the current (or last) read's owner in `#buffer`. */
  #regionStart: number;
  /** A frame larger than SLAB_BYTES was copied since the idle timer was set. */
  #largeCopied: boolean;
  /** Set at the first copy of a frame larger than SLAB_BYTES, until the slab is back to SLAB_BYTES (`#letGoIfIdle`). */
  #idleTimer: ReturnType<typeof setTimeout> | null;

  constructor() {
    this.owner = null;
    this.#buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
    this.#used = 0;
    this.#start = 0;
    this.#regionStart = 0;
    this.#largeCopied = false;
    this.#idleTimer = null;
  }

  /** Starts coalescing for `owner`'s read. Pair with `end()`. */
  begin(owner: SlabOwner): void {
    this.owner = owner;
    this.#start = this.#used;
    this.#regionStart = this.#used;
  }

  /**
   * After `end()`: the last owner's socket has written all of its region (the
   * kernel took every byte at once: its read's collected writev completed, or
   * its writable buffer was empty right after the uncork, and nothing of it is
   * queued in libuv), so that region may be written over.
   */
  rewind(): void {
    this.#used = this.#start = this.#regionStart;
  }

  /** Bytes of the slab kept now: SLAB_BYTES, or more for a while after a larger frame (`#reserve`). */
  get retainedBytes(): number {
    return this.#buffer.length;
  }

  /** Writes what the owner coalesced and stops coalescing. */
  end(): void {
    this.flush();
    this.owner = null;
  }

  /**
   * Copies `frames` (`bytes` in all, at most SLAB_BYTES) into one region and
   * returns it (a view, never rewritten). For a slab without owners only: a
   * join uses no owner's region.
   */
  join(frames: readonly Uint8Array[], bytes: number): Uint8Array {
    if (this.#used + bytes > SLAB_BYTES) {
      this.#buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.#used = 0;
    }
    const buffer = this.#buffer;
    const at = this.#used;
    let offset = at;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i] as Uint8Array;
      buffer.set(frame, offset);
      offset += frame.length;
    }
    this.#used = this.#start = offset;
    return buffer.subarray(at, offset);
  }

  /** Writes the owner's pending region to its socket now (a view, no copy). Call before writing to it any other way. */
  flush(): void {
    if (this.#used === this.#start) return;
    (this.owner as SlabOwner).writeRegion(this.#buffer.subarray(this.#start, this.#used));
    this.#start = this.#used;
  }

  /** Copies `data` (at most COALESCE_MAX_BYTES) into the owner's region. */
  append(data: Uint8Array): void {
    const at = this.#reserve(data.length);
    this.#buffer.set(data, at);
  }

  /**
   * Appends a whole unmasked, unfragmented data frame: the header written in
   * place, then a copy of the payload (of any size: a larger payload than a
   * slab gets a slab of its size). RFC 6455 §5.2: FIN set, RSV clear, the
   * opcode; MASK clear (server frames are never masked, §5.1), and "the
   * minimal number of bytes MUST be used to encode the length".
   */
  appendFrame(opcode: number, payload: Uint8Array): void {
    const length = payload.length;
    const at = this.#reserve(length + frameHeaderLength(length, false));
    // After #reserve: it may have replaced the slab.
    const buffer = this.#buffer;
    buffer.set(payload, writeFrameHeader(buffer, at, opcode, length, true, false, null));
  }

  /**
   * Appends only the header of such a frame, for a payload the caller writes
   * right after it, as it is (flush first): a large reply costs no header
   * allocation and leaves with the rest of the read in one writev.
   */
  appendFrameHeader(opcode: number, payloadLength: number): void {
    const at = this.#reserve(frameHeaderLength(payloadLength, false));
    writeFrameHeader(this.#buffer, at, opcode, payloadLength, true, false, null);
  }

  /** Returns the offset of `length` free bytes in the owner's region, starting a new slab when full. */
  #reserve(length: number): number {
    if (this.#used + length > this.#buffer.length) {
      this.flush();
      this.#replace(Math.max(SLAB_BYTES, length));
    }
    if (length > SLAB_BYTES) {
      if (this.#idleTimer === null) this.#watchIdle();
      else this.#largeCopied = true;
    }
    const at = this.#used;
    this.#used = at + length;
    return at;
  }

  /** Starts writing into a new slab of `bytes` (the old one is left to the views of it that sockets still hold). */
  #replace(bytes: number): void {
    this.#buffer = Buffer.allocUnsafeSlow(bytes);
    this.#used = 0;
    this.#start = 0;
    this.#regionStart = 0;
  }

  #watchIdle(): void {
    this.#idleTimer = setTimeout(this.#letGoIfIdle, LARGE_SLAB_IDLE_MS);
    this.#idleTimer.unref();
  }

  /**
   * Bound once; runs between reads (never while an owner's region is open).
   * Without it, the thread would keep as much memory as the largest reply it
   * ever copied for as long as it runs; dropping it at once instead (at the
   * next rewind) costs a fresh large buffer per reply to a stream of large
   * borrowed messages (bench/micro/large-messages.ts, "borrowed": 2 to 3.6
   * times the CPU per message at 256 KiB and 1 MiB).
   */
  readonly #letGoIfIdle = (): void => {
    const copied = this.#largeCopied;
    this.#idleTimer = null;
    this.#largeCopied = false;
    // Back to the normal size already (a full large slab was replaced by a new one).
    if (this.#buffer.length <= SLAB_BYTES) return;
    if (copied) this.#watchIdle();
    else this.#replace(SLAB_BYTES);
  };
}

/** This thread's slab. */
export const writeSlab = new WriteSlab();

/**
 * This thread's slab for the frames a connection got outside its own reads
 * in one event-loop turn (fan-out), joined into one buffer at the end of the
 * turn (socket-binding.ts); it has no owners. Separate from `writeSlab`: a
 * connection's pending frames may be joined during another connection's
 * read, whose region in `writeSlab` must stay contiguous.
 */
const turnSlab = new WriteSlab();

/**
 * The frames (each at most COALESCE_MAX_BYTES, `bytes` in all) copied into
 * one buffer: a region of this thread's turn slab, whose bytes are never
 * rewritten, or a buffer of its own past the size of a slab.
 */
export function joinFrames(frames: readonly Uint8Array[], bytes: number): Uint8Array {
  return bytes > SLAB_BYTES ? Buffer.concat(frames, bytes) : turnSlab.join(frames, bytes);
}

/** What a SharedJoin remembers when nothing is joined. */
const NO_FRAMES: readonly Uint8Array[] = [];

/**
 * The last frames joined in a turn end and their join, for the connections
 * that follow with the same frames in the same order (the subscribers of the
 * same topics get the same publications): they get that same buffer, with no
 * copy. Frames are compared by identity: a frame's bytes are never rewritten
 * while it is being sent, and the join is forgotten at the end of the turn.
 */
export class SharedJoin {
  /** The frames of `joined`, in order: the list of the connection that joined them, which it no longer changes. */
  #frames: readonly Uint8Array[];
  joined: Uint8Array | null;

  constructor() {
    this.#frames = NO_FRAMES;
    this.joined = null;
  }

  /** True when `frames` are the remembered ones, in the same order. */
  matches(frames: readonly Uint8Array[]): boolean {
    const remembered = this.#frames;
    if (this.joined === null || remembered.length !== frames.length) return false;
    for (let i = 0; i < frames.length; i++) if (remembered[i] !== frames[i]) return false;
    return true;
  }

  /** `matches` for two frames (a connection's pending pair, with no list). */
  matchesPair(first: Uint8Array, second: Uint8Array): boolean {
    const remembered = this.#frames;
    return this.joined !== null && remembered.length === 2 && remembered[0] === first && remembered[1] === second;
  }

  /** Remembers `frames` (kept, not copied: the caller must not change the list afterwards) and their join. */
  remember(frames: readonly Uint8Array[], joined: Uint8Array): void {
    this.#frames = frames;
    this.joined = joined;
  }

  forget(): void {
    this.#frames = NO_FRAMES;
    this.joined = null;
  }
}
