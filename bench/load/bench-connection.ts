/**
 * One client connection of the load generator: a raw `net` socket, the client
 * handshake, the core's FrameDecoder for server frames, and masked control
 * replies (pong, close). Data frames are written pre-built by the scenario.
 *
 * Plain-TCP connections read into one buffer per generator thread (net.Socket's
 * `onread`), which every read of every such connection reuses: no fresh buffer
 * per read for the garbage collector (on the generator's own CPU) to collect.
 * Nothing keeps a view of it past the read: the decoder takes each read as
 * borrowed (copies what it keeps or hands out, or lends it to an owner with
 * `lendsMessages` for the length of `onMessage`), and a partial handshake
 * response is copied. TLS connections read through 'data' (a fresh chunk per read).
 *
 * The connection never reconnects: a failure ends it, is recorded once in
 * `failure`, and the owner decides what that costs.
 *
 *   CONNECTING --tcp--> HANDSHAKE --101 ok--> OPEN --close()--> CLOSING --server close/TCP end--> CLOSED
 *        \__________________\______________________\_______ any failure _______________________/
 */
import net from 'node:net';
import tls from 'node:tls';
import { CloseCode, Opcode } from '../../src/protocol/constants.ts';
import { FrameDecoder } from '../../src/protocol/frame-decoder.ts';
import { encodeClose, encodeFrameHeader, encodePong } from '../../src/protocol/frame-encoder.ts';
import { MAX_RESPONSE_HEAD_BYTES, buildUpgradeRequest, checkUpgradeResponse, createClientKey } from './client-handshake.ts';
import { epochNow } from './epoch-clock.ts';
import { FrameSkimmer } from './frame-skimmer.ts';

/**
 * Size of the thread's read buffer. As the server's (src/transport/socket-binding.ts): larger than
 * Node's 64 KiB reads, so that a 1 MiB message arrives in 4 reads rather than 16.
 */
const READ_BUFFER_BYTES = 256 * 1024;

/** Where every plain-TCP read of this thread lands (one per generator thread: module state is per thread); made on first use. */
let threadReadBuffer: Buffer | null = null;

function readBuffer(): Buffer {
  return (threadReadBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES));
}

/** Frames written during one read are joined into one buffer up to this size (from Node's buffer pool), else written by reference in one writev. */
const JOINED_WRITE_MAX_BYTES = (Buffer.poolSize >>> 1) - 1;

/** Connection states; plain numbers (`const enum` is not erasable syntax). */
export const ConnState = {
  CONNECTING: 0,
  HANDSHAKE: 1,
  OPEN: 2,
  CLOSING: 3,
  CLOSED: 4,
} as const;
export type ConnState = (typeof ConnState)[keyof typeof ConnState];

/** How a connection failed; each kind is one error counter in the results. */
export type FailureKind = 'handshake' | 'unexpectedClose' | 'protocol' | 'timeout';

/**
 * Largest message the generator accepts from a server running a scenario with
 * `payloadBytes` payloads: twice the payload, at least 1 MiB. A bigger one is a
 * protocol error, so a misbehaving server cannot make the client buffer without bound.
 */
export function clientMaxMessageBytes(payloadBytes: number): number {
  return Math.max(1024 * 1024, payloadBytes * 2);
}

/** Callbacks of the scenario that owns a connection. */
export interface ConnectionOwner {
  /** The handshake succeeded; the connection may send. */
  onOpen(conn: BenchConnection): void;
  /** A complete data message from the server. `data` may be a view into a socket chunk: copy to keep it. */
  onMessage(conn: BenchConnection, data: Buffer, isBinary: boolean): void;
  /**
   * True when `onMessage` never keeps `data` nor anything made from it past its return: the decoder then lends
   * large messages too (reassembled in a reused buffer) instead of a new buffer per message, whose garbage
   * collection, on the generator's own CPU, otherwise sets the pace of large-message runs.
   */
  readonly lendsMessages?: boolean;
  /**
   * The payload length of the one reply the owner expects again and again (a binary message in one frame), or
   * undefined: a frame that is exactly such a reply is then counted by `onSkimmedMessage` without its payload
   * being read or assembled (frame-skimmer.ts); any other frame reaches `onMessage` through the decoder.
   */
  readonly skimmedMessageBytes?: number;
  /** One skimmed reply (see `skimmedMessageBytes`): a binary message of that many bytes, its payload unread. */
  onSkimmedMessage?(conn: BenchConnection): void;
  /**
   * When the owner has it, such a reply is read in place instead of skimmed: `skimmedMessageBytes` bytes of `chunk`
   * from `start`, valid only during the call (the thread's read buffer is reused after it), no view or copy made;
   * one that spans reads is assembled by the decoder and reaches `onMessage` (frame-skimmer.ts, inspected frames).
   */
  onSkimmedPayload?(conn: BenchConnection, chunk: Buffer, start: number): void;
  /** The connection is gone (cleanly when `conn.failure` is null). Called exactly once. */
  onEnd(conn: BenchConnection): void;
}

/** Where and how to connect. */
export interface ConnectTarget {
  host: string;
  port: number;
  path: string;
  protocols: readonly string[];
  /**
   * wss://: the certificate to trust (the only CA) and the server name to send
   * and check; null for ws://. Every connection makes a full TLS handshake (no
   * session resumption), as a new client would.
   */
  tls: { ca: string; servername: string } | null;
}

/** A client WebSocket connection over a raw socket, driven by a scenario. */
export class BenchConnection {
  readonly index: number;
  readonly owner: ConnectionOwner;
  readonly mask: Uint8Array;
  state: ConnState;
  socket: net.Socket | null;
  /** First failure, or null; set once. */
  failure: FailureKind | null;
  failureReason: string;
  /** performance.now() when connect() was called, when the 101 arrived, and when the state last changed to CLOSING. */
  startedAt: number;
  openedAt: number;
  closingAt: number;
  /** Send times (performance.now()) of in-flight requests, a FIFO ring; replies come back in order. */
  readonly sendTimes: Float64Array;
  /** Ids of in-flight requests, parallel to sendTimes. */
  readonly sendIds: Float64Array;
  head: number;
  inflight: number;
  /** Next request id / sequence number of this connection. */
  nextId: number;
  /** Scenario-defined role (e.g. subscriber or publisher). */
  role: number;
  /** readClock() of the read being handled (while `batching`), 0 until it is first asked for in that read. */
  private readAt: number;
  private readonly key: string;
  private headBuffer: Buffer | null;
  /** Frames written while a chunk is being decoded; flushed as one write after it. */
  private readonly pending: Uint8Array[];
  private pendingBytes: number;
  private batching: boolean;
  private readonly decoder: FrameDecoder;
  /** In front of the decoder when the owner skims its replies (`skimmedMessageBytes`), else null. */
  private readonly skimmer: FrameSkimmer | null;
  private readonly target: ConnectTarget;

  /**
   * @param ringSize how many requests may be in flight at once (a power of two >= the scenario's P).
   * @param mask the masking key used for this connection's control frames (data frames come pre-masked).
   * @param maxMessageBytes larger server messages fail the connection (see clientMaxMessageBytes).
   */
  constructor(index: number, owner: ConnectionOwner, target: ConnectTarget, ringSize: number, mask: Uint8Array, maxMessageBytes: number) {
    this.index = index;
    this.owner = owner;
    this.mask = mask;
    this.state = ConnState.CONNECTING;
    this.socket = null;
    this.failure = null;
    this.failureReason = '';
    this.startedAt = 0;
    this.openedAt = 0;
    this.closingAt = 0;
    this.sendTimes = new Float64Array(ringSize);
    this.sendIds = new Float64Array(ringSize);
    this.head = 0;
    this.inflight = 0;
    this.nextId = 0;
    this.role = 0;
    this.readAt = 0;
    this.key = createClientKey();
    this.headBuffer = null;
    this.pending = [];
    this.pendingBytes = 0;
    this.batching = false;
    this.target = target;
    this.decoder = new FrameDecoder(
      {
        onMessage: (data: Buffer, isBinary: boolean) => {
          if (this.state === ConnState.OPEN || this.state === ConnState.CLOSING) this.owner.onMessage(this, data, isBinary);
        },
        onControl: (opcode: number, payload: Buffer) => this.handleControl(opcode, payload),
        onError: (error: Error) => this.fail('protocol', error.message),
      },
      { maxMessageBytes, requireMask: false, lendMessages: owner.lendsMessages === true },
    );
    const skimmed = owner.skimmedMessageBytes;
    this.skimmer =
      skimmed === undefined
        ? null
        : new FrameSkimmer(
            encodeFrameHeader(Opcode.BINARY, skimmed, true, null),
            skimmed,
            this.decoder,
            () => {
              if (this.state === ConnState.OPEN || this.state === ConnState.CLOSING) this.owner.onSkimmedMessage?.(this);
            },
            owner.onSkimmedPayload === undefined
              ? null
              : (chunk: Buffer, start: number) => {
                  if (this.state === ConnState.OPEN || this.state === ConnState.CLOSING) this.owner.onSkimmedPayload!(this, chunk, start);
                },
          );
  }

  /**
   * The epoch clock (epoch-clock.ts) as of the read being handled: read on the first call during a read, the same
   * value for every later call in it. Every byte of a read was in the socket before the read returned, so a clock
   * read after it is at or after the arrival of every message in it: what a read holds arrived at one moment as far
   * as user space can tell. Outside a read, the clock itself, every time.
   */
  readClock(): number {
    if (!this.batching) return epochNow();
    if (this.readAt === 0) this.readAt = epochNow();
    return this.readAt;
  }

  /** Open the TCP connection (and the TLS session) and send the upgrade request; the owner hears onOpen or onEnd. */
  connect(): void {
    this.startedAt = performance.now();
    const { host, port } = this.target;
    const secure = this.target.tls;
    // onread's callback runs synchronously per read, before the next read of any socket can land in the buffer.
    const socket =
      secure === null
        ? net.connect({ host, port, noDelay: true, onread: { buffer: readBuffer(), callback: (length, buffer) => this.handleRead(buffer, length) } })
        : tls.connect({ host, port, ca: secure.ca, servername: secure.servername, ALPNProtocols: ['http/1.1'] }).setNoDelay(true);
    this.socket = socket;
    socket.on(secure === null ? 'connect' : 'secureConnect', () => {
      this.state = ConnState.HANDSHAKE;
      socket.write(
        buildUpgradeRequest({
          host: this.target.host,
          port: this.target.port,
          path: this.target.path,
          key: this.key,
          protocols: this.target.protocols,
        }),
      );
    });
    if (secure !== null) socket.on('data', (chunk: Buffer) => this.handleData(chunk, false));
    socket.on('error', (error: Error) => {
      if (this.state === ConnState.CONNECTING || this.state === ConnState.HANDSHAKE) this.fail('handshake', error.message);
      else if (this.state === ConnState.OPEN) this.fail('unexpectedClose', error.message);
    });
    socket.on('close', () => this.handleSocketClose());
  }

  /** True when data frames may be written. */
  get isOpen(): boolean {
    return this.state === ConnState.OPEN;
  }

  /** Write bytes (pre-built masked frames); inside a read they are batched into one write. */
  write(frame: Uint8Array): void {
    if (this.batching) {
      this.pending.push(frame);
      this.pendingBytes += frame.length;
    } else {
      this.socket!.write(frame);
    }
  }

  /** Start the closing handshake (RFC 6455 §7.1.2); the server's close (or a sweep timeout) ends the connection. */
  close(code: number = CloseCode.NORMAL_CLOSURE): void {
    if (this.state === ConnState.OPEN) {
      this.state = ConnState.CLOSING;
      this.closingAt = performance.now();
      this.socket!.write(encodeClose(code, '', this.mask));
    } else if (this.state === ConnState.CONNECTING || this.state === ConnState.HANDSHAKE) {
      this.state = ConnState.CLOSING;
      this.closingAt = performance.now();
      this.socket?.destroy();
    }
  }

  /** Record a failure (the first one wins) and drop the socket. */
  fail(kind: FailureKind, reason: string): void {
    if (this.state === ConnState.CLOSED) return;
    if (this.failure === null) {
      this.failure = kind;
      this.failureReason = reason;
    }
    this.socket?.destroy();
  }

  /** Drop the socket without counting a failure (closing handshake timed out on our side, or abort). */
  destroy(): void {
    if (this.state !== ConnState.CLOSED) {
      if (this.state !== ConnState.CLOSING) {
        this.state = ConnState.CLOSING;
        this.closingAt = performance.now();
      }
      this.socket?.destroy();
    }
  }

  /** A read into the thread's buffer (`onread`): `length` bytes at its start, reused once this returns. */
  private handleRead(buffer: Uint8Array, length: number): boolean {
    const read = buffer as Buffer;
    this.handleData(read.subarray(0, length), true);
    return true;
  }

  /** `borrowed`: `chunk` is reused once this returns (the thread's read buffer), so nothing may keep it. */
  private handleData(chunk: Buffer, borrowed: boolean): void {
    if (this.state === ConnState.HANDSHAKE) {
      this.handleHandshakeData(chunk, borrowed);
      return;
    }
    if (this.state !== ConnState.OPEN && this.state !== ConnState.CLOSING) return;
    // All writes caused by one read (the next requests, pongs) leave in one write: one syscall and
    // one write request instead of one per message (the generator spends most of its time there).
    this.batching = true;
    this.readAt = 0;
    if (this.skimmer !== null) this.skimmer.push(chunk, borrowed);
    else this.decoder.push(chunk, borrowed);
    this.batching = false;
    this.flush();
  }

  private flush(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    const socket = this.socket;
    if (socket !== null && !socket.destroyed) {
      if (pending.length === 1) {
        socket.write(pending[0]!);
      } else if (this.pendingBytes <= JOINED_WRITE_MAX_BYTES) {
        socket.write(Buffer.concat(pending, this.pendingBytes));
      } else {
        // One writev of the frames themselves (pre-built, never changed): joining large frames meant a fresh
        // buffer per read, its copy and its collection, a third of the generator in 64 KiB echo (--cpu-prof).
        socket.cork();
        for (const frame of pending) socket.write(frame);
        socket.uncork();
      }
    }
    pending.length = 0;
    this.pendingBytes = 0;
  }

  private handleHandshakeData(chunk: Buffer, borrowed: boolean): void {
    // Buffer.concat copies: a head that spans reads is kept in memory of its own.
    const buffered = this.headBuffer === null ? chunk : Buffer.concat([this.headBuffer, chunk]);
    const end = buffered.indexOf('\r\n\r\n', 0, 'latin1');
    if (end === -1) {
      if (buffered.length > MAX_RESPONSE_HEAD_BYTES) this.fail('handshake', 'response head too large');
      else this.headBuffer = buffered === chunk && borrowed ? Buffer.from(chunk) : buffered;
      return;
    }
    this.headBuffer = null;
    const check = checkUpgradeResponse(buffered.toString('latin1', 0, end), this.key, this.target.protocols);
    if (!check.ok) {
      this.fail('handshake', check.reason);
      return;
    }
    this.state = ConnState.OPEN;
    this.openedAt = performance.now();
    this.owner.onOpen(this);
    // A server may send frames right behind its 101 (RFC 6455 §4.1: they belong to the connection).
    const rest = buffered.subarray(end + 4);
    if (rest.length > 0 && this.state === ConnState.OPEN) this.handleData(rest, borrowed && buffered === chunk);
  }

  private handleControl(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.PING) {
      // RFC 6455 §5.5.2: answer a Ping with a Pong carrying the same payload.
      if (this.state === ConnState.OPEN) this.write(encodePong(payload, this.mask));
    } else if (opcode === Opcode.CLOSE) {
      if (this.state === ConnState.OPEN) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : CloseCode.NO_STATUS_RECEIVED;
        const reason = payload.length > 2 ? payload.toString('utf8', 2) : '';
        // RFC 6455 §5.5.1: echo the close, then wait for the server to close TCP.
        this.state = ConnState.CLOSING;
        this.closingAt = performance.now();
        this.failure ??= 'unexpectedClose';
        this.failureReason ||= `server closed with ${code}${reason === '' ? '' : ` ${reason}`}`;
        this.flush();
        this.socket!.write(encodeClose(code === CloseCode.NO_STATUS_RECEIVED ? CloseCode.NORMAL_CLOSURE : code, '', this.mask));
        this.socket!.end();
      } else if (this.state === ConnState.CLOSING) {
        // The answer to our close: the server closes TCP next (§7.1.1); half-close our side now.
        this.socket!.end();
      }
    }
  }

  private handleSocketClose(): void {
    if (this.state === ConnState.CLOSED) return;
    if (this.state !== ConnState.CLOSING && this.failure === null) {
      this.failure = this.state === ConnState.OPEN ? 'unexpectedClose' : 'handshake';
      this.failureReason = 'server closed the TCP connection without a closing handshake';
    }
    this.state = ConnState.CLOSED;
    this.socket = null;
    this.owner.onEnd(this);
  }
}
