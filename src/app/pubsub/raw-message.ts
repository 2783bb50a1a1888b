/**
 * Publications as raw WebSocket messages, for subscribers that negotiated no
 * Shoal subprotocol (docs/subprotocol.md §7, "Raw and subprotocol
 * subscribers of one topic"). A raw subscriber receives the published data
 * itself as one message:
 *   Uint8Array (Buffer)   a binary message (a text one with isBinary false; it must then be UTF-8)
 *   string                a text message (a binary one of its UTF-8 bytes with isBinary true)
 *   anything else         a text message of its JSON (undefined as null)
 * and a subscriber on a Shoal subprotocol receives `[4, topic, data]` with the
 * string or the bytes as data (JSON subscribers get bytes as a base64
 * string, JSON having no binary type).
 */
import { Buffer, isUtf8 } from 'node:buffer';
import type { Codec } from '../../codec/envelope.ts';
import { MessageType } from '../../codec/envelope.ts';
import { Opcode } from '../../protocol/constants.ts';
import { frameHeaderLength, readFrameHeaderLength, writeFrameHeader } from '../../protocol/frame-header.ts';

const textDecoder = new TextDecoder();

/** True when `data` travels to raw subscribers as it is (a string or bytes), not as JSON. */
export function isRawData(data: unknown): data is string | Uint8Array {
  return typeof data === 'string' || data instanceof Uint8Array;
}

/**
 * One complete unmasked data frame (RFC 6455 §5.2, FIN set) carrying `data`
 * as a raw subscriber receives it (table above). Throws a TypeError for bytes
 * sent as text that are not UTF-8 (RFC 6455 §8.1: the client would fail the
 * connection with 1007), and what JSON.stringify throws for other values.
 */
export function encodeRawFrame(data: unknown, isBinary?: boolean): Uint8Array {
  if (data instanceof Uint8Array) {
    const binary = isBinary !== false;
    if (!binary && !isUtf8(data)) throw new TypeError('a text message must be UTF-8: publish these bytes with isBinary true');
    const frame = Buffer.allocUnsafe(frameHeaderLength(data.length, false) + data.length);
    frame.set(data, writeFrameHeader(frame, 0, binary ? Opcode.BINARY : Opcode.TEXT, data.length, true, false, null));
    return frame;
  }
  const text = typeof data === 'string' ? data : (JSON.stringify(data) ?? 'null');
  const length = Buffer.byteLength(text);
  const frame = Buffer.allocUnsafe(frameHeaderLength(length, false) + length);
  frame.write(text, writeFrameHeader(frame, 0, isBinary === true ? Opcode.BINARY : Opcode.TEXT, length, true, false, null));
  return frame;
}

/** The data of a frame made by `encodeRawFrame`: a string for a text frame, the bytes (a view) for a binary one. */
export function decodeRawFrame(frame: Uint8Array): string | Uint8Array {
  const payload = frame.subarray(readFrameHeaderLength(frame));
  return (frame[0]! & 0x0f) === Opcode.TEXT ? textDecoder.decode(payload) : payload;
}

/** The publication envelope of raw data for a Shoal codec (bytes become base64 text for a text codec). */
export function encodeRawEnvelope(codec: Codec, topic: string, data: string | Uint8Array): Uint8Array {
  const value = data instanceof Uint8Array && !codec.binary ? Buffer.from(data.buffer, data.byteOffset, data.length).toString('base64') : data;
  return codec.encodeFrame([MessageType.PUBLICATION, topic, value]);
}
