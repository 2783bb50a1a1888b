/**
 * The generator's shortcut for the one server frame a scenario expects over
 * and over (an echo reply: FIN, binary, unmasked, a fixed length): such a
 * frame is counted without its payload being read, copied or assembled;
 * every other frame goes, byte for byte, to the connection's FrameDecoder,
 * which validates and delivers it as usual.
 *
 * Why: at 16 KiB to 1 MiB a reply often spans reads, and the decoder then
 * copies it into a message buffer, fresh unless one of the thread's few
 * spares is free (frame-decoder.ts); with 50 connections most are not: the
 * copies, the page faults of fresh memory and the major collections of that
 * memory were about half of the generator's CPU in 64 KiB echo (perf, the
 * generator on its own core), so the generator, not the server, set the
 * rate.
 *
 * A frame is skimmed only when its whole header equals the expected header
 * (RFC 6455 §5.2: so it is a final, unmasked binary frame with RSV bits
 * clear and exactly that payload length) and no fragmented message is under
 * way in the decoder (§5.4: a data frame inside one must fail there, and
 * does: it is routed). Headers are parsed only for their length (§5.2:
 * 7, 7+16 or 7+64 bits, and a masking key when the mask bit is set): a
 * header that spans reads is gathered in a 14-byte spill first.
 *
 * Inspected frames (`onInspected`, for a reply whose bytes say something:
 * a fan-out delivery's send time): a frame with the expected header whose
 * payload lies inside the chunk is handed over in place (the chunk and
 * where the payload starts, no view, no copy), to be read before the call
 * returns; one whose payload spans reads goes to the decoder like any other
 * frame, which assembles it and delivers it as a message.
 */
import type { FrameDecoder } from '../../src/protocol/frame-decoder.ts';
import { payloadLength64, readFrameHeaderLength } from '../../src/protocol/frame-header.ts';

/** Longest frame header: 2 bytes, a 64-bit length, a masking key (§5.2). */
const MAX_HEADER_BYTES = 14;

export class FrameSkimmer {
  readonly #expected: Buffer;
  readonly #payloadBytes: number;
  readonly #decoder: FrameDecoder;
  readonly #onSkimmed: () => void;
  readonly #onInspected: ((chunk: Buffer, start: number) => void) | null;
  /** The header being gathered, and how many of its bytes are in. */
  readonly #header: Buffer;
  #headerLength: number;
  /** Payload bytes of the skimmed frame still to pass by. */
  #skip: number;
  /** Bytes of a routed frame's payload still to hand to the decoder. */
  #route: number;
  /** A routed data frame without FIN started a message that is not over: every frame goes to the decoder. */
  #fragmented: boolean;

  /**
   * @param expectedHeader the header of the frame to skim (e.g. from encodeFrameHeader).
   * @param payloadBytes its payload length.
   * @param onSkimmed called once per skimmed frame, when its last byte has passed (unless `onInspected` is given).
   * @param onInspected given: called instead for each expected frame whose payload lies in one chunk, with
   *   `payloadBytes` bytes of `chunk` from `start`, valid only during the call (a borrowed chunk is reused after).
   */
  constructor(
    expectedHeader: Buffer,
    payloadBytes: number,
    decoder: FrameDecoder,
    onSkimmed: () => void,
    onInspected: ((chunk: Buffer, start: number) => void) | null = null,
  ) {
    this.#expected = expectedHeader;
    this.#payloadBytes = payloadBytes;
    this.#decoder = decoder;
    this.#onSkimmed = onSkimmed;
    this.#onInspected = onInspected;
    this.#header = Buffer.alloc(MAX_HEADER_BYTES);
    this.#headerLength = 0;
    this.#skip = 0;
    this.#route = 0;
    this.#fragmented = false;
  }

  /** The next bytes from the server; `borrowed` as FrameDecoder.push's (the chunk is reused once this returns). */
  push(chunk: Buffer, borrowed: boolean): void {
    const length = chunk.length;
    let pos = 0;
    // After a failure the decoder discards its input: so does the skimmer (the connection is being failed).
    while (pos < length && !this.#decoder.stopped) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, length - pos);
        pos += take;
        this.#skip -= take;
        if (this.#skip === 0) this.#onSkimmed();
      } else if (this.#route > 0) {
        const take = Math.min(this.#route, length - pos);
        this.#decoder.push(pos === 0 && take === length ? chunk : chunk.subarray(pos, pos + take), borrowed);
        pos += take;
        this.#route -= take;
      } else {
        pos = this.#gatherHeader(chunk, pos);
      }
    }
  }

  /** Takes header bytes from `chunk` at `pos`; once the header is whole, skims or routes its frame. Returns the new position. */
  #gatherHeader(chunk: Buffer, pos: number): number {
    const expected = this.#expected;
    // The usual case: the whole expected header at `pos`, compared where it lies.
    if (this.#headerLength === 0 && !this.#fragmented && pos + expected.length <= chunk.length && startsAt(chunk, pos, expected)) {
      return this.#expectedFrame(chunk, pos + expected.length);
    }
    const header = this.#header;
    let needed = this.#headerLength < 2 ? 2 : headerBytes(header);
    while (this.#headerLength < needed && pos < chunk.length) {
      header[this.#headerLength++] = chunk[pos++]!;
      if (this.#headerLength === 2) needed = headerBytes(header);
    }
    if (this.#headerLength < needed) return pos;
    this.#headerLength = 0;
    if (!this.#fragmented && needed === expected.length && startsAt(header, 0, expected)) return this.#expectedFrame(chunk, pos);
    const opcode = header[0]! & 0x0f;
    // §5.4: data frames (continuation 0x0, text 0x1, binary 0x2) make up messages; FIN ends one.
    if (opcode < 0x8) this.#fragmented = (header[0]! & 0x80) === 0;
    this.#route = payloadLength(header);
    this.#decoder.push(header.subarray(0, needed), true);
    return pos;
  }

  /** An expected header ended at `pos`: skim its payload, inspect it in place, or route it when it spans reads. */
  #expectedFrame(chunk: Buffer, pos: number): number {
    const payloadBytes = this.#payloadBytes;
    const inspect = this.#onInspected;
    if (inspect === null) {
      this.#skip = payloadBytes;
      if (payloadBytes === 0) this.#onSkimmed();
      return pos;
    }
    if (pos + payloadBytes <= chunk.length) {
      inspect(chunk, pos);
      return pos + payloadBytes;
    }
    // The expected header is this frame's header byte for byte: the decoder gets it, then the payload as it comes.
    this.#route = payloadBytes;
    this.#decoder.push(this.#expected, true);
    return pos;
  }
}

/** True when `bytes` holds `expected` at `at` (a few bytes: cheaper in JavaScript than a call into Buffer.compare). */
function startsAt(bytes: Uint8Array, at: number, expected: Uint8Array): boolean {
  for (let i = 0; i < expected.length; i++) if (bytes[at + i] !== expected[i]) return false;
  return true;
}

/** Length of a header, from its second byte (§5.2): the server's length fields (frame-header.ts), plus a masking key if set. */
function headerBytes(header: Buffer): number {
  return readFrameHeaderLength(header) + ((header[1]! & 0x80) !== 0 ? 4 : 0);
}

/** The payload length in a whole header (§5.2; a 64-bit one as the decoder reads it, which fails such a frame). */
function payloadLength(header: Buffer): number {
  const length7 = header[1]! & 0x7f;
  if (length7 === 126) return header.readUInt16BE(2);
  if (length7 === 127) return payloadLength64(header.readUInt32BE(2), header.readUInt32BE(6));
  return length7;
}
