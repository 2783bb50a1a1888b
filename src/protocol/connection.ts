/**
 * ServerConnection: the sans-I/O server side of one WebSocket connection
 * after the opening handshake (RFC 6455 §5-§7). Bytes in through
 * `receiveData`, events and bytes out through a ConnectionHandler. No
 * sockets, no timers: the caller owns I/O and timeouts.
 *
 * States and the closing handshake (§7.1.2-§7.1.7):
 *
 *                  startClosingHandshake()
 *                  send close(code)
 *        +------+ ------------------------> +---------+
 *        | OPEN |                           | CLOSING |
 *        +------+                           +---------+
 *           |  peer's close arrives             |  peer's close arrives
 *           |  echo close(its code or 1000)     |  (handshake complete)
 *           v                                   v
 *        +-------------------------------------------+
 *        | CLOSED   onClose(code, reason, clean=true) |
 *        +-------------------------------------------+
 *           ^
 *           |  protocol error in the input, or failConnection():
 *           |  send close(code) unless one was sent, then
 *           |  onClose(code, reason, clean=false)  (from OPEN or CLOSING)
 *
 *   Both sides:   server                       client
 *                   |  ---- close(1000) ---->    |     we start (CLOSING)
 *                   |  <--- close(1000) -----    |     echo: CLOSED, clean
 *                   |  close TCP first (§7.1.1)  |
 *
 * Once CLOSED, nothing more is written or delivered; the transport flushes
 * what was written and ends the TCP connection.
 *
 * permessage-deflate (RFC 7692), when the handshake agreed on it and the
 * caller passes `deflate`: messages whose first frame has RSV1 are inflated
 * (then text is checked for UTF-8), and `send` compresses messages from the
 * threshold up. Without `deflate` RSV1 stays a protocol error (1002) and no
 * message pays for compression.
 */
import { isValidCloseCode, parseClosePayload } from './close.ts';
import { CloseCode, Opcode } from './constants.ts';
import { ProtocolError } from './errors.ts';
import { FrameDecoder, type FrameSink } from './frame-decoder.ts';
import { encodeClose, encodeFrame, encodeFrameHeader, encodePing, encodePong } from './frame-encoder.ts';
import type { PerMessageDeflate } from './permessage-deflate.ts';
import { isValidUtf8 } from './utf8.ts';

/** Connection states (§4.1 "OPEN", §7.1.3 "CLOSING", §7.1.4 "CLOSED"). */
export const ConnectionState = { OPEN: 0, CLOSING: 1, CLOSED: 2 } as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** What the connection tells its owner. Called synchronously. */
export interface ConnectionHandler {
  /**
   * A whole data message; `data` may be a view into an input chunk. Text is
   * valid UTF-8. `lent` (only with `lendMessages`): `data` is valid only
   * until this call returns (FrameSink.onMessage).
   */
  onMessage(data: Buffer, isBinary: boolean, lent: boolean): void;
  /** A ping arrived; the pong is already written. */
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /** Bytes to send, in order (a frame may come as two calls: header, payload). */
  onWrite(data: Uint8Array): void;
  /**
   * Once, when the protocol is done: close frames sent and received (clean),
   * or after failConnection (not clean). The transport then flushes what was
   * written and ends TCP (the server closes TCP first, §7.1.1).
   */
  onClose(code: number, reason: string, wasClean: boolean): void;
}

export interface ServerConnectionOptions {
  /**
   * Largest incoming message in bytes, summed over fragments (over it: close
   * 1009). With permessage-deflate it bounds both the compressed bytes on the
   * wire and the message after inflating.
   */
  maxMessageBytes: number;
  /**
   * The connection's permessage-deflate state when the handshake agreed on
   * it (RFC 7692), else null or absent. Create one per connection from the
   * negotiation's agreement; it must not be shared between connections.
   */
  deflate?: PerMessageDeflate | null;
  /**
   * The handler lets go of each message before its `onMessage` returns:
   * messages of borrowed chunks may then be lent views instead of copies
   * (FrameDecoderOptions.lendMessages). Default false.
   */
  lendMessages?: boolean;
}

/**
 * Payloads from this size up are written as two buffers (header, then the
 * caller's payload) instead of being copied behind the header. Measured on a
 * loopback socket (a throwaway script: cork, write, uncork per message, Node
 * 24.21, noisy 2-core VM), us per message copy vs two parts: 256 B 2.5-6 vs
 * 2.5-4.9, 1 KiB 4.3-6.1 vs 4.4-5.8 (a wash), 4 KiB 5.8-13.9 vs 6.0-6.6,
 * 16 KiB 22-24 vs 16-18, 64 KiB 76-91 vs 57-58. Below 4 KiB one buffer keeps
 * a corked batch of small messages to half as many writev entries.
 */
const TWO_PART_MIN_BYTES = 4 * 1024;

/**
 * The answer to the usual close frame (1000, or no code), made once and
 * shared: handlers only read the frames they are given (onWrite), so one
 * immutable buffer serves every connection. Encoding it per connection (the
 * payload, an empty reason's buffer, the frame) was about 4% of a worker's
 * allocations in a connection storm (sampling heap profile,
 * bench/handshake-cost.ts).
 */
const NORMAL_CLOSE_FRAME = encodeClose(CloseCode.NORMAL_CLOSURE);

/**
 * One server-side WebSocket connection. Create it when the 101 response is
 * written; feed every chunk read from the socket to `receiveData` (after the
 * handshake bytes); write whatever `onWrite` gives, in order; end TCP after
 * `onClose`.
 */
export class ServerConnection implements FrameSink {
  readonly #handler: ConnectionHandler;
  readonly #decoder: FrameDecoder;
  readonly #deflate: PerMessageDeflate | null;
  readonly #maxMessageBytes: number;
  #currentState: ConnectionState;
  #sentClose: boolean;
  #receivedClose: boolean;

  constructor(handler: ConnectionHandler, options: ServerConnectionOptions) {
    this.#handler = handler;
    this.#deflate = options.deflate ?? null;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#currentState = ConnectionState.OPEN;
    this.#sentClose = false;
    this.#receivedClose = false;
    // The connection is its decoder's sink: three closures and their context
    // per connection would cost about 250 bytes of heap on every idle
    // connection (heap snapshots of 1,000 and 5,000 idle connections).
    this.#decoder = new FrameDecoder(
      this,
      // RFC 7692 §6: RSV1 marks a compressed message only once the extension
      // is negotiated; without it the decoder fails RSV1 with 1002 (RFC 6455 §5.2).
      { maxMessageBytes: options.maxMessageBytes, requireMask: true, rsv1Allowed: this.#deflate !== null, lendMessages: options.lendMessages ?? false },
    );
  }

  /** ConnectionState.OPEN, CLOSING or CLOSED. */
  get state(): ConnectionState {
    return this.#currentState;
  }

  /** True once a close frame was written. */
  get closeSent(): boolean {
    return this.#sentClose;
  }

  /** True once the peer's close frame arrived. */
  get closeReceived(): boolean {
    return this.#receivedClose;
  }

  /**
   * Processes bytes read from the socket; takes ownership of `chunk` (it is
   * unmasked in place and messages may be views of it), unless `borrowed`:
   * then nothing delivered or kept refers to `chunk`, which the caller may
   * reuse once this returns (FrameDecoder.push). Ignored once CLOSED.
   */
  receiveData(chunk: Buffer, borrowed: boolean = false): void {
    if (this.#currentState === ConnectionState.CLOSED) return;
    this.#decoder.push(chunk, borrowed);
  }

  /**
   * Sends one data message (strings as UTF-8 text unless `isBinary`), as
   * one frame. With permessage-deflate, a message that reaches the threshold
   * (`deflate.shouldCompress`) is compressed and its frame has RSV1 set.
   * Ignored unless OPEN. A large uncompressed payload is written as is (not
   * copied): the caller must not modify it afterwards.
   */
  send(data: Uint8Array | string, isBinary: boolean): void {
    if (this.#currentState !== ConnectionState.OPEN) return;
    const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const opcode = isBinary ? Opcode.BINARY : Opcode.TEXT;
    if (this.#deflate !== null && this.#deflate.shouldCompress(payload.length)) {
      this.#sendCompressed(opcode, this.#deflate.compress(payload));
    } else if (payload.length < TWO_PART_MIN_BYTES) {
      this.#handler.onWrite(encodeFrame(opcode, payload));
    } else {
      this.#handler.onWrite(encodeFrameHeader(opcode, payload.length, true, null));
      this.#handler.onWrite(payload);
    }
  }

  /**
   * Writes an already framed message (e.g. one publication framed once for
   * many connections). Ignored unless OPEN. The bytes go out as they are: with
   * permessage-deflate such a message is sent uncompressed (RSV1 clear),
   * which RFC 7692 §6 allows for any message.
   */
  sendFrame(frame: Uint8Array): void {
    if (this.#currentState !== ConnectionState.OPEN) return;
    this.#handler.onWrite(frame);
  }

  /** Sends a ping (§5.5.2) with up to 125 bytes of data. Ignored unless OPEN. */
  ping(data?: Uint8Array): void {
    if (this.#currentState !== ConnectionState.OPEN) return;
    this.#handler.onWrite(encodePing(data));
  }

  /**
   * Starts the closing handshake (§7.1.2): writes a close frame (code 1000
   * by default) and moves to CLOSING; `onClose` fires when the peer's close
   * arrives. Ignored unless OPEN. The caller should time the handshake out
   * (then call failConnection or just end TCP). Throws RangeError for a code
   * that may not be sent.
   */
  startClosingHandshake(code: number = CloseCode.NORMAL_CLOSURE, reason: string = ''): void {
    if (this.#currentState !== ConnectionState.OPEN) return;
    const frame = code === CloseCode.NORMAL_CLOSURE && reason === '' ? NORMAL_CLOSE_FRAME : encodeClose(code, reason);
    this.#sentClose = true;
    this.#currentState = ConnectionState.CLOSING;
    this.#handler.onWrite(frame);
  }

  /**
   * "_Fail the WebSocket Connection_" (§7.1.7): writes close(code, reason)
   * unless a close was already sent (or `code` may not be sent, e.g. 1006),
   * discards all further input, moves to CLOSED and calls
   * onClose(code, reason, false). Ignored once CLOSED.
   */
  failConnection(code: number, reason: string): void {
    if (this.#currentState === ConnectionState.CLOSED) return;
    this.#decoder.stop();
    if (!this.#sentClose && isValidCloseCode(code)) {
      this.#sentClose = true;
      this.#handler.onWrite(encodeClose(code, reason));
    }
    this.#currentState = ConnectionState.CLOSED;
    this.#handler.onClose(code, reason, false);
  }

  /**
   * Writes a compressed payload as one frame with RSV1 set. RFC 7692 §6: "To
   * send a message with compressed data, an endpoint ... MUST set the
   * "Per-Message Compressed" bit (RSV1) of the first frame". It goes out
   * compressed even when compressing made it longer: with context takeover
   * the peer's LZ77 window must hold everything the compressor saw (§7.2.1).
   */
  #sendCompressed(opcode: number, compressed: Buffer): void {
    if (compressed.length < TWO_PART_MIN_BYTES) {
      this.#handler.onWrite(encodeFrame(opcode, compressed, { rsv1: true }));
    } else {
      this.#handler.onWrite(encodeFrameHeader(opcode, compressed.length, true, null, true));
      this.#handler.onWrite(compressed);
    }
  }

  // FrameSink: called by this connection's own decoder, never by the owner.

  /** FrameSink: a whole message from the decoder (`compressed` only ever with deflate, rsv1Allowed). */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean, lent: boolean): void {
    if (compressed) this.#handleCompressedMessage(data, isBinary);
    else this.#handleMessage(data, isBinary, lent);
  }

  /** FrameSink: a control frame from the decoder. */
  onControl(opcode: number, payload: Buffer): void {
    this.#handleControl(opcode, payload);
  }

  /** FrameSink: the decoder found a protocol error. */
  onError(error: ProtocolError): void {
    this.#handleError(error);
  }

  #handleMessage(data: Buffer, isBinary: boolean, lent: boolean): void {
    // §5.5.1: after sending a close frame the endpoint may ignore further
    // data; the application has been told the connection is closing.
    if (this.#sentClose) return;
    this.#handler.onMessage(data, isBinary, lent);
  }

  /** A message whose first frame had RSV1 set (permessage-deflate): inflate, check text, deliver. */
  #handleCompressedMessage(data: Buffer, isBinary: boolean): void {
    // §5.5.1, as in handleMessage; dropped before inflating, so a closing
    // connection spends no CPU on it (its window no longer matters: no data
    // message is delivered after a close was sent).
    if (this.#sentClose) return;
    let message: Buffer;
    try {
      // RFC 7692 §7.2.2; the message limit applies to the inflated size
      // (RFC 6455 §10.4). ProtocolError 1009 past it, 1007 for bad DEFLATE data.
      message = (this.#deflate as PerMessageDeflate).decompress(data, this.#maxMessageBytes);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#handleError(error);
      return;
    }
    // RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8
    // but finds that the byte stream is not, in fact, a valid UTF-8 stream,
    // that endpoint MUST _Fail the WebSocket Connection_" (1007, §7.4.1). The
    // decoder could not check the compressed bytes; check the inflated text.
    if (!isBinary && !isValidUtf8(message)) {
      this.#handleError(new ProtocolError('WS_ERR_INVALID_UTF8', 'invalid UTF-8 in text message'));
      return;
    }
    // The inflated message is a buffer of its own, never lent (the compressed input was read synchronously).
    this.#handler.onMessage(message, isBinary, false);
  }

  #handleControl(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.PING) {
      // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong
      // frame in response, unless it already received a Close frame."
      this.#handler.onWrite(encodePong(payload));
      this.#handler.onPing(payload);
    } else if (opcode === Opcode.PONG) {
      // §5.5.3: an unsolicited pong is a heartbeat; no response expected.
      this.#handler.onPong(payload);
    } else {
      this.#handleClose(payload);
    }
  }

  #handleClose(payload: Buffer): void {
    let code: number;
    let reason: string;
    try {
      ({ code, reason } = parseClosePayload(payload));
    } catch (error) {
      this.#handleError(error as ProtocolError);
      return;
    }
    this.#receivedClose = true;
    // §5.5.1: after a close frame nothing more may follow from the peer.
    this.#decoder.stop();
    if (!this.#sentClose) {
      // §5.5.1: "If an endpoint receives a Close frame and did not previously
      // send a Close frame, the endpoint MUST send a Close frame in response
      // ... typically echoing the status code it received." With no code
      // received there is nothing to echo: answer 1000.
      this.#sentClose = true;
      this.#handler.onWrite(code === CloseCode.NO_STATUS_RECEIVED || code === CloseCode.NORMAL_CLOSURE ? NORMAL_CLOSE_FRAME : encodeClose(code));
    }
    this.#currentState = ConnectionState.CLOSED;
    // §7.1.5/§7.1.6: the close code and reason are those of the peer's frame.
    this.#handler.onClose(code, reason, true);
  }

  #handleError(error: ProtocolError): void {
    this.failConnection(error.closeCode, error.message);
  }
}
