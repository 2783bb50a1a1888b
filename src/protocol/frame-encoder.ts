/**
 * Frame encoding, RFC 6455 §5.2: server frames (unmasked) and client frames
 * (masked, §5.3), for the server, the tests and the bench client.
 * The header itself (layout, minimal length encoding) is written by
 * frame-header.ts.
 */
import { encodeClosePayload } from './close.ts';
import { MAX_CONTROL_PAYLOAD, Opcode } from './constants.ts';
import { frameHeaderLength, writeFrameHeader } from './frame-header.ts';
import { unmask, WORD_LOOP_MIN_BYTES } from './mask.ts';

const EMPTY = Buffer.alloc(0);

function checkFrame(opcode: number, payloadLength: number, fin: boolean): void {
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 0) {
    throw new RangeError(`invalid payload length ${payloadLength}`);
  }
  // §5.5: "All control frames MUST have a payload length of 125 bytes or less
  // and MUST NOT be fragmented."
  if (opcode >= 0x8 && (payloadLength > MAX_CONTROL_PAYLOAD || !fin)) {
    throw new RangeError('control frames carry at most 125 bytes and are never fragmented (RFC 6455 §5.5)');
  }
}

/**
 * The header of one frame: 2-14 bytes, masked when `mask` (4 bytes) is
 * given (the payload must then be masked by the caller with the same key).
 * Throws RangeError for an oversized or fragmented control frame.
 */
export function encodeFrameHeader(
  opcode: number,
  payloadLength: number,
  fin: boolean,
  mask: Uint8Array | null,
  rsv1: boolean = false,
): Buffer {
  checkFrame(opcode, payloadLength, fin);
  const header = Buffer.allocUnsafe(frameHeaderLength(payloadLength, mask !== null));
  writeFrameHeader(header, 0, opcode, payloadLength, fin, rsv1, mask);
  return header;
}

/**
 * One frame in one buffer: header and a copy of the payload, masked with
 * `options.mask` when given (the caller's payload is left untouched).
 * `fin` defaults to true. Throws RangeError for an invalid control frame.
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options?: { fin?: boolean; mask?: Uint8Array; rsv1?: boolean },
): Buffer {
  const fin = options?.fin ?? true;
  const mask = options?.mask;
  const length = payload.length;
  checkFrame(opcode, length, fin);
  const headerLength = frameHeaderLength(length, mask !== undefined);
  const frame = Buffer.allocUnsafe(headerLength + length);
  writeFrameHeader(frame, 0, opcode, length, fin, options?.rsv1 ?? false, mask ?? null);
  if (mask === undefined) {
    frame.set(payload, headerLength);
  } else if (length < WORD_LOOP_MIN_BYTES) {
    // Short payloads: mask while copying, skipping the view and the second
    // pass of copy-then-unmask. 2M encodes of a 32 B masked frame (Node 24.21):
    // 2.3-3.1 M/s copy-then-unmask, 7.0-9.7 M/s masking while copying.
    for (let i = 0; i < length; i++) frame[headerLength + i] = payload[i]! ^ mask[i & 3]!;
  } else {
    frame.set(payload, headerLength);
    unmask(frame.subarray(headerLength), mask);
  }
  return frame;
}

/**
 * An unmasked frame as two parts, the header and the payload itself (no
 * copy), for large payloads: write both, in order (writev or cork). The
 * caller must not modify `payload` until it is written.
 */
export function encodeFrameParts(opcode: number, payload: Uint8Array, fin: boolean = true): [Buffer, Uint8Array] {
  return [encodeFrameHeader(opcode, payload.length, fin, null), payload];
}

/**
 * A close frame (§5.5.1): no body when `code` is undefined, else the code
 * and the reason truncated to 123 bytes. Throws RangeError for a code that
 * may not be sent (1005, 1006, 1015, ...).
 */
export function encodeClose(code?: number, reason?: string, mask?: Uint8Array): Buffer {
  return encodeFrame(Opcode.CLOSE, encodeClosePayload(code, reason), { mask });
}

/** A ping frame (§5.5.2) with up to 125 bytes of application data. */
export function encodePing(payload: Uint8Array = EMPTY, mask?: Uint8Array): Buffer {
  return encodeFrame(Opcode.PING, payload, { mask });
}

/** A pong frame (§5.5.3); in reply to a ping it carries the ping's payload. */
export function encodePong(payload: Uint8Array = EMPTY, mask?: Uint8Array): Buffer {
  return encodeFrame(Opcode.PONG, payload, { mask });
}
