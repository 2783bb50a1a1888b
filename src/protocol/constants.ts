/**
 * Wire constants of RFC 6455: opcodes (§5.2, §11.8) and close status codes
 * (§7.4.1, §11.7). Plain `as const` objects: `const enum` is not erasable syntax.
 */

/** Frame opcodes, RFC 6455 §5.2. */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Close status codes, RFC 6455 §7.4.1 (and the IANA registry, §11.7). */
export const CloseCode = {
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: MUST NOT be sent in a close frame (§7.4.1). */
  NO_STATUS_RECEIVED: 1005,
  /** Reserved: MUST NOT be sent in a close frame (§7.4.1). */
  ABNORMAL_CLOSURE: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The GUID appended to Sec-WebSocket-Key before hashing, RFC 6455 §1.3. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Largest payload of a control frame, RFC 6455 §5.5. */
export const MAX_CONTROL_PAYLOAD = 125;
