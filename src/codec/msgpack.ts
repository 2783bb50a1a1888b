/**
 * The msgpack encoding of the Shoal envelope (`v1.msgpack.shoal.dev`): each
 * binary WebSocket message is exactly one msgpack value. One Packr and one
 * Unpackr per thread (module state): msgpackr keeps a growing output buffer
 * and appends each packed value after the previous one, so a returned view
 * stays valid after later calls.
 */
import { Packr, Unpackr, RESERVE_START_SPACE, REUSE_BUFFER_MODE } from 'msgpackr';
import { Opcode } from '../protocol/constants.ts';
import { MAX_SERVER_HEADER_BYTES, writeFrameHeaderBefore } from '../protocol/frame-header.ts';
import { EnvelopeError, MessageType, MSGPACK_PROTOCOL } from './envelope.ts';
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

/** Encode one message as msgpack bytes (a view into the thread's Packr buffer; do not mutate). */
export function encodeMsgpack(message: Message): Uint8Array {
  return packr.pack(message);
}

/**
 * Encode one message as a complete unmasked binary frame (header + msgpack
 * payload) with no copy: msgpackr reserves MAX_SERVER_HEADER_BYTES in front of
 * the value and the header is written in place, right-aligned against it.
 * Used for publications, which are framed once per worker and written to
 * every subscriber as is.
 */
export function encodeMsgpackFrame(message: Message): Uint8Array {
  const out = packInPlace(message, MAX_SERVER_HEADER_BYTES);
  const payloadStart = out.start + MAX_SERVER_HEADER_BYTES;
  const start = writeFrameHeaderBefore(out, payloadStart, Opcode.BINARY, out.end - payloadStart);
  return out.subarray(start, out.end);
}

/** msgpackr's output buffer itself, with the range of the value just packed (REUSE_BUFFER_MODE). */
type PackedInPlace = Uint8Array & { start: number; end: number };

/**
 * Pack `value` with `reserve` free bytes in front of it, and get msgpackr's
 * output buffer with the range rather than a view of it: the caller writes a
 * header into the reserved bytes and makes the one view it returns. The
 * bytes stay as they are; later packs continue after them.
 */
function packInPlace(value: unknown, reserve: number): PackedInPlace {
  return packr.pack(value, RESERVE_START_SPACE | REUSE_BUFFER_MODE | reserve) as unknown as PackedInPlace;
}

/**
 * Messages up to this size are decoded from a copy in one thread-wide
 * scratch buffer. msgpackr builds a DataView for each new source object and
 * caches it as a property on it; a message is a fresh view into the socket
 * read it arrived in, so decoding it in place pays for both every time. The
 * copy costs less (a 17-byte rpc request: 190 -> 110 ns per decode, min of
 * 30 runs, bench/micro/app-hot-path.ts for the whole path). A range of one
 * long-lived view of the read would avoid the copy, but msgpackr then takes
 * its native string path (it picks the JS one only when the range ends
 * before byte 140 of the source), which was slower for short strings.
 * Nothing decoded refers to the scratch bytes: `copyBuffers` copies bin
 * values, and the extensions msgpackr knows copy or parse theirs.
 */
const SCRATCH_BYTES = 4096;
const scratch = new Uint8Array(SCRATCH_BYTES);
const scratchRange = { start: 0, end: 0 };

/** Room reserved in front of a reply's data: fixarray(3), the type 2, and a uint32 id (0xce + 4 bytes). */
const REPLY_PREFIX_MAX = 7;

/**
 * Encode the reply `[2, id, data]` (a view into the thread's Packr buffer; do
 * not mutate). Only `data` goes through msgpackr, with room reserved in front
 * of it where the envelope is written in place, in the encodings msgpackr
 * itself picks (positive fixint, uint8, uint16, uint32 for the id). Saves the
 * reply array and msgpackr's generic array path on every answer (rpc: pack
 * was 11% of a worker's time). Ids past 2^32 - 1 take the generic path.
 */
export function encodeMsgpackReply(id: number, data: unknown): Uint8Array {
  if (!(id >= 0 && id <= 0xffff_ffff)) return packr.pack([MessageType.REPLY, id, data]);
  const out = packInPlace(data, REPLY_PREFIX_MAX);
  // The id ends right before the data.
  const end = out.start + REPLY_PREFIX_MAX;
  let start: number;
  if (id < 0x80) {
    start = end - 3;
    out[end - 1] = id;
  } else if (id < 0x100) {
    start = end - 4;
    out[end - 2] = 0xcc;
    out[end - 1] = id;
  } else if (id < 0x1_0000) {
    start = end - 5;
    out[end - 3] = 0xcd;
    out[end - 2] = id >>> 8;
    out[end - 1] = id & 0xff;
  } else {
    start = end - 7;
    out[end - 5] = 0xce;
    out[end - 4] = id >>> 24;
    out[end - 3] = (id >>> 16) & 0xff;
    out[end - 2] = (id >>> 8) & 0xff;
    out[end - 1] = id & 0xff;
  }
  // fixarray of 3 elements (0x93), then the message type REPLY as a positive fixint.
  out[start] = 0x93;
  out[start + 1] = MessageType.REPLY;
  return out.subarray(start, out.end);
}

/** Decode exactly one msgpack value; throws EnvelopeError(SHOAL_ERR_NOT_DECODABLE) otherwise. */
export function decodeMsgpack(data: Uint8Array): unknown {
  const length = data.length;
  try {
    // msgpackr throws when bytes remain after the value ("Data read, but end of buffer not reached").
    // (`end: 0` would mean "to the end of the source": empty messages take the plain path.)
    if (length === 0 || length > SCRATCH_BYTES) return unpackr.unpack(data);
    scratch.set(data);
    scratchRange.end = length;
    return unpackr.unpack(scratch, scratchRange);
  } catch {
    throw new EnvelopeError('SHOAL_ERR_NOT_DECODABLE', 'message is not one valid msgpack value');
  }
}

/** The msgpack codec (binary frames). */
export const msgpackCodec: Codec = {
  protocol: MSGPACK_PROTOCOL,
  binary: true,
  encode: encodeMsgpack,
  encodeReply: encodeMsgpackReply,
  encodeFrame: encodeMsgpackFrame,
  decode(data: Uint8Array | string): unknown {
    // spec §2: msgpack messages travel in binary frames only.
    if (typeof data === 'string') throw new EnvelopeError('SHOAL_ERR_WRONG_FRAME_TYPE', 'text message on the msgpack protocol');
    return decodeMsgpack(data);
  },
};
