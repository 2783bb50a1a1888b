/**
 * The WebSocket frame header, RFC 6455 §5.2: the one place it is written
 * (server frames, masked client frames, frames written in place before their
 * payload) and measured.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-------+-+-------------+-------------------------------+
 *   |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *   |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 *   |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 *   | |1|2|3|       |K|             |                               |
 *   +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 *   |     Masking-key, if MASK set to 1 (4 bytes), then payload       |
 */

/** Largest unmasked (server) frame header: 2 bytes + the 8-byte extended length. */
export const MAX_SERVER_HEADER_BYTES = 10;

/** Bytes the header takes for a payload of `payloadLength` bytes, with or without a mask. */
export function frameHeaderLength(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes a frame header into `target` at `offset` and returns the offset just
 * past it (where the payload goes). `mask` (4 bytes) sets the MASK bit and is
 * written after the length; servers pass null (§5.1: a server MUST NOT mask).
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  opcode: number,
  payloadLength: number,
  fin: boolean,
  rsv1: boolean,
  mask: Uint8Array | null,
): number {
  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = mask === null ? 0 : 0x80;
  // §5.2: "the minimal number of bytes MUST be used to encode the length".
  if (payloadLength < 126) {
    target[offset + 1] = maskBit | payloadLength;
    offset += 2;
  } else if (payloadLength < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target[offset + 2] = payloadLength >>> 8;
    target[offset + 3] = payloadLength & 0xff;
    offset += 4;
  } else {
    target[offset + 1] = maskBit | 127;
    // §5.2: 64-bit length, most significant bit 0. Lengths stay below 2^53.
    const high = Math.floor(payloadLength / 0x1_0000_0000);
    const low = payloadLength >>> 0;
    target[offset + 2] = high >>> 24;
    target[offset + 3] = (high >>> 16) & 0xff;
    target[offset + 4] = (high >>> 8) & 0xff;
    target[offset + 5] = high & 0xff;
    target[offset + 6] = low >>> 24;
    target[offset + 7] = (low >>> 16) & 0xff;
    target[offset + 8] = (low >>> 8) & 0xff;
    target[offset + 9] = low & 0xff;
    offset += 10;
  }
  if (mask !== null) {
    target[offset] = mask[0]!;
    target[offset + 1] = mask[1]!;
    target[offset + 2] = mask[2]!;
    target[offset + 3] = mask[3]!;
    offset += 4;
  }
  return offset;
}

/**
 * Writes the header of an unmasked, final frame so that it ends exactly at
 * `end`, where the payload already is (encoders that write the payload first).
 * Returns the header's start. The caller reserved MAX_SERVER_HEADER_BYTES
 * before `end`.
 */
export function writeFrameHeaderBefore(target: Uint8Array, end: number, opcode: number, payloadLength: number): number {
  const start = end - frameHeaderLength(payloadLength, false);
  writeFrameHeader(target, start, opcode, payloadLength, true, false, null);
  return start;
}

/** Length of the header of an unmasked frame, read from its second byte. */
export function readFrameHeaderLength(frame: Uint8Array): number {
  const length7 = frame[1]! & 0x7f;
  return length7 < 126 ? 2 : length7 === 126 ? 4 : 10;
}

/**
 * A 64-bit payload length field (§5.2: "the most significant bit MUST be 0",
 * checked by the caller) from its high and low 32 bits: lengths of 2^53 or
 * more, beyond a double's exact integers and far above any message limit,
 * read as Number.MAX_SAFE_INTEGER.
 */
export function payloadLength64(high: number, low: number): number {
  return high > 0x1fffff ? Number.MAX_SAFE_INTEGER : high * 0x100000000 + low;
}
