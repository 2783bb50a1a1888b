/**
 * permessage-deflate message transform, RFC 7692 §7.2: raw DEFLATE (RFC 1951)
 * of whole message payloads, synchronous, one `PerMessageDeflate` per
 * connection. Negotiation lives in permessage-deflate-negotiation.ts.
 *
 * Design: context takeover WITHOUT a persistent zlib stream. Node has no
 * documented synchronous API for a zlib stream that lives across calls (the
 * sync one-shots close their engine after each call, and the streams are
 * asynchronous: the ws package queues every message through one, which
 * breaks the core's bytes-in/bytes-out synchronous shape). What context
 * takeover needs is only the LZ77 window: the last 2^window_bits bytes of
 * plain text that went through the compressor (RFC 7692 §7.2.1, "the LZ77
 * sliding window"). So each message is one `deflateRawSync` /
 * `inflateRawSync` call whose preset `dictionary` is that window, kept here
 * as a plain Buffer:
 *
 *   - memory between messages is the window alone (<= 2^bits bytes per
 *     direction that takes over context, nothing without takeover), instead
 *     of live zlib contexts (a deflate + inflate stream pair with windowBits
 *     15 and memLevel 8 grows RSS by ~240 KiB per connection, measured);
 *   - the compressed bytes are as small as a persistent stream's (same
 *     window, same matches; measured in bench/micro/deflate.ts);
 *   - the cost is CPU: zlib hashes the dictionary again for every compressed
 *     message (deflateSetDictionary), a fixed ~2^bits-byte overhead that is
 *     large next to a small message. Smaller server windows cut it; the
 *     default policy (no context takeover) avoids it entirely.
 *
 * windowBits 8: zlib will not build a raw deflater with a 256-byte window
 * (deflateInit2 refuses windowBits 8 without the zlib wrapper, or raises it to
 * 9). The compressor therefore runs with 9 when 8 was agreed. That is still
 * within the promise: zlib never emits a match distance over
 * 2^windowBits - 262 (MAX_DIST in deflate.h), that is 250 bytes at 9, under
 * the agreed 256 (checked by a property test). Inflaters accept windowBits 8.
 */
import { constants as buffer } from 'node:buffer';
import { deflateRawSync, inflateRawSync, constants as zlib } from 'node:zlib';
import { ProtocolError } from './errors.ts';
import type { DeflateAgreement, PerMessageDeflateOptions } from './permessage-deflate-negotiation.ts';

/**
 * RFC 7692 §7.2.1: the empty stored block that ends a sync flush. The sender
 * removes it ("Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail
 * end"), the receiver puts it back (§7.2.2: "Append 4 octets of 0x00 0x00
 * 0xff 0xff to the tail end of the payload of the message").
 */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Smallest windowBits zlib accepts for a raw deflater (see the module comment). */
const MIN_DEFLATE_WINDOW_BITS = 9;

/**
 * The last `capacity` bytes of a byte stream: the LZ77 sliding window that
 * context takeover carries from one message to the next. The buffer is
 * allocated on first use, so a connection that never takes over context (or
 * never sends a compressed message) holds nothing.
 */
class SlidingWindow {
  readonly #capacity: number;
  #buffer: Buffer | null;
  #length: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
    this.#buffer = null;
    this.#length = 0;
  }

  /** Bytes allocated for the window. */
  get allocatedBytes(): number {
    return this.#buffer === null ? 0 : this.#buffer.length;
  }

  /** The window as a zlib `dictionary`, or undefined while it is empty. */
  dictionary(): Buffer | undefined {
    return this.#length === 0 || this.#buffer === null ? undefined : this.#buffer.subarray(0, this.#length);
  }

  /** Slides the window over `data` (copied: the caller may reuse it). */
  append(data: Uint8Array): void {
    if (data.length === 0) return;
    const buffer = (this.#buffer ??= Buffer.allocUnsafe(this.#capacity));
    if (data.length >= this.#capacity) {
      buffer.set(data.subarray(data.length - this.#capacity));
      this.#length = this.#capacity;
      return;
    }
    const keep = Math.min(this.#length, this.#capacity - data.length);
    if (keep > 0 && keep < this.#length) buffer.copy(buffer, 0, this.#length - keep, this.#length);
    buffer.set(data, keep);
    this.#length = keep + data.length;
  }
}

/** A zlib failure (corrupt input), as opposed to a programming error. */
function isZlibError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { errno?: unknown }).errno === 'number' && 'code' in error;
}

/** Which end of the connection this codec runs at. */
export type DeflateRole = 'server' | 'client';

/**
 * The permessage-deflate state of one connection: compresses the payloads
 * it sends and decompresses the payloads it receives whose first frame had
 * RSV1 set. Create it after the handshake agreed on permessage-deflate and
 * use it for every message of that connection, in order: with context
 * takeover each message depends on the ones before it. Calls are
 * synchronous and independent between the two directions.
 */
export class PerMessageDeflate {
  /** What was agreed in the handshake. */
  readonly agreement: DeflateAgreement;
  /** Messages shorter than this are better sent uncompressed. */
  readonly thresholdBytes: number;

  readonly #level: number;
  readonly #memLevel: number;
  readonly #deflateWindowBits: number;
  readonly #inflateWindowBits: number;
  /** Window of what this end compressed; null without context takeover. */
  readonly #deflateWindow: SlidingWindow | null;
  /** Window of what this end decompressed; null when the peer resets its context. */
  readonly #inflateWindow: SlidingWindow | null;

  /**
   * `agreement` comes from `negotiatePerMessageDeflate`; `options` supplies
   * level, memLevel and thresholdBytes. `role` is 'server' (the default) for
   * Shoal's connections; 'client' swaps the directions for the bench client.
   */
  constructor(
    agreement: DeflateAgreement,
    options: Pick<PerMessageDeflateOptions, 'level' | 'memLevel' | 'thresholdBytes'>,
    role: DeflateRole = 'server',
  ) {
    this.agreement = agreement;
    this.thresholdBytes = options.thresholdBytes;
    this.#level = options.level;
    this.#memLevel = options.memLevel;
    const isServer = role === 'server';
    const ownBits = isServer ? agreement.serverMaxWindowBits : agreement.clientMaxWindowBits;
    const peerBits = isServer ? agreement.clientMaxWindowBits : agreement.serverMaxWindowBits;
    const ownReset = isServer ? agreement.serverNoContextTakeover : agreement.clientNoContextTakeover;
    const peerReset = isServer ? agreement.clientNoContextTakeover : agreement.serverNoContextTakeover;
    this.#deflateWindowBits = Math.max(ownBits, MIN_DEFLATE_WINDOW_BITS);
    this.#inflateWindowBits = peerBits;
    this.#deflateWindow = ownReset ? null : new SlidingWindow(1 << this.#deflateWindowBits);
    this.#inflateWindow = peerReset ? null : new SlidingWindow(1 << peerBits);
  }

  /** Bytes this connection holds between messages (the context takeover windows). */
  get retainedBytes(): number {
    return (this.#deflateWindow?.allocatedBytes ?? 0) + (this.#inflateWindow?.allocatedBytes ?? 0);
  }

  /** Whether a message of `byteLength` bytes should be compressed (it reaches the threshold). */
  shouldCompress(byteLength: number): boolean {
    return byteLength >= this.thresholdBytes;
  }

  /**
   * The compressed payload of one message (RFC 7692 §7.2.1): raw DEFLATE
   * ended by a sync flush, minus the 4-byte tail. Send it as the payload of
   * a message whose first frame has RSV1 set. With context takeover this
   * advances the window, so every result must be sent, in call order.
   */
  compress(data: Uint8Array): Buffer {
    const window = this.#deflateWindow;
    const output = deflateRawSync(data, {
      level: this.#level,
      memLevel: this.#memLevel,
      windowBits: this.#deflateWindowBits,
      // §7.2.1: "Compress all the octets of the payload of the message using
      // DEFLATE. If the resulting data does not end with an empty DEFLATE
      // block with no compression (the 'BTYPE' bits are set to 00), append
      // an empty DEFLATE block with no compression to the tail end." A sync
      // flush ends with exactly that block.
      finishFlush: zlib.Z_SYNC_FLUSH,
      // §7.2.1: without server_no_context_takeover the compressor "MAY use
      // the LZ77 sliding window used to build frames for the last message".
      dictionary: window?.dictionary(),
    });
    window?.append(data);
    // §7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end."
    return output.subarray(0, output.length - DEFLATE_TAIL.length);
  }

  /**
   * The payload of one received message whose first frame had RSV1 set
   * (RFC 7692 §7.2.2), at most `maxBytes` long. Zlib stops as soon as the
   * output passes `maxBytes`, so a small payload that would inflate to
   * gigabytes (a "zip bomb") costs at most `maxBytes` plus one 16 KiB chunk.
   * Throws ProtocolError WS_ERR_MESSAGE_TOO_BIG (1009) past the limit and
   * WS_ERR_DECOMPRESSION (1007) on data that is not valid DEFLATE; the
   * caller then fails the connection. A text message must still be checked
   * for UTF-8 after this.
   *
   * Input that ends inside a DEFLATE block yields the bytes decoded so far:
   * Node does not report whether inflate stopped at a block boundary.
   */
  decompress(data: Uint8Array, maxBytes: number): Buffer {
    const window = this.#inflateWindow;
    let output: Buffer;
    try {
      // §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of
      // the payload of the message. Decompress the resulting data using
      // DEFLATE." The sync flush mode stops at the end of the input instead of
      // demanding a final block (a sender "MAY" end with one, §7.2.3.4, and
      // anything after it is ignored).
      output = inflateRawSync(Buffer.concat([data, DEFLATE_TAIL]), {
        windowBits: this.#inflateWindowBits,
        finishFlush: zlib.Z_SYNC_FLUSH,
        // RFC 6455 §10.4: "implementations SHOULD impose a limit on frame
        // sizes and the total message size after reassembly"; the limit
        // applies to the decompressed size and is enforced while inflating.
        maxOutputLength: Math.min(Math.max(1, maxBytes), buffer.MAX_LENGTH),
        // §7.2.2: without client_no_context_takeover the peer's compressor
        // may refer back into earlier messages: inflate with that window.
        dictionary: window?.dictionary(),
      });
    } catch (error) {
      if (error instanceof RangeError && (error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new ProtocolError('WS_ERR_MESSAGE_TOO_BIG', 'decompressed message too big');
      }
      if (isZlibError(error)) throw new ProtocolError('WS_ERR_DECOMPRESSION', `invalid compressed data (${error.code})`);
      throw error;
    }
    // maxOutputLength must lie in 1..buffer.constants.MAX_LENGTH; this covers a limit of 0.
    if (output.length > maxBytes) throw new ProtocolError('WS_ERR_MESSAGE_TOO_BIG', 'decompressed message too big');
    window?.append(output);
    return output;
  }
}
