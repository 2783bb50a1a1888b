/**
 * Streaming frame decoder, RFC 6455 §5: bytes in (chunks split anywhere),
 * whole messages and control frames out, through a sink. Sans-I/O.
 *
 * Speed: a frame that lies inside one chunk is unmasked in place and handed
 * out as a view of that chunk (no copy). Bytes are copied only when a header
 * spans chunks (into an 8-byte spill buffer) or a payload spans chunks or a
 * message is fragmented (into one growing buffer per message, so a message
 * never pins the input chunks its fragments came in).
 *
 * A borrowed chunk (`push(chunk, true)`: a read buffer its owner reuses once
 * `push` returns) is only read: nothing handed out or kept refers to it. A
 * frame inside it is copied out, unmasked on the way; what spans chunks is
 * copied as above.
 *
 * Lent messages (`lendMessages`, for a sink that lets go of each message
 * before its `onMessage` returns): a frame inside a borrowed chunk is then
 * unmasked in place and handed out as a view of the chunk too, and a message
 * that spans chunks is assembled in a buffer that is reused for the next one
 * (this decoder's while a push lasts, else one of a few spare buffers of the
 * thread): no allocation and no copy per message. `onMessage` says whether
 * the message is lent (`lent`): a view of a borrowed chunk or of a reused
 * buffer, valid only until the callback returns; unless the sink keeps the
 * reused buffer (`keepLentBuffer`, e.g. to write a reply from it by
 * reference): the decoder then lets go of it and assembles the next message
 * elsewhere.
 */
import { Opcode } from './constants.ts';
import { type FrameErrorCode, ProtocolError } from './errors.ts';
import { payloadLength64 } from './frame-header.ts';
import { unmask, unmaskedCopy, unmaskInto } from './mask.ts';
import { isValidUtf8, Utf8Validator } from './utf8.ts';

/** Where the decoder delivers what it decoded. Called synchronously from `push`. */
export interface FrameSink {
  /**
   * A whole data message, reassembled from its fragments. `data` may be a
   * view into a chunk given to `push`; text is already validated UTF-8.
   * `compressed` is true when its first frame had RSV1 set (only possible
   * with `rsv1Allowed`); the payload is then still compressed and unvalidated.
   * `lent` (only with `lendMessages`): `data` is valid only until this call
   * returns; the decoder rewrites or hands back its bytes afterwards.
   */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean, lent: boolean): void;
  /** A ping, pong or close frame (opcode 0x9, 0xA, 0x8), its payload unparsed. */
  onControl(opcode: number, payload: Buffer): void;
  /** The input broke the protocol; called once, after which input is discarded. */
  onError(error: ProtocolError): void;
}

export interface FrameDecoderOptions {
  /** Largest message, summed over its fragments; larger fails with 1009 (checked from the headers). */
  maxMessageBytes: number;
  /** Frames must be masked (a server decoding client frames, the default); false decodes server frames. */
  requireMask?: boolean;
  /** RSV1 may be set on the first frame of a data message (permessage-deflate negotiated, RFC 7692 §6). */
  rsv1Allowed?: boolean;
  /**
   * The sink lets go of every message before its `onMessage` returns: hand
   * out views of borrowed chunks and of reused buffers (`lent`) instead of
   * copies. Default false: every message is the sink's to keep.
   */
  lendMessages?: boolean;
}

// Parser states, named for what they wait for.
const READ_HEADER = 0;
const READ_LENGTH_16 = 1;
const READ_LENGTH_64 = 2;
const READ_MASK = 3;
const READ_PAYLOAD = 4;
const DISCARD = 5;

/**
 * First allocation when a data payload has to be buffered, unless the frame
 * is shorter: a 64 KiB frame that spans two chunks is copied once, while a
 * peer that announces a huge frame and sends it slowly only costs memory in
 * proportion to what it actually sent (the buffer grows as bytes arrive).
 */
const INITIAL_BUFFER_BYTES = 64 * 1024;

/**
 * How much the message buffer grows when full: the buffer stays within this
 * many times the bytes received (or 64 KiB), and a large message is copied
 * fewer times on its way in. 1 MiB in 64 KiB reads: growing by 2 copies
 * 960 KiB more than the message (64 + 128 + 256 + 512), by 4 only 320 KiB
 * (bench/micro/large-messages.ts, 1 MiB echo: see the commit message).
 */
const GROWTH_FACTOR = 4;

const EMPTY = Buffer.alloc(0);

/**
 * Message buffers of lending decoders that are between messages, for the
 * next decoder of the thread that has to assemble one: a connection keeps
 * a buffer only while a message is under way, and a stream of large
 * messages reuses a few warm buffers instead of allocating (and faulting in)
 * fresh memory for each. At most SPARE_COUNT buffers of at most
 * SPARE_MAX_BYTES each are kept.
 */
const spares: Buffer[] = [];
const SPARE_COUNT = 4;
const SPARE_MAX_BYTES = 1024 * 1024;

/** A spare buffer of at least `capacity` bytes, taken from the spares, or null. */
function takeSpare(capacity: number): Buffer | null {
  for (let i = spares.length - 1; i >= 0; i--) {
    const spare = spares[i] as Buffer;
    if (spare.length >= capacity) {
      spares[i] = spares[spares.length - 1] as Buffer;
      spares.pop();
      return spare;
    }
  }
  return null;
}

/** Keeps `buffer` for reuse when there is room, else drops it (the smallest spare makes way for a larger one). */
function giveSpare(buffer: Buffer): void {
  if (buffer.length > SPARE_MAX_BYTES) return;
  if (spares.length < SPARE_COUNT) {
    spares.push(buffer);
    return;
  }
  let smallest = 0;
  for (let i = 1; i < spares.length; i++) if ((spares[i] as Buffer).length < (spares[smallest] as Buffer).length) smallest = i;
  if ((spares[smallest] as Buffer).length < buffer.length) spares[smallest] = buffer;
}

/**
 * The reused buffer the lent message being delivered was assembled in (null
 * while none is), and whether the sink kept it (`keepLentBuffer`). One per
 * thread: deliveries do not nest.
 */
let lending: Buffer | null = null;
let lendingKept = false;

/**
 * Called by a sink while it handles a lent message (`onMessage` with `lent`)
 * that it needs past its `onMessage` (a reply written by reference that may
 * stay queued): when the message was assembled in a reused buffer, returns
 * that whole buffer, which its decoder then drops instead of reusing; null
 * when the message is a view of a pushed chunk (the chunk's owner decides)
 * or no lent message is being delivered. Hand the buffer back with
 * `reuseLentBuffer` once nothing refers to it, or just let it go.
 */
export function keepLentBuffer(): Buffer | null {
  if (lending === null) return null;
  lendingKept = true;
  return lending;
}

/** A buffer from `keepLentBuffer` that nothing refers to any more: reused for the next message assembled on this thread (or dropped when the spares are full). */
export function reuseLentBuffer(buffer: Buffer): void {
  giveSpare(buffer);
}

/**
 * The masking key handed to unmask(), filled from a decoder's 32-bit key
 * right before each call (unmask is synchronous, so one array serves every
 * decoder of the thread). A key array per decoder, with its ArrayBuffer,
 * cost about 200 bytes of heap per idle connection (heap snapshots of 1,000
 * and 5,000 idle connections).
 */
const KEY = new Uint8Array(4);

/** The key of an unmasked frame: XOR with zero copies. */
const NO_KEY = new Uint8Array(4);

/**
 * Decodes one direction of one connection. Create it when the connection
 * opens; call `push` with every chunk read from the socket, in order; the
 * sink is called for each complete message, control frame or error.
 */
export class FrameDecoder {
  readonly #sink: FrameSink;
  readonly #maxMessageBytes: number;
  readonly #requireMask: boolean;
  readonly #rsv1Allowed: boolean;
  readonly #lend: boolean;

  #state: number;
  /**
   * Bytes of a header field (2-byte header, 16/64-bit length, mask) that
   * spans chunks; allocated the first time one does (most connections never).
   */
  #spill: Uint8Array | null;
  #spillLength: number;

  // The frame being read.
  #fin: boolean;
  #opcode: number;
  #masked: boolean;
  #payloadLength: number;
  /** Payload bytes of this frame copied so far, when it is being buffered. */
  #received: number;
  /** The frame's masking key, first octet in the high byte. */
  #maskKey: number;
  /** A control frame payload that spans chunks (<= 125 bytes). */
  #controlPayload: Buffer;

  // The data message being read.
  /** TEXT or BINARY while a fragmented message is open, else 0. */
  #messageOpcode: number;
  #messageCompressed: boolean;
  /** Payload bytes announced by this message's frame headers so far. */
  #messageLength: number;
  /** Holds the payload of a fragmented message or of a frame spanning chunks. */
  #buffer: Buffer;
  #bufferLength: number;
  /** Checks fragmented text across frames; created for the first fragmented text message. */
  #validator: Utf8Validator | null;

  constructor(sink: FrameSink, options: FrameDecoderOptions) {
    this.#sink = sink;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#requireMask = options.requireMask ?? true;
    this.#rsv1Allowed = options.rsv1Allowed ?? false;
    this.#lend = options.lendMessages ?? false;
    this.#state = READ_HEADER;
    this.#spill = null;
    this.#spillLength = 0;
    this.#fin = false;
    this.#opcode = 0;
    this.#masked = false;
    this.#payloadLength = 0;
    this.#received = 0;
    this.#maskKey = 0;
    this.#controlPayload = EMPTY;
    this.#messageOpcode = 0;
    this.#messageCompressed = false;
    this.#messageLength = 0;
    this.#buffer = EMPTY;
    this.#bufferLength = 0;
    this.#validator = null;
  }

  /** Bytes the decoder holds between calls (message buffer, partial control frame, header spill). */
  get bufferedBytes(): number {
    return this.#buffer.length + this.#controlPayload.length + this.#spillLength;
  }

  /** True once the input failed (onError was called) or `stop` was called: input is discarded. */
  get stopped(): boolean {
    return this.#state === DISCARD;
  }

  /**
   * Decodes the next chunk of input. The decoder takes ownership of `chunk`:
   * it unmasks payloads in place and may hand out views of it, so the caller
   * must not reuse it; unless `borrowed`: then the decoder keeps no reference
   * to `chunk` and hands out only copies, and the caller may reuse it once
   * `push` returns (with `lendMessages`, messages are then lent views of
   * it). Input after a failure or `stop` is ignored. The sink must not call
   * `push` again from inside its callbacks.
   */
  push(chunk: Buffer, borrowed: boolean = false): void {
    this.#decode(chunk, borrowed);
    // Between messages a lending decoder keeps no buffer: it goes to the thread's spares.
    if (this.#lend && this.#bufferLength === 0 && this.#buffer !== EMPTY) {
      giveSpare(this.#buffer);
      this.#buffer = EMPTY;
    }
  }

  #decode(chunk: Buffer, borrowed: boolean): void {
    const length = chunk.length;
    let pos = 0;
    for (;;) {
      switch (this.#state) {
        case READ_HEADER: {
          if (pos >= length) return;
          let b0: number;
          if (this.#spillLength === 1) {
            b0 = (this.#spill as Uint8Array)[0]!;
            this.#spillLength = 0;
          } else if (pos + 1 < length) {
            b0 = chunk[pos++]!;
          } else {
            this.#spillBytes()[0] = chunk[pos]!;
            this.#spillLength = 1;
            return;
          }
          if (!this.#readHeader(b0, chunk[pos++]!)) return;
          break;
        }
        case READ_LENGTH_16: {
          if (pos >= length) return;
          if (this.#spillLength === 0 && pos + 2 <= length) {
            this.#payloadLength = (chunk[pos]! << 8) | chunk[pos + 1]!;
            pos += 2;
          } else {
            pos = this.#fillSpill(chunk, pos, 2);
            if (this.#spillLength < 2) return;
            this.#spillLength = 0;
            const spill = this.#spill as Uint8Array;
            this.#payloadLength = (spill[0]! << 8) | spill[1]!;
          }
          if (!this.#haveLength()) return;
          break;
        }
        case READ_LENGTH_64: {
          if (pos >= length) return;
          let source: Uint8Array;
          let at: number;
          if (this.#spillLength === 0 && pos + 8 <= length) {
            source = chunk;
            at = pos;
            pos += 8;
          } else {
            pos = this.#fillSpill(chunk, pos, 8);
            if (this.#spillLength < 8) return;
            this.#spillLength = 0;
            source = this.#spill as Uint8Array;
            at = 0;
          }
          const high = ((source[at]! << 24) | (source[at + 1]! << 16) | (source[at + 2]! << 8) | source[at + 3]!) >>> 0;
          const low = ((source[at + 4]! << 24) | (source[at + 5]! << 16) | (source[at + 6]! << 8) | source[at + 7]!) >>> 0;
          // §5.2: 64-bit length: "the most significant bit MUST be 0".
          if (high >= 0x80000000) {
            this.#fail('WS_ERR_INVALID_LENGTH', 'payload length has the top bit set');
            return;
          }
          // Anything of 2^53 or more is far above any message limit: 1009 below.
          this.#payloadLength = payloadLength64(high, low);
          if (!this.#haveLength()) return;
          break;
        }
        case READ_MASK: {
          if (pos >= length) return;
          let source: Uint8Array;
          let at: number;
          if (this.#spillLength === 0 && pos + 4 <= length) {
            source = chunk;
            at = pos;
            pos += 4;
          } else {
            pos = this.#fillSpill(chunk, pos, 4);
            if (this.#spillLength < 4) return;
            this.#spillLength = 0;
            source = this.#spill as Uint8Array;
            at = 0;
          }
          this.#maskKey = (source[at]! << 24) | (source[at + 1]! << 16) | (source[at + 2]! << 8) | source[at + 3]!;
          this.#state = READ_PAYLOAD;
          break;
        }
        case READ_PAYLOAD: {
          const payloadLength = this.#payloadLength;
          const available = length - pos;
          if (this.#received === 0 && available >= payloadLength && (this.#opcode >= 0x8 || this.#messageOpcode === 0)) {
            // The whole frame is in this chunk and is a message or control
            // frame by itself: unmask in place and hand out a view (a copy
            // of a borrowed chunk, unmasked while copying, unless messages
            // are lent; control frames are always copied: the connection
            // may keep a ping's payload for its pong).
            let payload: Buffer;
            if (payloadLength === 0) {
              payload = EMPTY;
            } else if (borrowed && !(this.#lend && this.#opcode < 0x8)) {
              payload = unmaskedCopy(chunk, pos, payloadLength, this.#masked ? this.#keyBytes() : NO_KEY);
            } else {
              payload = chunk.subarray(pos, pos + payloadLength);
              if (this.#masked) this.#unmaskPayload(payload);
            }
            pos += payloadLength;
            this.#state = READ_HEADER;
            if (this.#opcode >= 0x8) this.#sink.onControl(this.#opcode, payload);
            else if (!this.#completeMessage(payload, borrowed && this.#lend)) return;
          } else if (this.#opcode >= 0x8) {
            if (available === 0) return;
            if (this.#received === 0) this.#controlPayload = Buffer.allocUnsafe(payloadLength);
            const take = Math.min(available, payloadLength - this.#received);
            chunk.copy(this.#controlPayload, this.#received, pos, pos + take);
            pos += take;
            this.#received += take;
            if (this.#received < payloadLength) return;
            const payload = this.#controlPayload;
            this.#controlPayload = EMPTY;
            this.#received = 0;
            if (this.#masked) this.#unmaskPayload(payload);
            this.#state = READ_HEADER;
            this.#sink.onControl(this.#opcode, payload);
          } else {
            if (available === 0 && this.#received < payloadLength) return;
            const take = Math.min(available, payloadLength - this.#received);
            if (take > 0) {
              this.#reserve(this.#bufferLength + take, this.#bufferLength - this.#received + payloadLength);
              // Unmasked on the way in: one pass over the bytes instead of a copy and an unmask.
              if (this.#masked) unmaskInto(chunk, pos, take, this.#keyBytes(), this.#received, this.#buffer, this.#bufferLength);
              else chunk.copy(this.#buffer, this.#bufferLength, pos, pos + take);
              pos += take;
              this.#bufferLength += take;
              this.#received += take;
            }
            if (this.#received < payloadLength) return;
            this.#received = 0;
            this.#state = READ_HEADER;
            if (!this.#completeBufferedFrame()) return;
          }
          if (this.#state === DISCARD) return; // the sink called stop()
          break;
        }
        default:
          return;
      }
    }
  }

  /**
   * Discards all further input and frees buffered data, e.g. once the
   * connection has received a close frame or failed for another reason.
   */
  stop(): void {
    this.#state = DISCARD;
    this.#buffer = EMPTY;
    this.#bufferLength = 0;
    this.#controlPayload = EMPTY;
  }

  /** The spill buffer, allocated on first use. */
  #spillBytes(): Uint8Array {
    return (this.#spill ??= new Uint8Array(8));
  }

  /** Copies header bytes into the spill buffer until it holds `needed`; returns the new chunk position. */
  #fillSpill(chunk: Buffer, pos: number, needed: number): number {
    const spill = this.#spillBytes();
    const take = Math.min(needed - this.#spillLength, chunk.length - pos);
    for (let i = 0; i < take; i++) spill[this.#spillLength + i] = chunk[pos + i]!;
    this.#spillLength += take;
    return pos + take;
  }

  /** Unmasks a payload in place with this frame's key (§5.3). */
  #unmaskPayload(payload: Uint8Array): void {
    unmask(payload, this.#keyBytes());
  }

  /** This frame's masking key, in KEY. */
  #keyBytes(): Uint8Array {
    const key = this.#maskKey;
    KEY[0] = key >>> 24;
    KEY[1] = key >>> 16;
    KEY[2] = key >>> 8;
    KEY[3] = key;
    return KEY;
  }

  /** Validates the first two header bytes and picks the next state. False after a failure. */
  #readHeader(b0: number, b1: number): boolean {
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const length7 = b1 & 0x7f;

    // §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated that defines
    // meanings for non-zero values"; RFC 7692 §6 allows RSV1 only on the first
    // frame of a data message.
    if ((b0 & 0x30) !== 0) return this.#fail('WS_ERR_RESERVED_BITS', 'RSV2 and RSV3 must be clear');
    if (rsv1 && (!this.#rsv1Allowed || opcode === Opcode.CONTINUATION || opcode >= 0x8)) {
      return this.#fail('WS_ERR_RESERVED_BITS', 'RSV1 must be clear');
    }

    if (opcode >= 0x8) {
      // §5.2: opcodes 0xB-0xF "are reserved for further control frames".
      if (opcode > Opcode.PONG) return this.#fail('WS_ERR_INVALID_OPCODE', `reserved opcode ${opcode}`);
      // §5.5: "All control frames MUST have a payload length of 125 bytes or
      // less and MUST NOT be fragmented."
      if (!fin) return this.#fail('WS_ERR_FRAGMENTED_CONTROL', 'fragmented control frame');
      if (length7 > 125) return this.#fail('WS_ERR_CONTROL_TOO_LONG', 'control frame payload over 125 bytes');
    } else if (opcode === Opcode.CONTINUATION) {
      // §5.4: a continuation frame belongs to a fragmented message in progress.
      if (this.#messageOpcode === 0) return this.#fail('WS_ERR_UNEXPECTED_CONTINUATION', 'continuation frame without a message to continue');
    } else if (opcode === Opcode.TEXT || opcode === Opcode.BINARY) {
      // §5.4: "the fragments of one message MUST NOT be interleaved between
      // the fragments of another message".
      if (this.#messageOpcode !== 0) return this.#fail('WS_ERR_EXPECTED_CONTINUATION', 'new data frame inside a fragmented message');
      if (!fin) this.#messageOpcode = opcode;
      this.#messageCompressed = rsv1;
    } else {
      // §5.2: opcodes 0x3-0x7 "are reserved for further non-control frames".
      return this.#fail('WS_ERR_INVALID_OPCODE', `reserved opcode ${opcode}`);
    }

    // §5.1: "The server MUST close the connection upon receiving a frame that
    // is not masked" and "A client MUST close a connection if it detects a
    // masked frame".
    if (masked !== this.#requireMask) {
      return masked
        ? this.#fail('WS_ERR_MASKED_FRAME', 'masked server frame')
        : this.#fail('WS_ERR_UNMASKED_FRAME', 'unmasked client frame');
    }

    this.#fin = fin;
    this.#opcode = opcode;
    this.#masked = masked;
    if (length7 === 126) {
      this.#state = READ_LENGTH_16;
      return true;
    }
    if (length7 === 127) {
      this.#state = READ_LENGTH_64;
      return true;
    }
    this.#payloadLength = length7;
    return this.#haveLength();
  }

  /**
   * The payload length is known: enforce the message limit before any byte
   * of the payload is buffered, then wait for the mask or the payload.
   * (§5.2 asks senders for the minimal length encoding; a longer encoding is
   * accepted, as receivers are not told to reject it.)
   */
  #haveLength(): boolean {
    if (this.#opcode < 0x8) {
      // §10.4: "implementations SHOULD impose a limit on frame sizes and the
      // total message size after reassembly from multiple frames"; §7.4.1 1009.
      if (this.#payloadLength > this.#maxMessageBytes - this.#messageLength) {
        return this.#fail('WS_ERR_MESSAGE_TOO_BIG', 'message too big');
      }
      this.#messageLength += this.#payloadLength;
    }
    this.#state = this.#masked ? READ_MASK : READ_PAYLOAD;
    return true;
  }

  /**
   * Makes room for `needed` bytes in the message buffer, growing it by
   * GROWTH_FACTOR (the first allocation: GROWTH_FACTOR times `needed`, at
   * least to the end of the current frame up to 64 KiB), never past the
   * message limit, nor past the end of the current frame when it is the
   * message's last (its length is then the message's); and right to that
   * end when it is at most half a step further (1.5 times the grown size),
   * so that a 1 MiB frame whose first read brings 256 KiB less its header
   * gets its whole buffer at once instead of 4 bytes short of it.
   */
  #reserve(needed: number, frameEnd: number): void {
    const current = this.#buffer.length;
    if (needed <= current) return;
    const grown = (current === 0 ? needed : current) * GROWTH_FACTOR;
    const capped = this.#fin && frameEnd <= grown * 1.5 ? frameEnd : grown;
    const capacity = Math.min(this.#maxMessageBytes, Math.max(needed, capped, Math.min(frameEnd, INITIAL_BUFFER_BYTES)));
    let next: Buffer;
    if (!this.#lend) {
      next = Buffer.allocUnsafe(capacity);
    } else {
      // A buffer of its own (not a slice of Node's pool: the sink tells lent
      // memory by its ArrayBuffer), from the spares when one is large enough.
      next = (current === 0 ? takeSpare(capacity) : null) ?? Buffer.allocUnsafeSlow(capacity);
    }
    if (this.#bufferLength > 0) this.#buffer.copy(next, 0, 0, this.#bufferLength);
    this.#buffer = next;
  }

  /** A data frame whose payload was copied (unmasked) into the message buffer is complete. False after a failure. */
  #completeBufferedFrame(): boolean {
    const end = this.#bufferLength;
    const lend = this.#lend;
    if (this.#messageOpcode === 0) {
      // A single-frame message that spanned chunks.
      const message = this.#buffer.subarray(0, end);
      // A lent message's buffer is reused for the next message once the sink returns (unless it keeps it).
      this.#bufferLength = 0;
      if (!lend) {
        this.#buffer = EMPTY;
        return this.#completeMessage(message, false);
      }
      lending = this.#buffer;
      try {
        return this.#completeMessage(message, true);
      } finally {
        this.#endLending();
      }
    }
    // §5.6 / §8.1: text must be valid UTF-8; check each fragment as it comes
    // so invalid text fails where it appears, not at the end of the message.
    if (this.#messageOpcode === Opcode.TEXT && !this.#messageCompressed) {
      const validator = (this.#validator ??= new Utf8Validator());
      if (!validator.write(this.#buffer.subarray(end - this.#payloadLength, end))) return this.#fail('WS_ERR_INVALID_UTF8', 'invalid UTF-8 in text message');
    }
    if (!this.#fin) return true;
    const message = this.#buffer.subarray(0, end);
    const isBinary = this.#messageOpcode === Opcode.BINARY;
    const compressed = this.#messageCompressed;
    if (!lend) this.#buffer = EMPTY;
    this.#bufferLength = 0;
    this.#messageOpcode = 0;
    this.#messageLength = 0;
    this.#messageCompressed = false;
    if (!isBinary && !compressed && !(this.#validator as Utf8Validator).finish()) {
      return this.#fail('WS_ERR_INVALID_UTF8', 'text message ends inside a UTF-8 sequence');
    }
    if (!lend) {
      this.#sink.onMessage(message, isBinary, compressed, false);
      return true;
    }
    lending = this.#buffer;
    try {
      this.#sink.onMessage(message, isBinary, compressed, true);
    } finally {
      this.#endLending();
    }
    return true;
  }

  /** The delivery of a message lent from the message buffer is over: drop the buffer if the sink kept it. */
  #endLending(): void {
    if (lendingKept && this.#buffer === lending) this.#buffer = EMPTY;
    lending = null;
    lendingKept = false;
  }

  /** A single-frame message (FIN set, opcode TEXT or BINARY) is complete; `lent`: a view of memory that is reused. False after a failure. */
  #completeMessage(message: Buffer, lent: boolean): boolean {
    const isBinary = this.#opcode === Opcode.BINARY;
    const compressed = this.#messageCompressed;
    this.#messageLength = 0;
    this.#messageCompressed = false;
    // §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds
    // that the byte stream is not, in fact, a valid UTF-8 stream, that
    // endpoint MUST _Fail the WebSocket Connection_" (1007, §7.4.1).
    if (!isBinary && !compressed && !isValidUtf8(message)) {
      return this.#fail('WS_ERR_INVALID_UTF8', 'invalid UTF-8 in text message');
    }
    this.#sink.onMessage(message, isBinary, compressed, lent);
    return true;
  }

  /** "_Fail the WebSocket Connection_" (§7.1.7): report once, then discard all input. Returns false. */
  #fail(code: FrameErrorCode, reason: string): false {
    this.stop();
    this.#sink.onError(new ProtocolError(code, reason));
    return false;
  }
}
