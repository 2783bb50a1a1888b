/**
 * The msgpack encoding of the Shoal envelope (`v1.msgpack.shoal.dev`): each
 * binary WebSocket message is exactly one msgpack value. One Packr and one
 * Unpackr per thread (module state): msgpackr keeps a growing output buffer
 * and appends each packed value after the previous one, so a returned view
 * stays valid after later calls.
 */
import { Packr, Unpackr, RESERVE_START_SPACE } from 'msgpackr';
import { EnvelopeError, MSGPACK_PROTOCOL } from './envelope.ts';
import type { Codec, Message } from './envelope.ts';

/**
 * Plain msgpack only, so any msgpack library reads it (spec §2): no record
 * extension, `undefined` written as nil, maps decoded to plain objects,
 * 64-bit integers that fit a double decoded as numbers.
 */
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  // 'auto' (numbers when within 2^53, BigInt beyond) is supported by msgpackr 2 but missing from its typings.
  int64AsType: 'auto' as 'number',
  // bin values are copied out of the message: a handler may keep them after
  // the transport has reused or released the message's buffer.
  copyBuffers: true,
});

/** Largest unmasked server frame header: 2 bytes + 8-byte extended length (RFC 6455 §5.2). */
export const MAX_FRAME_HEADER = 10;

/** RFC 6455 §5.2 opcodes for the two data frame types (%x1 text, %x2 binary). */
export const TEXT_OPCODE = 0x1;
export const BINARY_OPCODE = 0x2;

/**
 * Write an unmasked, final (FIN=1) frame header for `payloadLength` bytes so
 * that it ends exactly at `end` (the payload starts at `end`). Returns the
 * header's start offset. The caller reserved MAX_FRAME_HEADER bytes before `end`.
 */
export function writeFrameHeaderBefore(buf: Uint8Array, end: number, opcode: number, payloadLength: number): number {
  // RFC 6455 §5.2: a server MUST NOT mask frames it sends to a client (MASK bit 0).
  // Payload length: 7 bits if < 126; 126 + 16-bit if <= 0xffff; 127 + 64-bit otherwise, network byte order.
  if (payloadLength < 126) {
    buf[end - 2] = 0x80 | opcode;
    buf[end - 1] = payloadLength;
    return end - 2;
  }
  if (payloadLength <= 0xffff) {
    const start = end - 4;
    buf[start] = 0x80 | opcode;
    buf[start + 1] = 126;
    buf[start + 2] = payloadLength >>> 8;
    buf[start + 3] = payloadLength & 0xff;
    return start;
  }
  const start = end - 10;
  buf[start] = 0x80 | opcode;
  buf[start + 1] = 127;
  // The most significant bit MUST be 0; lengths here are < 2^53, so the high word fits a double division.
  const high = Math.floor(payloadLength / 0x1_0000_0000);
  const low = payloadLength >>> 0;
  buf[start + 2] = high >>> 24;
  buf[start + 3] = (high >>> 16) & 0xff;
  buf[start + 4] = (high >>> 8) & 0xff;
  buf[start + 5] = high & 0xff;
  buf[start + 6] = low >>> 24;
  buf[start + 7] = (low >>> 16) & 0xff;
  buf[start + 8] = (low >>> 8) & 0xff;
  buf[start + 9] = low & 0xff;
  return start;
}

/** Encode one message as msgpack bytes (a view into the thread's Packr buffer; do not mutate). */
export function encodeMsgpack(message: Message): Uint8Array {
  return packr.pack(message);
}

/**
 * Encode one message as a complete unmasked binary frame (header + msgpack
 * payload) with no copy: msgpackr reserves MAX_FRAME_HEADER bytes in front of
 * the value and the header is written in place, right-aligned against it.
 * Used for publications, which are framed once per worker and written to
 * every subscriber as is.
 */
export function encodeMsgpackFrame(message: Message): Uint8Array {
  const packed = packr.pack(message, RESERVE_START_SPACE | MAX_FRAME_HEADER);
  const start = writeFrameHeaderBefore(packed, MAX_FRAME_HEADER, BINARY_OPCODE, packed.length - MAX_FRAME_HEADER);
  return packed.subarray(start);
}

/** Decode exactly one msgpack value; throws EnvelopeError(SHOAL_ERR_NOT_DECODABLE) otherwise. */
export function decodeMsgpack(data: Uint8Array): unknown {
  try {
    // msgpackr throws when bytes remain after the value ("Data read, but end of buffer not reached").
    return unpackr.unpack(data);
  } catch {
    throw new EnvelopeError('SHOAL_ERR_NOT_DECODABLE', 'message is not one valid msgpack value');
  }
}

/** The msgpack codec (binary frames). */
export const msgpackCodec: Codec = {
  protocol: MSGPACK_PROTOCOL,
  binary: true,
  encode: encodeMsgpack,
  encodeFrame: encodeMsgpackFrame,
  decode(data: Uint8Array | string): unknown {
    // spec §2: msgpack messages travel in binary frames only.
    if (typeof data === 'string') throw new EnvelopeError('SHOAL_ERR_WRONG_FRAME_TYPE', 'text message on the msgpack protocol');
    return decodeMsgpack(data);
  },
};
