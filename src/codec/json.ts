/**
 * The JSON twin of the Shoal envelope (`v1.json.shoal.dev`): the same arrays
 * as the msgpack protocol, each text WebSocket message being exactly one JSON
 * value. Handy in browser devtools; data is limited to what JSON carries
 * (no binary, no undefined: it becomes null).
 */
import { Opcode } from '../protocol/constants.ts';
import { MAX_SERVER_HEADER_BYTES, writeFrameHeaderBefore } from '../protocol/frame-header.ts';
import { EnvelopeError, JSON_PROTOCOL, MessageType } from './envelope.ts';
import type { Codec, Message } from './envelope.ts';

const textEncoder = new TextEncoder();
// fatal: bytes that are not UTF-8 are refused rather than replaced (the transport validated text frames already, RFC 6455 §8.1).
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Encode one message as JSON text. Throws for values JSON cannot carry (BigInt, cycles). */
export function encodeJson(message: Message): string {
  return JSON.stringify(message);
}

/** Encode the reply `[2, id, data]` as JSON text. */
export function encodeJsonReply(id: number, data: unknown): string {
  return JSON.stringify([MessageType.REPLY, id, data]);
}

/** Encode one message as a complete unmasked text frame (header + UTF-8 JSON). */
export function encodeJsonFrame(message: Message): Uint8Array {
  const payload = textEncoder.encode(JSON.stringify(message));
  const frame = new Uint8Array(MAX_SERVER_HEADER_BYTES + payload.length);
  frame.set(payload, MAX_SERVER_HEADER_BYTES);
  const start = writeFrameHeaderBefore(frame, MAX_SERVER_HEADER_BYTES, Opcode.TEXT, payload.length);
  return frame.subarray(start);
}

/** Decode exactly one JSON value from text or UTF-8 bytes; throws EnvelopeError(SHOAL_ERR_NOT_DECODABLE) otherwise. */
export function decodeJson(data: Uint8Array | string): unknown {
  try {
    return JSON.parse(typeof data === 'string' ? data : textDecoder.decode(data));
  } catch {
    throw new EnvelopeError('SHOAL_ERR_NOT_DECODABLE', 'message is not one valid JSON value');
  }
}

/** The JSON codec (text frames). */
export const jsonCodec: Codec = {
  protocol: JSON_PROTOCOL,
  binary: false,
  encode: encodeJson,
  encodeReply: encodeJsonReply,
  encodeFrame: encodeJsonFrame,
  decode: decodeJson,
};
