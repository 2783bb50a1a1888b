/**
 * BareTcp: a plain TCP connection received from the primary (a TCP handle,
 * accept-handles.ts), driven through its libuv handle without a net.Socket
 * until something needs one (`toSocket`).
 *
 * Why: a WebSocket connection's usual life in a worker reads into the
 * worker's read buffer (the handle's `onread` with a user buffer), writes
 * straight to the handle (direct-write.ts) and closes the handle at the end
 * of a clean closing handshake (destroy-quietly.ts): nothing of it goes
 * through the Socket's streams. Yet every connection paid for a Socket: its
 * construction (the Duplex and its two stream states, listeners, the first
 * `read(0)`), its `destroy` (the stream's destroyed state, `nextTick`s) and
 * Node's dispatch of each read through the Socket (`onStreamRead`): about
 * 1.5 KB allocated and a tenth of a worker's JavaScript per handshake in a
 * connection storm (perf, bench/handshake-cost.ts).
 *
 * How: the handle reads into the read buffer with an `onread` of its own
 * (`streamBaseState` holds each read's length, as for Node's own); writes go
 * to the handle (`writeHandle`); `close` closes it without a callback (no
 * call into JavaScript when libuv frees it), keeping its byte counts.
 * Whatever else happens (the end of input or a read error, a write that
 * fails, a pause, a write through a stream, a refusal, the HTTP side), the
 * owner calls `toSocket`: a net.Socket is built around the handle, as
 * adopt-socket.ts would have built it at once (same `onread`; `manualStart`,
 * the handle being read already), and the owner uses it from then on. An end
 * of input or a read error is handed to Node's own `onread` of that Socket,
 * so it ends or errors as any Socket would.
 *
 * Only where Node's internals are as expected (`BareTcp.available`: the
 * stream_wrap binding of direct-write.ts, Node's TCP handle with
 * `readStart`, `useUserBuffer`, `writeBuffer`); else connections are adopted
 * as Sockets at once.
 */
import { Socket } from 'node:net';
import type { OnRead } from './adopt-socket.ts';
import { streamWrap } from './direct-write.ts';

/** The handle's property that leads its reads back to its BareTcp (Node's own Socket uses a symbol the same way). */
const ownerKey = Symbol('shoal.bareTcp');

/** The parts of Node's TCP handle (tcp_wrap, a LibuvStreamWrap) this drives. */
interface BareHandle {
  onread: (this: BareHandle, arrayBuffer: ArrayBuffer | undefined) => unknown;
  /** Node's flag for a handle whose reads are started (net.Socket's pause and resume read it). */
  reading: boolean;
  readStart(): number;
  useUserBuffer(buffer: Uint8Array): void;
  writeBuffer(...args: unknown[]): number;
  getpeername(out: { address?: string }): number;
  close(callback?: () => void): void;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  [ownerKey]?: BareTcp;
}

/** Whom a BareTcp hands its reads to. */
export interface BareTcpReader {
  /** `length` bytes were read into the read buffer of the moment (`OnRead.buffer`). */
  bareRead(length: number): void;
  /**
   * The end of input or a read error: the reader must take the connection's
   * Socket now (`toSocket`), to which the event is then handed.
   */
  bareReadEnded(): void;
}

/** The reader of a BareTcp not started yet. */
const noReader: BareTcpReader = { bareRead() {}, bareReadEnded() {} };

function onBareRead(this: BareHandle): unknown {
  const state = (streamWrap as NonNullable<typeof streamWrap>).streamBaseState;
  const index = (streamWrap as NonNullable<typeof streamWrap>).kReadBytesOrError;
  const nread = state[index] as number;
  const tcp = this[ownerKey];
  if (tcp === undefined) return undefined;
  if (nread > 0) {
    tcp.reader.bareRead(nread);
    return undefined;
  }
  if (nread === 0) return undefined;
  // The end of input or an error: the Socket takes it, as if it had read it itself.
  tcp.reader.bareReadEnded();
  const onread = this.onread;
  if (onread === onBareRead) return undefined;
  state[index] = nread;
  return onread.call(this, undefined);
}

export class BareTcp {
  /** True where Node's internals allow driving a TCP handle without a Socket. */
  static readonly available: boolean = streamWrap !== null;

  /** True when `handle` is a TCP handle this can drive (otherwise adopt it as a Socket). */
  static accepts(handle: object): boolean {
    const h = handle as Partial<BareHandle>;
    return BareTcp.available && typeof h.readStart === 'function' && typeof h.useUserBuffer === 'function' && typeof h.writeBuffer === 'function' && handle.constructor.name === 'TCP';
  }

  /** Set by `start`. */
  reader: BareTcpReader;
  /** The handle while this drives it: null once closed or handed to a Socket. */
  #handle: BareHandle | null;
  readonly #onread: OnRead;
  #socket: Socket | null;
  #closed: boolean;
  #bytesRead: number;
  #bytesWritten: number;
  #peer: { address?: string } | null;

  /** Takes `handle` (for which `accepts` was true), to read into `onread.buffer` once started. */
  constructor(handle: object, onread: OnRead) {
    this.reader = noReader;
    this.#handle = handle as BareHandle;
    this.#onread = onread;
    this.#socket = null;
    this.#closed = false;
    this.#bytesRead = 0;
    this.#bytesWritten = 0;
    this.#peer = null;
  }

  /**
   * Starts reading (what net.Socket's constructor does with `onread`), each
   * read reported to `reader`; false when the handle refused (then take the
   * Socket, `toSocket`, and destroy it).
   */
  start(reader: BareTcpReader): boolean {
    this.reader = reader;
    const handle = this.#handle as BareHandle;
    handle[ownerKey] = this;
    handle.onread = onBareRead;
    handle.useUserBuffer(this.#onread.buffer);
    handle.reading = true;
    return handle.readStart() === 0;
  }

  /** The handle for direct writes (direct-write.ts `writeHandle`), null once closed or handed to a Socket. */
  get handle(): object | null {
    return this.#handle;
  }

  /** True once `close` closed the handle. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes read and written on the wire (as net.Socket's `bytesRead` and `bytesWritten`), kept after `close` (not after `toSocket`: ask the Socket). */
  get bytesRead(): number {
    return this.#handle === null ? this.#bytesRead : this.#handle.bytesRead;
  }

  get bytesWritten(): number {
    return this.#handle === null ? this.#bytesWritten : this.#handle.bytesWritten;
  }

  /** The peer's address (a getpeername system call, once), undefined when unknown (as net.Socket's `remoteAddress`). */
  get remoteAddress(): string | undefined {
    if (this.#peer === null) {
      const handle = this.#handle;
      if (handle === null) return undefined;
      const out: { address?: string } = {};
      if (handle.getpeername(out) !== 0) return undefined;
      this.#peer = out;
    }
    return this.#peer.address;
  }

  /** Closes the descriptor at once, without a callback (nothing calls into JavaScript when libuv frees the handle). */
  close(): void {
    const handle = this.#handle;
    if (handle === null) return;
    this.#bytesRead = handle.bytesRead;
    this.#bytesWritten = handle.bytesWritten;
    this.#handle = null;
    this.#closed = true;
    // No read comes after close; one still dispatched finds no owner.
    handle[ownerKey] = undefined;
    handle.close();
  }

  /**
   * The connection as a net.Socket, made on the first call: around the
   * handle, reading as before (its reads go to `onread.callback` from now
   * on); after `close`, an inert destroyed Socket. This BareTcp drives
   * nothing afterwards.
   */
  toSocket(): Socket {
    if (this.#socket !== null) return this.#socket;
    const handle = this.#handle;
    let socket: Socket;
    if (handle === null) {
      socket = new Socket();
      socket.destroy();
    } else {
      handle[ownerKey] = undefined;
      // The handle is reading already (`reading` set by `start`): no read(0) to start it again.
      socket = new Socket({ handle, onread: this.#onread, manualStart: true } as unknown as ConstructorParameters<typeof Socket>[0]);
    }
    this.#socket = socket;
    this.#handle = null;
    return socket;
  }
}
