/**
 * The error catalogue: every way the protocol core (and the layers above it)
 * refuses input, each with a stable code and the close code or HTTP status it
 * maps to. Tests assert on `code`, never on message text.
 */
import { CloseCode } from './constants.ts';

/** Stable error codes for frame-level failures, with their close codes. */
export const FrameErrors = {
  WS_ERR_UNMASKED_FRAME: CloseCode.PROTOCOL_ERROR,
  /** A masked frame from a server, seen by a client decoder (RFC 6455 §5.1). */
  WS_ERR_MASKED_FRAME: CloseCode.PROTOCOL_ERROR,
  WS_ERR_RESERVED_BITS: CloseCode.PROTOCOL_ERROR,
  WS_ERR_INVALID_OPCODE: CloseCode.PROTOCOL_ERROR,
  WS_ERR_FRAGMENTED_CONTROL: CloseCode.PROTOCOL_ERROR,
  WS_ERR_CONTROL_TOO_LONG: CloseCode.PROTOCOL_ERROR,
  WS_ERR_UNEXPECTED_CONTINUATION: CloseCode.PROTOCOL_ERROR,
  WS_ERR_EXPECTED_CONTINUATION: CloseCode.PROTOCOL_ERROR,
  WS_ERR_INVALID_LENGTH: CloseCode.PROTOCOL_ERROR,
  WS_ERR_INVALID_CLOSE_PAYLOAD: CloseCode.PROTOCOL_ERROR,
  WS_ERR_INVALID_CLOSE_CODE: CloseCode.PROTOCOL_ERROR,
  WS_ERR_INVALID_UTF8: CloseCode.INVALID_PAYLOAD,
  WS_ERR_MESSAGE_TOO_BIG: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_DECOMPRESSION: CloseCode.INVALID_PAYLOAD,
} as const;
export type FrameErrorCode = keyof typeof FrameErrors;

/**
 * A failure that requires "_Fail the WebSocket Connection_" (RFC 6455 §7.1.7):
 * carries the close code to send and a short reason (<= 123 bytes of UTF-8).
 *
 * Both error classes here describe a peer's bad input, never a bug, so they
 * carry no stack trace: capturing one cost 6-10 us per error ten frames deep
 * (0.5-0.9 us without; Node 24.21), and a flood of bad upgrade requests spent
 * 6% of a worker's time in the HandshakeError constructor (--cpu-prof).
 */
export class ProtocolError extends Error {
  readonly code: FrameErrorCode;
  readonly closeCode: number;

  constructor(code: FrameErrorCode, reason: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(reason);
    Error.stackTraceLimit = limit;
    this.name = 'ProtocolError';
    this.code = code;
    this.closeCode = FrameErrors[code];
  }
}

/** Stable error codes for handshake refusals, with their HTTP statuses. */
export const HandshakeErrors = {
  HS_ERR_BAD_REQUEST: 400,
  HS_ERR_FORBIDDEN: 403,
  HS_ERR_NOT_FOUND: 404,
  HS_ERR_METHOD_NOT_ALLOWED: 405,
  HS_ERR_UNSUPPORTED_VERSION: 426,
  HS_ERR_HEAD_TOO_LARGE: 431,
  HS_ERR_SERVICE_UNAVAILABLE: 503,
  /** Request head syntax: line endings, request line, field lines (RFC 9112 §2-§5). */
  HS_ERR_MALFORMED_HEAD: 400,
  /** Request target that is neither origin-form nor an absolute http(s)/ws(s) URI (RFC 9112 §3.2). */
  HS_ERR_INVALID_TARGET: 400,
  /** HTTP/1.0 or older; RFC 6455 §4.2.1 requires HTTP/1.1 or higher. */
  HS_ERR_HTTP_VERSION_TOO_OLD: 400,
  /** A request line claiming HTTP/2 or later, which never uses HTTP/1 framing (RFC 9110 §15.6.6). */
  HS_ERR_HTTP_VERSION_NOT_SUPPORTED: 505,
  HS_ERR_INVALID_HOST: 400,
  HS_ERR_INVALID_UPGRADE: 400,
  HS_ERR_INVALID_CONNECTION: 400,
  HS_ERR_INVALID_KEY: 400,
  /** A header that must appear at most once appears more often (Sec-WebSocket-Version, Origin). */
  HS_ERR_DUPLICATE_HEADER: 400,
  HS_ERR_INVALID_PROTOCOL: 400,
  HS_ERR_INVALID_EXTENSIONS: 400,
  /** Content-Length other than 0 or any Transfer-Encoding: bytes after the head must be frames. */
  HS_ERR_UNEXPECTED_BODY: 400,
} as const;
export type HandshakeErrorCode = keyof typeof HandshakeErrors;

/** A refused upgrade request: the HTTP status and the reason for the body. */
export class HandshakeError extends Error {
  readonly code: HandshakeErrorCode;
  readonly status: number;

  constructor(code: HandshakeErrorCode, reason: string, status: number = HandshakeErrors[code]) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(reason);
    Error.stackTraceLimit = limit;
    this.name = 'HandshakeError';
    this.code = code;
    this.status = status;
  }
}
