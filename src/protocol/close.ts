/**
 * Close frame payloads, RFC 6455 §5.5.1 and §7.4: an optional 2-byte status
 * code (network byte order) followed by an optional UTF-8 reason.
 */
import { CloseCode, MAX_CONTROL_PAYLOAD } from './constants.ts';
import { ProtocolError } from './errors.ts';
import { isValidUtf8 } from './utf8.ts';

/** Longest close reason in bytes: a control payload (125) minus the status code (2). */
export const MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD - 2;

/** What a close frame said: its code (1005 when it had none, §7.1.5) and its reason. */
export interface CloseInfo {
  code: number;
  reason: string;
}

const EMPTY = Buffer.alloc(0);

/**
 * True when `code` may appear in a close frame (RFC 6455 §7.4.1, §7.4.2):
 * 1000-1003 and 1007-1014 are defined; 1004 is reserved, 1005, 1006 and
 * 1015 "MUST NOT be set as a status code in a Close control frame";
 * 0-999 are unused, 1016-2999 reserved for this and future RFCs;
 * 3000-3999 (registered) and 4000-4999 (private use) are open to applications.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

/**
 * Parses a received close payload. Throws ProtocolError: a 1-byte payload
 * (WS_ERR_INVALID_CLOSE_PAYLOAD, 1002), a code that may not be sent
 * (WS_ERR_INVALID_CLOSE_CODE, 1002), a reason that is not UTF-8
 * (WS_ERR_INVALID_UTF8, 1007).
 */
export function parseClosePayload(payload: Uint8Array): CloseInfo {
  // §5.5.1: "If there is a body, the first two bytes of the body MUST be a
  // 2-byte unsigned integer"; an empty body means no status code (§7.1.5: 1005).
  if (payload.length === 0) return { code: CloseCode.NO_STATUS_RECEIVED, reason: '' };
  if (payload.length === 1) {
    throw new ProtocolError('WS_ERR_INVALID_CLOSE_PAYLOAD', 'close frame with a 1-byte payload');
  }
  const code = (payload[0]! << 8) | payload[1]!;
  // §7.4.1/§7.4.2: only defined, registered or private-use codes may be sent.
  if (!isValidCloseCode(code)) {
    throw new ProtocolError('WS_ERR_INVALID_CLOSE_CODE', `invalid close code ${code}`);
  }
  // The usual close (a code, no reason): no view, no string.
  if (payload.length === 2) return { code, reason: '' };
  const reasonBytes = payload.subarray(2);
  // §5.5.1: "the data ... is not guaranteed to be human readable" but it is
  // UTF-8 text; §8.1 invalid UTF-8 fails the connection (1007).
  if (!isValidUtf8(reasonBytes)) {
    throw new ProtocolError('WS_ERR_INVALID_UTF8', 'invalid UTF-8 in close reason');
  }
  const reason = Buffer.from(reasonBytes.buffer, reasonBytes.byteOffset, reasonBytes.length).toString('utf8');
  return { code, reason };
}

/**
 * Builds a close payload: empty when `code` is undefined (the reason is then
 * ignored), else the code and the reason truncated to 123 bytes on a code
 * point boundary. Throws RangeError for a code that may not be sent (a
 * caller bug, not peer input).
 */
export function encodeClosePayload(code?: number, reason: string = ''): Buffer {
  if (code === undefined) return EMPTY;
  if (!isValidCloseCode(code)) throw new RangeError(`close code ${code} may not be sent (RFC 6455 §7.4)`);
  const reasonBytes = truncateUtf8(Buffer.from(reason, 'utf8'), MAX_CLOSE_REASON_BYTES);
  const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return payload;
}

/** The longest prefix of UTF-8 `bytes` of at most `limit` bytes that ends on a code point boundary. */
export function truncateUtf8(bytes: Buffer, limit: number): Buffer {
  if (bytes.length <= limit) return bytes;
  let end = limit;
  // A continuation byte (10xxxxxx) at the cut means a code point straddles it.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

const CLOSE_CODE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(CloseCode).map(([name, code]) => [code, name]),
);

/** The RFC name of a close code ("NORMAL_CLOSURE"), or "APPLICATION" (3000-4999) or "UNKNOWN". */
export function closeCodeName(code: number): string {
  const name = CLOSE_CODE_NAMES.get(code);
  if (name !== undefined) return name;
  return code >= 3000 && code <= 4999 ? 'APPLICATION' : 'UNKNOWN';
}
