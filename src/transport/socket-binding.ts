/**
 * SocketBinding: the glue between one net.Socket and its ServerConnection and
 * ConnectionActor. It reads (every reply to a read leaves in one writev: collected
 * and written straight to the TCP handle, or corked in the socket's stream when it
 * holds something), writes (held per event-loop turn outside reads),
 * pauses reading for a full mailbox or a full send buffer, applies the
 * slow-consumer policy, and answers the worker's sweeper (handshake timeout,
 * idle timeout, pings, close timeout).
 *
 *   HANDSHAKE ──head──> UPGRADING ──101──> OPEN ──close──> CLOSING ──TCP close──> DONE
 *       │                  │
 *       └────4xx/408/503───┴──> REFUSED ──TCP close──> DONE
 */
import type { Socket } from 'node:net';
import type { ConnectionActor, ActorTransport } from '../actors/connection-actor.ts';
import { closeTopicBatch, fanOut } from '../app/pubsub/topic-batch.ts';
import { CloseCode, Opcode } from '../protocol/constants.ts';
import { ConnectionState, ServerConnection, type ConnectionHandler } from '../protocol/connection.ts';
import { keepLentBuffer, reuseLentBuffer } from '../protocol/frame-decoder.ts';
import { frameHeaderLength } from '../protocol/frame-header.ts';
import type { HandshakeParser } from '../protocol/handshake-parser.ts';
import type { PerMessageDeflate } from '../protocol/permessage-deflate.ts';
import { log } from '../telemetry/logger.ts';
import { logPeerCaused } from '../telemetry/rate-limited-log.ts';
import { beginRead, endRead } from '../telemetry/read-clock.ts';
import { workerCounters } from '../telemetry/worker-metrics.ts';
import type { OnRead } from './adopt-socket.ts';
import { BareTcp, type BareTcpReader } from './bare-tcp.ts';
import { destroyQuietly } from './destroy-quietly.ts';
import { DirectWrite, canWriteDirect, writeDirect, writeHandle, writevDirect, writevHandle, type DirectWriteOwner } from './direct-write.ts';
import { clock } from './heartbeat.ts';
import { emptyConnectionStats, type ConnectionStats } from './messages.ts';
import { SharedReadBuffer, type ReadBufferReader } from './shared-read-buffer.ts';
import { COALESCE_MAX_BYTES, SharedJoin, joinFrames, writeSlab } from './write-slab.ts';

/** Phases of a binding; see the diagram at the top of the file. */
export const BindingPhase = {
  HANDSHAKE: 0,
  UPGRADING: 1,
  OPEN: 2,
  CLOSING: 3,
  REFUSED: 4,
  DONE: 5,
} as const;

/** Why reading is paused (bits; reading resumes when none is left). */
const PAUSED_MAILBOX = 1;
const PAUSED_WRITES = 2;
const PAUSED_UPGRADE = 4;

/** Close reason of the idle policy. */
export const IDLE_TIMEOUT_REASON = 'idle timeout';

/** What the worker decides for a binding. */
export interface BindingDelegate {
  /** A chunk of the request head arrived (phase HANDSHAKE). */
  handshakeData(binding: SocketBinding, chunk: Buffer): void;
  /** The head did not arrive within the handshake timeout. */
  handshakeTimedOut(binding: SocketBinding): void;
  /** The socket has closed; `binding.stats` is final. Called once. */
  closed(binding: SocketBinding): void;
}

/** Limits and timeouts a binding applies. */
export interface BindingConfig {
  readonly maxMessageBytes: number;
  readonly maxBackpressureBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly closeTimeoutMs: number;
}

/**
 * Socket -> binding, for the shared listeners below (no closures per
 * connection). A WeakMap rather than a property on the socket: one more
 * property pushes a net.Socket into dictionary mode, which costs about
 * 1.6 KB per connection (measured with a heap snapshot of 2,000 idle
 * connections).
 */
const bindings = new WeakMap<Socket, SocketBinding>();

function onSocketData(this: Socket, chunk: Buffer): void {
  (bindings.get(this) as SocketBinding).receive(chunk, false);
}

/**
 * Size of the worker's read buffer. Larger than Node's 64 KiB reads: a
 * 1 MiB message arrives in 4 reads rather than 16 (one buffer per worker
 * thread, whatever the number of connections). Server CPU per message with
 * 64 KiB instead (`shoal bench --workers 1`, alternated, 3 rounds,
 * medians): 1 MiB echo 665 vs 611 us, 64 KiB 45.8 vs 43.6 us, 16 KiB
 * 12.5 vs 12.7 us.
 */
const READ_BUFFER_BYTES = 256 * 1024;

/** This thread's read buffer (shared-read-buffer.ts): replaced when a write in flight still refers to it. */
export const readBuffer = new SharedReadBuffer(READ_BUFFER_BYTES);

/**
 * Reads of plain TCP sockets land in this one buffer of the worker thread
 * (net.Socket's `onread` option) instead of a fresh Buffer per read pushed
 * through the socket's Readable stream: that allocation and the stream's
 * machinery (push, 'data') were about 1/6 of a worker's time for large
 * echo (--cpu-prof). The buffer is reused by the next read of any socket,
 * so nothing may keep a view of it past `receive`: a short read is copied
 * whole (below), the frame decoder copies what it hands out or keeps of a
 * longer one (FrameDecoder.push, `borrowed`), the handshake gets a copy of
 * its chunk. A socket without a binding (handed to the HTTP side by
 * `detach`) gets a copy of each read through its stream, so that Node's
 * HTTP server reads it as any socket.
 */
export const sharedReads: OnRead = {
  // Read when a socket is created: the buffer of the moment (its binding, made with `readsShared`, registers with `readBuffer`).
  get buffer(): Buffer {
    return readBuffer.buffer;
  },
  callback: onSharedRead,
};

/**
 * Reads shorter than this are copied out of the read buffer whole, into
 * Node's buffer pool (Buffer.allocUnsafe's limit), and decoded as owned
 * chunks: one small copy per read instead of one per message in it.
 */
const COPIED_READ_MAX_BYTES = (Buffer.poolSize >>> 1) - 1;

function onSharedRead(this: Socket, length: number): boolean {
  const binding = bindings.get(this);
  if (binding !== undefined) {
    receiveShared(binding, length);
    return true;
  }
  return this.push(Buffer.copyBytesFrom(readBuffer.buffer, 0, length));
}

/** Hands `binding` the `length` bytes just read into the read buffer (a socket's, or a bare handle's: bare-tcp.ts). */
function receiveShared(binding: SocketBinding, length: number): void {
  // Not the buffer the socket or handle was given (the one of its creation): `replace` moved the handle since.
  const buffer = readBuffer.buffer;
  if (length > COPIED_READ_MAX_BYTES) {
    binding.receive(buffer.subarray(0, length), true);
  } else {
    const chunk = Buffer.allocUnsafe(length);
    buffer.copy(chunk, 0, 0, length);
    binding.receive(chunk, false);
  }
}
function onSocketDrain(this: Socket): void {
  bindings.get(this)?.drained();
}
function onSocketError(this: Socket): void {
  // The 'close' event that follows does the bookkeeping; without a listener
  // an ECONNRESET would be an uncaught exception that kills the worker.
}
function destroyWhenSent(this: Socket): void {
  this.destroy();
}
function onSocketClose(this: Socket): void {
  bindings.get(this)?.socketClosed();
}

/** The last join of this thread's turn end, shared by the connections that follow with the same frames. */
const sharedJoin = new SharedJoin();

/**
 * The memory of the lent message being handled (ArrayBuffer of the read
 * buffer or of the decoder's reused message buffer), null when none is:
 * the message is valid only until its delivery returns, so what any
 * connection of the thread sends from that memory meanwhile is copied
 * before it is queued, except a reply written by reference (`send`). One
 * per thread: deliveries do not nest.
 */
let lentMemory: ArrayBufferLike | null = null;
/**
 * The lent message itself while `lentMemory` is set: a reply that is this
 * very view (an echo) is known to be lent, and its memory known, without
 * reading its `buffer` (a call into V8's runtime each time, about 1 % of
 * the worker under the 64 KiB echo, perf).
 */
let lentMessage: Uint8Array | null = null;

/**
 * A reply of the current read was written from the read buffer by
 * reference: if the socket cannot write it all at once, the read buffer
 * must be replaced before the next read (`#feed`).
 */
let wroteFromReadBuffer = false;

/**
 * Nothing written to the socket before the current read was still queued
 * when it began: its lent replies may be written by reference (`send`), as
 * they all leave with the read's one writev.
 */
let lentByReference = false;

/**
 * The decoder's message buffer that a reply of the current read was written
 * from by reference (kept from the decoder: `keepLentBuffer`), null when
 * none was: reused once the read's writes have all gone out, else left to
 * the write that still refers to it (`#feed`). One per read at most.
 */
let heldAssembly: Buffer | null = null;

/**
 * The binding whose read's writes are being collected for one writev
 * straight to its TCP handle (`#feed`), null when none is; the writes so
 * far, in order, and their bytes. The list is reused from read to read,
 * unless a write left queued in libuv keeps it.
 */
let collector: SocketBinding | null = null;
let collected: Uint8Array[] = [];
let collectedBytes = 0;

/** One connection's socket side, from the first byte to the TCP close. */
export class SocketBinding implements ConnectionHandler, ActorTransport, DirectWriteOwner, ReadBufferReader, BareTcpReader {
  phase: number;
  /** The head parser while in HANDSHAKE (owned by the worker). */
  parser: HandshakeParser | null;
  connection: ServerConnection | null;
  actor: ConnectionActor | null;
  /**
   * When the connection's handshake deadline started: performance.now() (the origin of clock.now,
   * but precise: the handshake duration histogram reads it) at the binding's creation, or at an
   * earlier stage's (the PROXY header, TLS: connection-host.ts).
   */
  readonly startedAt: number;
  /**
   * The client's address when it is not the socket's peer (a PROXY protocol
   * header, or a trusted proxy's Forwarded header); null: the socket's.
   */
  clientAddress: string | null;
  /** clock.now of the last byte received. */
  lastReadAt: number;
  lastPingAt: number;
  /** clock.now past which the socket is destroyed; 0 while no close is under way. */
  closeDeadline: number;
  /** Reports the connection's final stats to the worker's lane (its `done` callback); set by the ConnectionHost. */
  resolve: ((stats: ConnectionStats) => void) | null;
  /** Index in the ConnectionHost's list of live bindings (slot-list.ts), -1 when in none; only that list writes it. */
  hostSlot: number;
  /** Index in the read buffer's list of readers (shared-read-buffer.ts), -1 when in none. */
  readerSlot: number;
  #stats: ConnectionStats;
  /**
   * Bytes framed for this connection and not yet added to `#stats.bytesOut` (the `stats` getter adds them): a
   * delivery then writes only the binding, not the stats object as well (one object, a cache miss, less per
   * subscriber in a fan-out's walk).
   */
  #bytesOut: number;
  /** Framed messages written through `sendFrame` and `sendFrames` (ActorTransport.framesOut). */
  #framesOut: number;
  #config: BindingConfig;
  #delegate: BindingDelegate;
  #pauseReasons: number;
  #inRead: boolean;
  #tickCorked: boolean;
  /** In the list of bindings finished at the end of this event-loop turn (`#finishTurn`). */
  #queued: boolean;
  /**
   * The first small frame written outside this connection's reads in this
   * turn and not yet handed to the socket (null: none); with the frames
   * after it they leave in one buffer at the end of the turn or before any
   * other write (`#flushPending`).
   */
  #pendingFrame: Uint8Array | null;
  /**
   * The second pending frame (null: fewer than two). Most turns of a
   * subscriber hold one frame, or two (a topic batch: its first publication,
   * then the others joined, app/pubsub/topic-batch.ts), which then cost no
   * list (a list per subscriber per turn was an allocation and its writes).
   */
  #pendingSecond: Uint8Array | null;
  /**
   * All of the turn's pending frames, in order, once there are three or more
   * (null while there are fewer; emptying a reused list for every delivery
   * was a V8 runtime call, ~2% of a worker's time in raw-broadcast, perf).
   */
  #pendingList: Uint8Array[] | null;
  /** Bytes of the pending frames, counted with the socket's buffer by the slow-consumer policy. */
  #pendingBytes: number;
  /** The socket takes direct handle writes (direct-write.ts): plain TCP. */
  #direct: boolean;
  /** Bytes of direct writes still queued in libuv, counted like `#pendingBytes`. */
  #directBytes: number;
  #closeNotified: boolean;
  /** The closing handshake completed during the current read: close TCP once the read's writes are out (`onClose`). */
  #destroyAfterRead: boolean;
  /**
   * Sends of Uint8Arrays shorter than this during a read are framed by the
   * binding itself (see `send`): every length without permessage-deflate,
   * else up to the compression threshold, so that compressed messages still
   * go through the compressor.
   */
  #slabFrameLimit: number;
  /**
   * The number of the last topic batch whose first publication was written here (app/pubsub/topic-batch.ts): while
   * that batch is open, it is closed (its frames queued here) before anything else is written to this connection.
   */
  #fanOutEpoch: number;
  /**
   * True while the WebSocket connection is OPEN (phase OPEN and the ServerConnection's state OPEN), kept here so that
   * a delivery reads no other object to know it. The connection leaves OPEN only through this binding: `close` (the
   * closing handshake, ServerConnection.startClosingHandshake's only caller), `onClose` (every other way out of OPEN,
   * called at once), `socketClosed` and `detach`.
   */
  #open: boolean;
  /**
   * The socket's Writable may hold bytes: set before anything is written to the stream (write, cork, end); for a
   * plain TCP socket (`#direct`, whose writes mostly go past the stream) cleared when its length is read as 0
   * (`#streamLength`), always set for any other. While false, nothing is buffered there and its length is not read.
   */
  #streamUsed: boolean;
  /** The connection's net.Socket; null while it is driven bare (`#bare`) and nothing has needed one yet (`socket`). */
  #socket: Socket | null;
  /** The bare TCP connection (bare-tcp.ts) while it has no Socket, and after (its byte counts once closed bare); null: a Socket from the start. */
  readonly #bare: BareTcp | null;

  /**
   * `readsShared`: the socket reads into the worker's read buffer (`sharedReads`),
   * whose callback hands each read to the binding; it then gets no 'data'
   * listener, and the binding is the buffer's reader until the socket closes
   * (`socketClosed`). A BareTcp (not started: the binding starts it) always
   * reads into the read buffer (`readsShared` is implied); its Socket is made
   * when something needs one (`socket`).
   */
  constructor(transport: Socket | BareTcp, config: BindingConfig, delegate: BindingDelegate, workerId: number, startedAt: number = performance.now(), readsShared: boolean = false) {
    const bare = transport instanceof BareTcp ? transport : null;
    this.#bare = bare;
    this.#socket = bare === null ? (transport as Socket) : null;
    this.#stats = emptyConnectionStats(workerId);
    this.#bytesOut = 0;
    this.#framesOut = 0;
    this.phase = BindingPhase.HANDSHAKE;
    this.parser = null;
    this.connection = null;
    this.actor = null;
    this.startedAt = startedAt;
    this.clientAddress = null;
    this.lastReadAt = clock.now;
    this.lastPingAt = clock.now;
    this.closeDeadline = 0;
    this.resolve = null;
    this.hostSlot = -1;
    this.readerSlot = -1;
    this.#config = config;
    this.#delegate = delegate;
    this.#pauseReasons = 0;
    this.#inRead = false;
    this.#tickCorked = false;
    this.#queued = false;
    this.#pendingFrame = null;
    this.#pendingSecond = null;
    this.#pendingList = null;
    this.#pendingBytes = 0;
    // A bare TCP handle always takes direct writes (BareTcp.accepts checked it).
    this.#direct = bare !== null || canWriteDirect(transport as Socket);
    this.#directBytes = 0;
    this.#closeNotified = false;
    this.#destroyAfterRead = false;
    // The largest small integer V8 stores unboxed (2^30 - 1): any length; larger
    // payloads take ServerConnection.send, which frames them the same way.
    this.#slabFrameLimit = 0x3fffffff;
    this.#fanOutEpoch = 0;
    this.#open = false;
    this.#streamUsed = !this.#direct;
    // No setNoDelay here: TCP_NODELAY belongs to the file descriptor, which the
    // primary's server (noDelay: true) already set before the hand-off; a
    // second setsockopt cost 5% of a worker's time in a connection storm
    // (--cpu-prof, strace showed the option set twice).
    if (bare !== null) {
      readBuffer.add(this);
      if (!bare.start(this)) this.socket.destroy();
      return;
    }
    const socket = transport as Socket;
    this.#listen(socket);
    // A socket with `onread` is reading since its creation and never emits
    // 'data' while it has a binding; adding the listener put its stream in
    // flowing mode (a nextTick and the stream's resume per connection, 5% of
    // a worker's allocations in a connection storm). Its end of input still
    // ends the stream (the EOF pushes null and reads), as before.
    if (readsShared) {
      readBuffer.add(this);
    } else {
      socket.on('data', onSocketData);
      socket.resume();
    }
  }

  /**
   * The connection's net.Socket. A bare connection gets one here, on first
   * use (bare-tcp.ts: around its handle, reading as before, or an inert
   * destroyed one once the handle is closed), and is a socket connection
   * from then on: whatever is not the usual handshake, messages and clean
   * close asks for it (a pause, a write through the stream, a refusal, the
   * end of input, an error, the HTTP side).
   */
  get socket(): Socket {
    return this.#socket ?? this.#takeSocket();
  }

  #takeSocket(): Socket {
    const socket = (this.#bare as BareTcp).toSocket();
    this.#socket = socket;
    if (this.phase !== BindingPhase.DONE) this.#listen(socket);
    return socket;
  }

  /** The binding's listeners on its socket (shared functions: no closures per connection). */
  #listen(socket: Socket): void {
    bindings.set(socket, this);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
  }

  /** What counts the connection's bytes on the wire (wire-bytes.ts): its Socket, or the bare connection without one. */
  get wire(): Socket | BareTcp {
    return this.#socket ?? (this.#bare as BareTcp);
  }

  /** The handle the connection's reads land through (shared-read-buffer.ts), null once it reads no more. */
  get readHandle(): object | null {
    const socket = this.#socket;
    if (socket === null) return (this.#bare as BareTcp).handle;
    // A socket being destroyed (its 'close' not emitted yet) reads no more.
    return socket.destroyed ? null : (socket as unknown as { _handle: object | null })._handle;
  }

  /** True once the socket is destroyed, or the bare connection closed (without making a Socket to ask). */
  #isDestroyed(): boolean {
    const socket = this.#socket;
    return socket === null ? (this.#bare as BareTcp).closed : socket.destroyed;
  }

  // BareTcpReader: the reads of a bare connection.

  bareRead(length: number): void {
    receiveShared(this, length);
  }

  bareReadEnded(): void {
    // The Socket takes the end of input or the error, and emits 'end', 'error', 'close' as it would have.
    this.#takeSocket();
  }

  /**
   * The peer's IP address ('' once the socket is gone). Read on demand: it is
   * a getpeername system call, which cost 5% of a worker's time in a
   * connection storm when every upgrade read it (--cpu-prof).
   */
  get remoteAddress(): string {
    const socket = this.#socket;
    return this.clientAddress ?? (socket === null ? (this.#bare as BareTcp).remoteAddress : socket.remoteAddress) ?? '';
  }

  /** The connection's stats, its bytes written so far included (final once the binding is DONE). */
  get stats(): ConnectionStats {
    const stats = this.#stats;
    if (this.#bytesOut !== 0) {
      stats.bytesOut += this.#bytesOut;
      this.#bytesOut = 0;
    }
    return stats;
  }

  /** Framed messages written with `sendFrame` and `sendFrames`, counted in the actor's `messagesOut`. */
  get framesOut(): number {
    return this.#framesOut;
  }

  /** True while the WebSocket connection is OPEN. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Bytes sent and not yet taken by the kernel: the socket's buffer, the frames held for the end of the turn, direct writes queued in libuv, and this read's collected writes. */
  get sendBufferBytes(): number {
    return this.#streamLength() + this.#pendingBytes + this.#directBytes + (collector === this ? collectedBytes : 0);
  }

  /** Bytes buffered in the socket's Writable (read only when something was written there since it was last seen empty). */
  #streamLength(): number {
    if (!this.#streamUsed) return 0;
    const length = this.socket.writableLength;
    if (length === 0 && this.#direct) this.#streamUsed = false;
    return length;
  }

  /**
   * Handles one socket read; a `borrowed` chunk is the worker's read buffer
   * (`sharedReads`), which nothing may keep past this call.
   */
  receive(chunk: Buffer, borrowed: boolean = false): void {
    this.#stats.bytesIn += chunk.length;
    workerCounters.bytesIn += chunk.length;
    this.lastReadAt = clock.now;
    const phase = this.phase;
    if (phase === BindingPhase.OPEN || phase === BindingPhase.CLOSING) {
      this.#feed(chunk, borrowed);
    } else if (phase === BindingPhase.HANDSHAKE) {
      // The head parser and the HTTP side keep chunks and views of them.
      this.#delegate.handshakeData(this, borrowed ? Buffer.copyBytesFrom(chunk) : chunk);
    }
    // UPGRADING is paused; REFUSED and DONE discard what the client still sends.
  }

  /**
   * The head is complete: stop reading until the upgrade is decided, or, with
   * `pause` false, only when the decision has to wait (`pauseForUpgrade`).
   */
  beginUpgrade(pause: boolean = true): void {
    this.phase = BindingPhase.UPGRADING;
    if (pause) this.#pause(PAUSED_UPGRADE);
  }

  /** The upgrade waits (for the app to load, for an async upgrade hook): stop reading until `resumeAfterUpgrade`. */
  pauseForUpgrade(): void {
    this.#pause(PAUSED_UPGRADE);
  }

  /**
   * Writes the 101 and opens the WebSocket connection. The caller then starts
   * the actor (so `onOpen` runs first) and calls `resumeAfterUpgrade(rest)`.
   * `deflate` is the connection's own permessage-deflate state when the 101
   * agreed on it (RSV1 is a protocol error without it). `lendMessages`: the
   * session lets go of each message before its delivery returns (a raw app
   * with `borrowMessages`), so messages may be lent views of the read buffer.
   */
  accept(response: Buffer, actor: ConnectionActor, deflate: PerMessageDeflate | null = null, lendMessages: boolean = false): void {
    this.#stats.handshakeStatus = 101;
    this.actor = actor;
    this.connection = new ServerConnection(this, { maxMessageBytes: this.#config.maxMessageBytes, deflate, lendMessages });
    if (deflate !== null) this.#slabFrameLimit = deflate.thresholdBytes;
    this.phase = BindingPhase.OPEN;
    this.#open = true;
    // The 101 waits for the end of the turn as a pending frame, so that the
    // frames the app writes in onOpen leave with it, in one write straight to
    // the handle where it can (#flushPending); whatever comes first (a read
    // of pipelined frames, a large write, the close) sends it first. Written
    // through the socket's stream, corked to the end of the turn (the cork,
    // the uncork's writev, a write request and its callbacks), it was about
    // 5% of a worker's allocations in a connection storm (sampling heap
    // profile, bench/handshake-cost.ts).
    this.#queueFrame(response);
  }

  /** Feeds the bytes pipelined after the head and reads the socket again. */
  resumeAfterUpgrade(rest: Buffer): void {
    if (rest.length > 0 && this.phase === BindingPhase.OPEN) this.#feed(rest, false);
    this.#resume(PAUSED_UPGRADE);
  }

  /**
   * Refuses the upgrade: writes the HTTP response and ends the TCP
   * connection. After a complete request head the socket is closed as soon
   * as the response is out. Before that (a malformed, oversized or late
   * head) it keeps reading and discarding until the client closes, so that
   * the kernel does not answer bytes still in flight with a reset that could
   * destroy the response; destroyed after the close timeout either way.
   */
  refuse(status: number, response: Buffer): void {
    if (this.phase !== BindingPhase.HANDSHAKE && this.phase !== BindingPhase.UPGRADING) return;
    const headComplete = this.phase === BindingPhase.UPGRADING;
    this.#stats.handshakeStatus = status;
    this.phase = BindingPhase.REFUSED;
    this.parser = null;
    this.#pauseReasons = 0;
    this.socket.resume();
    this.closeDeadline = clock.now + this.#config.closeTimeoutMs;
    // RFC 6455 §4.1: "Once the client's opening handshake has been sent, the
    // client MUST wait for a response from the server before sending any
    // further data." After a whole head nothing more is coming, so waiting
    // for the client's FIN only costs a wake-up and a read: closing once the
    // response is sent took 5-10% less CPU per refused upgrade (128-133 vs
    // 138-189 us per refusal, 1 worker, 3 runs each).
    if (headComplete) this.socket.once('finish', destroyWhenSent);
    this.#streamUsed = true;
    this.socket.end(response);
  }

  /**
   * Lets go of the socket before the 101 (for the HTTP handler, or to wrap it
   * in TLS after a PROXY header): removes this binding's listeners and
   * leaves the socket paused, unread since the last 'data' event. The
   * binding is DONE without a `closed` call; its stats go with the socket.
   */
  detach(): Socket {
    const socket = this.socket;
    socket.pause();
    socket.off('data', onSocketData);
    socket.off('drain', onSocketDrain);
    socket.off('close', onSocketClose);
    socket.off('error', onSocketError);
    bindings.delete(socket);
    this.#open = false;
    // The socket still reads into the read buffer (the HTTP side): this binding stays its reader until it closes.
    if (this.readerSlot >= 0) socket.once('close', () => readBuffer.delete(this));
    this.phase = BindingPhase.DONE;
    this.parser = null;
    return socket;
  }

  // ConnectionHandler: events from the protocol core.

  onMessage(data: Buffer, isBinary: boolean, lent: boolean): void {
    const actor = this.actor as ConnectionActor;
    if (!lent) {
      actor.deliver(data, isBinary);
      return;
    }
    lentMemory = data.buffer;
    lentMessage = data;
    try {
      actor.deliver(data, isBinary, true);
    } finally {
      lentMemory = null;
      lentMessage = null;
    }
  }

  onPing(_data: Buffer): void {}

  onPong(_data: Buffer): void {}

  onWrite(data: Uint8Array): void {
    // A close frame, a ping, a reply framed by ServerConnection: after the open topic batch's publications.
    this.#afterTopicBatch();
    this.#writeFrame(data);
  }

  /** Queues or writes one frame (onWrite without the topic batch's check). */
  #writeFrame(data: Uint8Array): void {
    const length = data.length;
    this.#bytesOut += length;
    workerCounters.bytesOut += length;
    if (writeSlab.owner === this) {
      if (length <= COALESCE_MAX_BYTES) {
        writeSlab.append(data);
        return;
      }
      // Keep the order: what was coalesced so far goes first.
      writeSlab.flush();
    } else if (length <= COALESCE_MAX_BYTES) {
      this.#queueFrame(data);
      return;
    }
    this.#write(data);
  }

  onClose(code: number, reason: string, wasClean: boolean): void {
    const stats = this.#stats;
    stats.closeCode = code;
    stats.closeReason = reason;
    stats.wasClean = wasClean;
    this.phase = BindingPhase.CLOSING;
    this.#open = false;
    this.closeDeadline = clock.now + this.#config.closeTimeoutMs;
    this.#notifyActor(code, reason);
    // RFC 6455 §7.1.1: after the closing handshake "the server SHOULD close
    // the underlying TCP connection first"; end() sends FIN once the close
    // frame (possibly still in the slab) has been flushed.
    // While this read's writes are collected (`#feed`), the flush adds the
    // slab's region to them: they leave in one writev straight to the handle
    // at the read's end, the close frame last.
    if (writeSlab.owner === this) writeSlab.flush();
    if (this.#pendingBytes !== 0) this.#flushPending();
    if (wasClean && this.#direct) {
      // The closing handshake is complete: the peer's close frame was the last
      // thing it may send (§5.5.1, "MUST NOT send any more data frames"), so
      // nothing but its FIN is coming. The TCP connection is closed as soon as
      // the close frame has been handed to the kernel (close(2) sends what is
      // still in the socket's send buffer, then FIN), without a shutdown and
      // without waiting for that FIN: a wake-up, a read and the stream's end
      // of input less per connection (the refusals after a complete head do
      // the same, `refuse`). Plain TCP only: a TLS socket ends as before.
      if (this.#inRead) this.#destroyAfterRead = true;
      else this.#destroyWhenSent();
      return;
    }
    // The read's replies (the close frame among them) go before the FIN.
    if (collector === this) this.#writeCollected();
    this.#streamUsed = true;
    this.socket.end();
  }

  /**
   * Destroys the socket now if everything written has reached the kernel, else once its end has been sent.
   * `quiet` (at the end of a read, where nothing of this binding runs after it): a socket destroyed now is
   * closed without its 'close' event (destroy-quietly.ts), and the binding closes at once.
   */
  #destroyWhenSent(quiet: boolean = false): void {
    if (this.#streamLength() === 0 && this.#directBytes === 0) {
      if (quiet && this.#socket === null) {
        // A bare connection: its handle closed as destroyQuietly closes a socket's.
        (this.#bare as BareTcp).close();
        this.socketClosed();
      } else if (quiet && destroyQuietly(this.socket)) {
        this.socketClosed();
      } else {
        this.socket.destroy();
      }
      return;
    }
    const socket = this.socket;
    socket.once('finish', destroyWhenSent);
    this.#streamUsed = true;
    socket.end();
  }

  // ActorTransport: what the actor asks of the socket.

  send(data: Uint8Array | string, isBinary: boolean): void {
    this.#afterTopicBatch();
    if (this.sendBufferBytes > this.#config.maxBackpressureBytes) {
      this.#slowConsumer();
      return;
    }
    const connection = this.connection as ServerConnection;
    // A lent message (or a view of one) is rewritten once its delivery
    // returns: the read buffer by the next read, the decoder's message buffer
    // by the next message. It must not stay queued by reference (a socket
    // write corked until the end of the turn, or one the kernel took only
    // part of).
    const lent = lentMemory !== null && typeof data !== 'string' && (data === lentMessage || data.buffer === lentMemory);
    // Hot path (a reply to a read): the frame is written into the write slab,
    // header and payload for small payloads, the header only for large ones,
    // whose payload follows as it is; no buffer is allocated for the frame,
    // and the whole read's replies leave in one writev. 16 KiB echo:
    // ServerConnection.send allocated a 4-byte header per message
    // (Buffer.allocUnsafe with its checks: 1.7% of the worker, --cpu-prof).
    // A large lent reply goes by reference only to a socket that had nothing
    // queued when the read began (the read's writes leave together when it
    // ends, and the kernel nearly always takes them all): from the read buffer when replacements are not held back
    // (else `#feed` replaces the read buffer, shared-read-buffer.ts), from
    // the decoder's message buffer on plain TCP (the decoder lets go of the
    // buffer, and `#feed` gives it back only once the write has gone out);
    // any other is copied into the slab, which is reused once the socket has
    // written it (WriteSlab.rewind): a copy into warm memory, no fresh buffer.
    if (writeSlab.owner === this && typeof data !== 'string' && data.length < this.#slabFrameLimit && connection.state === ConnectionState.OPEN) {
      const opcode = isBinary ? Opcode.BINARY : Opcode.TEXT;
      const length = data.length;
      const framed = length + frameHeaderLength(length, false);
      this.#bytesOut += framed;
      workerCounters.bytesOut += framed;
      if (length <= COALESCE_MAX_BYTES || (lent && !this.#mayWriteLent(data))) {
        writeSlab.appendFrame(opcode, data);
      } else {
        writeSlab.appendFrameHeader(opcode, length);
        writeSlab.flush();
        this.#write(data);
      }
      return;
    }
    connection.send(lent ? Buffer.copyBytesFrom(data as Uint8Array) : data, isBinary);
  }

  /** True when lent `data` may be written by reference (see `send`), which `#feed` is then told of. */
  #mayWriteLent(data: Uint8Array): boolean {
    if (!lentByReference) return false;
    const memory = data === lentMessage ? lentMemory : data.buffer;
    if (memory === readBuffer.memory) {
      if (!readBuffer.mayPin(clock.now)) return false;
      wroteFromReadBuffer = true;
      return true;
    }
    // A message assembled in the decoder's buffer: one such buffer per read (a second is copied).
    if (!this.#direct) return false;
    heldAssembly ??= keepLentBuffer();
    return heldAssembly !== null && heldAssembly.buffer === memory;
  }

  sendFrame(frame: Uint8Array): boolean {
    if (!this.#sendFrame(frame)) return false;
    this.#framesOut++;
    workerCounters.messagesOut++;
    return true;
  }

  /**
   * `messages` frames joined in one buffer (a topic's batch). A method of its own rather than a count on sendFrame:
   * the fan-out's per-delivery path stays as small as TurboFan inlines whole (its inlining budget, --trace-turbo-inlining).
   */
  sendFrames(frames: Uint8Array, messages: number): boolean {
    if (!this.#sendFrame(frames)) return false;
    this.#framesOut += messages;
    workerCounters.messagesOut += messages;
    return true;
  }

  #sendFrame(frame: Uint8Array): boolean {
    // The fan-out path (deliver-publication.ts, straight from the pub/sub's walks): one check of the state per delivery, here.
    if (!this.#open) return false;
    // A frame that is not the open topic batch's own (sendTo's events to raw connections, app/routing.ts) goes after
    // it, as every other write does: during a batch's walks `fanOut.open` is never an epoch a connection holds.
    this.#afterTopicBatch();
    // Marks the connection as written to by the current topic batch (app/pubsub/topic-batch.ts).
    this.#fanOutEpoch = fanOut.epoch;
    // sendBufferBytes, reading no other object while nothing is in the socket's stream nor collected by a read.
    const buffered = this.#streamUsed || collector === this ? this.sendBufferBytes : this.#pendingBytes + this.#directBytes;
    if (buffered > this.#config.maxBackpressureBytes) {
      // Not written: the connection is failed as a slow consumer instead (and not counted as delivered).
      this.#slowConsumer();
      return false;
    }
    // OPEN: what ServerConnection.sendFrame would check before handing the frame back to onWrite.
    this.#writeFrame(frame);
    return true;
  }

  close(code: number, reason: string): void {
    // Before the state changes: the open topic batch's publications still go out ahead of the close frame.
    this.#afterTopicBatch();
    if (!this.#open) return;
    if (this.closeDeadline === 0) this.closeDeadline = clock.now + this.#config.closeTimeoutMs;
    this.#open = false;
    (this.connection as ServerConnection).startClosingHandshake(code, reason);
  }

  pauseReading(): void {
    this.#pause(PAUSED_MAILBOX);
  }

  resumeReading(): void {
    this.#resume(PAUSED_MAILBOX);
  }

  // Lifecycle.

  /** The send buffer emptied after a write that returned false. */
  drained(): void {
    this.#resume(PAUSED_WRITES);
  }

  /** A direct write queued in libuv has left (or failed: the socket is closing then, and its 'close' does the rest). */
  directWriteDone(bytes: number, _status: number): void {
    this.#directBytes -= bytes;
    if (this.#directBytes === 0) this.#resume(PAUSED_WRITES);
  }

  /** Graceful shutdown: close an open connection with this code, refuse one still in its handshake. */
  goAway(code: number, reason: string, refusal: Buffer): void {
    if (this.phase === BindingPhase.OPEN) this.close(code, reason);
    else if (this.phase === BindingPhase.HANDSHAKE || this.phase === BindingPhase.UPGRADING) this.refuse(503, refusal);
  }

  /** Called by the worker's sweeper with the coarse clock. */
  sweep(now: number): void {
    if (this.closeDeadline !== 0) {
      if (now >= this.closeDeadline) {
        this.#stats.closeTimedOut = true;
        this.socket.destroy();
      }
      return;
    }
    const config = this.#config;
    if (this.phase === BindingPhase.HANDSHAKE) {
      if (now >= this.startedAt + config.handshakeTimeoutMs) this.#delegate.handshakeTimedOut(this);
      return;
    }
    if (this.phase !== BindingPhase.OPEN) return;
    const silentFor = now - this.lastReadAt;
    if (config.idleTimeoutMs > 0 && silentFor >= config.idleTimeoutMs) {
      this.close(CloseCode.GOING_AWAY, IDLE_TIMEOUT_REASON);
    } else if (config.pingIntervalMs > 0 && silentFor >= config.pingIntervalMs && now - this.lastPingAt >= config.pingIntervalMs) {
      this.lastPingAt = now;
      (this.connection as ServerConnection).ping();
    }
  }

  /**
   * An unexpected error while serving this connection: log it and fail the
   * connection with 1011 (or just destroy the socket before the upgrade).
   */
  failInternal(error: unknown): void {
    this.#stats.internalError = true;
    logPeerCaused(log(), 'error', 'connection_internal_error', { err: error, conn: this.actor?.address, peer: this.remoteAddress }, 'internal error on a connection; closing it');
    const connection = this.connection;
    if (connection !== null && connection.state !== ConnectionState.CLOSED && this.phase !== BindingPhase.DONE) {
      if (this.closeDeadline === 0) this.closeDeadline = clock.now + this.#config.closeTimeoutMs;
      connection.failConnection(CloseCode.INTERNAL_ERROR, 'internal error');
    } else {
      this.socket.destroy();
    }
  }

  /** The socket is closed: finish the actor and hand the stats to the worker. */
  socketClosed(): void {
    if (this.phase === BindingPhase.DONE) return;
    // The open topic batch's count includes this connection while it is OPEN.
    this.#afterTopicBatch();
    this.phase = BindingPhase.DONE;
    this.#open = false;
    // Out of every table at once: a WeakMap's entry (or a Set's) left to a
    // later rebuild of its table can keep this connection alive through the
    // scavenges until the next mark-compact (slot-list.ts).
    if (this.#socket !== null) bindings.delete(this.#socket);
    readBuffer.delete(this);
    this.#pendingFrame = null;
    this.#pendingSecond = null;
    this.#pendingList = null;
    this.#pendingBytes = 0;
    this.#notifyActor(CloseCode.ABNORMAL_CLOSURE, '');
    const actor = this.actor;
    if (actor !== null) {
      this.#stats.messagesIn = actor.messagesIn;
      this.#stats.messagesOut = actor.messagesOut;
      this.#stats.mailboxPauses = actor.mailboxPauses;
    }
    this.#delegate.closed(this);
  }

  /** The slab's region of this read's replies (SlabOwner). */
  writeRegion(region: Uint8Array): void {
    this.#writeInRead(region);
  }

  #feed(chunk: Buffer, borrowed: boolean): void {
    // What others sent this connection earlier in the turn goes before the replies to this read.
    if (this.#pendingBytes !== 0) this.#flushPending();
    lentByReference = this.#streamLength() === 0 && this.#directBytes === 0 && !this.#tickCorked;
    // With nothing queued anywhere, the read's writes are collected and leave
    // in one writev straight to the TCP handle (direct-write.ts), past the
    // socket's Writable stream: no cork and uncork, no write requests, no
    // after-write tick and 'drain' event per read. Else they are corked into
    // the stream, behind what it holds.
    const direct = this.#direct && lentByReference;
    if (direct) {
      collector = this;
    } else {
      this.#streamUsed = true;
      this.socket.cork();
    }
    this.#inRead = true;
    writeSlab.begin(this);
    beginRead();
    try {
      (this.connection as ServerConnection).receiveData(chunk, borrowed);
    } catch (error) {
      // Handlers' errors are the actor's business; anything reaching here is
      // a bug below them. It costs this connection, never the worker.
      this.failInternal(error);
    } finally {
      endRead();
      writeSlab.end();
      this.#inRead = false;
      let allWritten: boolean;
      if (direct) {
        // #directBytes too: a connection that failed during the read wrote its replies early, before its FIN
        // (onClose), and what the kernel did not take of them is queued in libuv, still referring to these buffers.
        allWritten = this.#writeCollected() && this.#directBytes === 0;
        collector = null;
      } else {
        const socket = this.socket;
        socket.uncork();
        allWritten = socket.writableLength === 0 && !socket.destroyed;
      }
      if (allWritten) {
        // Everything written at once (nothing left in the socket's buffer nor in libuv): the slab region is free again,
        // and so is a message buffer a reply was written from.
        writeSlab.rewind();
        if (heldAssembly !== null) reuseLentBuffer(heldAssembly);
      } else if (wroteFromReadBuffer) {
        // A write still refers to the read buffer: no read may land in it until it is sent.
        readBuffer.replace(clock.now);
      }
      // A message buffer still referred to by a write is left to it (never reused: the decoder let go of it).
      wroteFromReadBuffer = false;
      heldAssembly = null;
      lentByReference = false;
    }
    if (this.#destroyAfterRead) {
      this.#destroyAfterRead = false;
      this.#destroyWhenSent(true);
      return;
    }
    if (this.phase !== BindingPhase.OPEN) return;
    // #streamLength: the socket's getter only when something went through its stream.
    const queued = this.#streamLength() + this.#directBytes;
    if (queued > this.#config.maxBackpressureBytes) {
      this.#slowConsumer();
    } else if (direct) {
      // A collected writev the kernel took only part of: read again once libuv has written it (`directWriteDone`).
      if (this.#directBytes !== 0 && (this.#pauseReasons & PAUSED_WRITES) === 0) {
        this.#stats.writePauses++;
        this.#pause(PAUSED_WRITES);
      }
    } else if (this.socket.writableNeedDrain && this.socket.writableLength !== 0 && (this.#pauseReasons & PAUSED_WRITES) === 0) {
      // Replies are piling up faster than the client reads them: stop reading
      // its requests until the buffer drains (TCP backpressure to the client).
      // Only when something is still queued: a read's replies over the
      // stream's high-water mark (16 KiB) set writableNeedDrain even when the
      // kernel took them all, and its 'drain' then follows on the next tick;
      // pausing for it stopped and restarted reading (readStop, readStart:
      // an epoll_ctl each, batched by libuv) after every read with a 64 KiB
      // echo.
      this.#stats.writePauses++;
      this.#pause(PAUSED_WRITES);
    }
  }

  /**
   * Writes the collected writes of this binding's read (`#feed`); true when
   * the kernel took them all (nothing of them left queued: the slab region
   * and the buffers they came from may be reused), also when there were none.
   */
  #writeCollected(): boolean {
    const bytes = collectedBytes;
    if (bytes === 0) return !this.#isDestroyed();
    const chunks = collected;
    collectedBytes = 0;
    if (this.#isDestroyed()) {
      chunks.length = 0;
      return false;
    }
    const single = chunks.length === 1;
    const written = single ? this.#writeOut(chunks[0] as Uint8Array, false) : this.#writevOut(chunks, bytes);
    if (written === DirectWrite.QUEUED) {
      this.#directBytes += bytes;
      // A queued writev holds the list until it completes; a single write holds only its buffer.
      if (single) chunks.length = 0;
      else collected = [];
      return false;
    }
    if (written === DirectWrite.UNAVAILABLE) {
      this.#streamUsed = true;
      const socket = this.socket;
      for (let i = 0; i < chunks.length; i++) socket.write(chunks[i] as Uint8Array);
    }
    chunks.length = 0;
    return written === DirectWrite.DONE;
  }

  /**
   * A direct write (direct-write.ts): to the bare handle while there is no
   * Socket (a failed write makes the Socket and destroys it, as
   * `writeDirect` destroys a socket's), else to the socket's handle;
   * `streamEmpty` as for `writeDirect`.
   */
  #writeOut(data: Uint8Array, streamEmpty: boolean): DirectWrite {
    if (this.#socket !== null) return writeDirect(this.#socket, data, this, streamEmpty);
    const handle = (this.#bare as BareTcp).handle;
    if (handle === null) return DirectWrite.UNAVAILABLE;
    const written = writeHandle(handle, data, this);
    if (written === DirectWrite.FAILED) this.socket.destroy();
    return written;
  }

  /** `#writeOut` of several buffers in one writev. */
  #writevOut(chunks: readonly Uint8Array[], bytes: number): DirectWrite {
    if (this.#socket !== null) return writevDirect(this.#socket, chunks, bytes, this);
    const handle = (this.#bare as BareTcp).handle;
    if (handle === null) return DirectWrite.UNAVAILABLE;
    const written = writevHandle(handle, chunks, bytes, this);
    if (written === DirectWrite.FAILED) this.socket.destroy();
    return written;
  }

  /** A write of this binding's read: collected for the read's one writev (`#feed`), or into the corked socket. */
  #writeInRead(data: Uint8Array): void {
    if (collector === this) {
      collected.push(data);
      collectedBytes += data.length;
    } else {
      this.#streamUsed = true;
      this.socket.write(data);
    }
  }

  #write(data: Uint8Array): void {
    const socket = this.socket;
    if (this.#pendingBytes !== 0) this.#flushPending();
    if (!this.#inRead && !this.#tickCorked) {
      // Outside a read (large fan-out frames, async handlers, sends from
      // other connections): cork until the end of this event-loop turn, after
      // every read of the poll phase, so that all of the turn's writes to
      // this socket leave in one writev. Per turn rather than per tick: a
      // subscriber then gets one system call for the publications of all
      // publishers read in the turn instead of one per publisher read
      // (broadcast, 4 publishers -> 100 subscribers, 1 worker: writev was 64%
      // of the worker's time with a per-tick uncork; see app/pubsub/deliver-publication.ts).
      this.#tickCorked = true;
      this.#streamUsed = true;
      socket.cork();
      this.#queueForTurnEnd();
    }
    this.#writeInRead(data);
  }

  /**
   * A small frame written outside this connection's reads (fan-out, pings,
   * async handlers): kept until the end of the turn, when the turn's frames
   * leave copied into one buffer with one socket.write. One socket.write per
   * frame on a corked socket cost each delivery a pass through the stream's
   * buffering and a slot in the writev's iovec: about a quarter of the CPU per
   * delivery at 16 publications per turn (bench/micro/fan-out-writes.ts).
   */
  #queueFrame(frame: Uint8Array): void {
    const first = this.#pendingFrame;
    const second = this.#pendingSecond;
    if (first === null) {
      this.#pendingFrame = frame;
    } else if (second === null) {
      this.#pendingSecond = frame;
    } else {
      const list = this.#pendingList;
      if (list === null) this.#pendingList = [first, second, frame];
      else list.push(frame);
    }
    this.#pendingBytes += frame.length;
    this.#queueForTurnEnd();
  }

  /**
   * Hands the pending frames to the socket: one as it is, several copied into
   * one buffer, or the buffer the previous connection flushed in this turn
   * end when its frames were the same (`shared`: subscribers of the same
   * topics get the same publications, joined once).
   */
  #flushPending(shared: SharedJoin | null = null): void {
    if (!this.#streamUsed) {
      // Plain TCP with nothing in its stream (known here, `#streamUsed`): straight to the handle (`#writeOut`), without reading
      // the socket or its stream's state (three more objects per write); a closed handle (the socket destroyed) fails
      // the write: dropped, as below.
      const data = this.#pendingData(shared);
      if (this.#writeOut(data, true) === DirectWrite.QUEUED) this.#directBytes += data.length;
    } else if (!this.socket.destroyed) {
      const socket = this.socket;
      const data = this.#pendingData(shared);
      let written: DirectWrite = DirectWrite.UNAVAILABLE;
      if (this.#direct && !this.#tickCorked) written = writeDirect(socket, data, this);
      if (written === DirectWrite.UNAVAILABLE) {
        this.#streamUsed = true;
        socket.write(data);
      } else if (written === DirectWrite.QUEUED) this.#directBytes += data.length;
    }
    this.#pendingFrame = null;
    this.#pendingSecond = null;
    this.#pendingList = null;
    this.#pendingBytes = 0;
  }

  /** The pending frames as one buffer (see `#flushPending`). */
  #pendingData(shared: SharedJoin | null): Uint8Array {
    const first = this.#pendingFrame as Uint8Array;
    const second = this.#pendingSecond;
    if (second === null) return first;
    let pending = this.#pendingList;
    if (pending === null) {
      if (shared !== null && shared.matchesPair(first, second)) return shared.joined as Uint8Array;
      pending = [first, second];
    } else if (shared !== null && shared.matches(pending)) {
      return shared.joined as Uint8Array;
    }
    const data = joinFrames(pending, this.#pendingBytes);
    shared?.remember(pending, data);
    return data;
  }

  #queueForTurnEnd(): void {
    if (this.#queued) return;
    this.#queued = true;
    const count = SocketBinding.#dueCount++;
    SocketBinding.#dueAtTurnEnd[count] = this;
    if (count === 0) setImmediate(SocketBinding.#finishTurn);
  }

  /**
   * Bindings with pending frames or corked by a write outside their own read, finished together at the end of the
   * turn: the first `#dueCount` entries. Two lists alternate, each emptied slot by slot and kept with its storage
   * (a new list per turn grew again for every subscriber count, perf); bindings queued while one is walked go to the other.
   */
  static #dueAtTurnEnd: (SocketBinding | null)[] = [];
  static #dueCount = 0;
  static #dueSpare: (SocketBinding | null)[] = [];

  static #finishTurn(): void {
    // The turn's last topic batch joins the frames queued for this turn end.
    closeTopicBatch();
    // A function of its own: inlined here with the batch's fan-out (which TurboFan inlines into this function), the
    // loop lost the inlining of #flushPending (--trace-turbo-inlining, bench/micro/fan-out-writes.ts).
    SocketBinding.#flushDue();
  }

  static #flushDue(): void {
    const due = SocketBinding.#dueAtTurnEnd;
    const count = SocketBinding.#dueCount;
    SocketBinding.#dueAtTurnEnd = SocketBinding.#dueSpare;
    SocketBinding.#dueCount = 0;
    SocketBinding.#dueSpare = due;
    const shared = sharedJoin;
    for (let i = 0; i < count; i++) {
      const binding = due[i] as SocketBinding;
      due[i] = null;
      binding.#queued = false;
      if (binding.#pendingBytes !== 0) binding.#flushPending(shared);
      if (binding.#tickCorked) {
        binding.#tickCorked = false;
        binding.socket.uncork();
      }
    }
    shared.forget();
  }

  #slowConsumer(): void {
    const connection = this.connection as ServerConnection;
    if (this.#stats.slowConsumer || connection.state !== ConnectionState.OPEN) return;
    // Policy (docs/server.md): stop queueing data, queue the close frame
    // anyway (a reading client still gets it), end TCP, and destroy the
    // socket if it has not closed within the close timeout.
    this.#stats.slowConsumer = true;
    this.closeDeadline = clock.now + this.#config.closeTimeoutMs;
    connection.failConnection(CloseCode.POLICY_VIOLATION, `slow consumer: send buffer over ${this.#config.maxBackpressureBytes} bytes`);
  }

  /**
   * Closes the open topic batch (app/pubsub/topic-batch.ts) if it wrote to this connection: called before anything
   * else is written here (send, sendFrame, onWrite: replies, pings, close frames) and before the connection leaves OPEN without
   * a write first (close, socketClosed), so that what the batch holds for it keeps its place, and its count holds (a
   * batched publication is written to the subscribers the batch's first one was written to).
   */
  #afterTopicBatch(): void {
    if (this.#fanOutEpoch === fanOut.open) closeTopicBatch();
  }

  #notifyActor(code: number, reason: string): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    this.actor?.transportClosed(code, reason);
  }

  #pause(reason: number): void {
    if (this.#pauseReasons === 0) this.socket.pause();
    this.#pauseReasons |= reason;
  }

  #resume(reason: number): void {
    if ((this.#pauseReasons & reason) === 0) return;
    this.#pauseReasons &= ~reason;
    if (this.#pauseReasons === 0 && this.phase !== BindingPhase.DONE) this.socket.resume();
  }
}
