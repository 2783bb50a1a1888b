/**
 * The Shoal subprotocol envelope: one message per WebSocket message, a compact
 * array whose first element is the message type. Shared by the server and the
 * client, so this module is pure (no node: imports) and runs in browsers.
 *
 *   event        [0, name, data]            both directions
 *   request      [1, id, method, data]      client -> server
 *   reply        [2, id, data]              server -> client, answers request `id`
 *   error reply  [3, id, {code, message}]   server -> client, answers request `id`
 *   publication  [4, topic, data]           server -> client
 *
 * docs/subprotocol.md is the normative description; the validation lines below
 * cite its sections ("spec §n").
 */

/** The subprotocol names, registered with a domain-style part to avoid collisions (RFC 6455 §11.5). */
export const MSGPACK_PROTOCOL = 'v1.msgpack.shoal.dev';
export const JSON_PROTOCOL = 'v1.json.shoal.dev';
/** Both names, in the order a client offers them by default. */
export const SHOAL_PROTOCOLS: readonly string[] = [MSGPACK_PROTOCOL, JSON_PROTOCOL];

/** The first element of every envelope. Plain numbers: `const enum` is not erasable syntax. */
export const MessageType = {
  EVENT: 0,
  REQUEST: 1,
  REPLY: 2,
  ERROR: 3,
  PUBLICATION: 4,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Names (events, methods, topics) are 1..MAX_NAME_LENGTH UTF-16 code units (spec §3). */
export const MAX_NAME_LENGTH = 256;
/** Request ids are integers in 0..MAX_REQUEST_ID, the largest integer exact in a double (spec §3). */
export const MAX_REQUEST_ID = Number.MAX_SAFE_INTEGER;
/** Names that start with this prefix are reserved for built-ins such as `$subscribe` (spec §5). */
export const RESERVED_PREFIX = '$';
/** Built-in methods (spec §5). */
export const SUBSCRIBE_METHOD = '$subscribe';
export const UNSUBSCRIBE_METHOD = '$unsubscribe';
/** The built-in event the server sends when an event could not be handled (spec §6). */
export const ERROR_EVENT = '$error';

/**
 * Time a server handler has to answer a request before the server replies
 * TIMEOUT (spec §8; an app changes it with `limits.requestTimeoutMs`).
 */
export const DEFAULT_HANDLER_TIMEOUT_MS = 30_000;
/**
 * The client's default wait for a reply: the server's handler timeout plus a
 * margin, so that with the defaults the server's TIMEOUT reply arrives
 * before the client gives up on its own (spec §9).
 */
export const DEFAULT_CLIENT_REQUEST_TIMEOUT_MS = DEFAULT_HANDLER_TIMEOUT_MS + 5_000;

export type EventMessage = [type: 0, name: string, data: unknown];
export type RequestMessage = [type: 1, id: number, method: string, data: unknown];
export type ReplyMessage = [type: 2, id: number, data: unknown];
export type ErrorReplyMessage = [type: 3, id: number, error: ErrorBody];
export type PublicationMessage = [type: 4, topic: string, data: unknown];

/** What a client may send. */
export type ClientMessage = EventMessage | RequestMessage;
/** What a server may send. */
export type ServerMessage = EventMessage | ReplyMessage | ErrorReplyMessage | PublicationMessage;
export type Message = ClientMessage | ServerMessage;

/** The body of an error reply (and of the `$error` event). `data` is optional detail from the app. */
export interface ErrorBody {
  code: string;
  message: string;
  data?: unknown;
}

/** Stable error codes carried in error replies (spec §6). Apps may use their own codes too. */
export const ErrorCode = {
  /** The request was well-formed msgpack/JSON but not acceptable (e.g. a duplicate outstanding id, a bad topic). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** No method of that name. */
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  /** No event handler of that name (sent as an `$error` event). */
  UNKNOWN_EVENT: 'UNKNOWN_EVENT',
  /** The handler threw or rejected; the message is generic, details are logged on the server. */
  HANDLER_ERROR: 'HANDLER_ERROR',
  /** The handler did not answer within its timeout. */
  TIMEOUT: 'TIMEOUT',
  /** Too many requests of this connection are still being handled. */
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  /** The connection holds the maximum number of subscriptions. */
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
  /** The app refused the subscription. */
  FORBIDDEN: 'FORBIDDEN',
  /** A publication was refused: another worker has too much of this worker's publications still to deliver. */
  OVERLOADED: 'OVERLOADED',
  /** A publication was refused: the cluster broker (--broker) is not connected, so it could not reach the other nodes. */
  BROKER_UNAVAILABLE: 'BROKER_UNAVAILABLE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Stable codes for envelope failures, each with the close code the receiver fails the connection with. */
export const EnvelopeErrors = {
  /** The bytes are not one msgpack value / the text is not one JSON value (RFC 6455 §7.4.1: 1007 "data inconsistent with the type"). */
  SHOAL_ERR_NOT_DECODABLE: 1007,
  /** A value, but not an envelope this side accepts. */
  SHOAL_ERR_INVALID_ENVELOPE: 1007,
  /** A text message on the msgpack protocol or a binary one on the JSON protocol (RFC 6455 §7.4.1: 1003 "cannot accept"). */
  SHOAL_ERR_WRONG_FRAME_TYPE: 1003,
} as const;
export type EnvelopeErrorCode = keyof typeof EnvelopeErrors;

/** A message that must fail the connection: carries the close code and a short reason (<= 123 bytes). */
export class EnvelopeError extends Error {
  readonly code: EnvelopeErrorCode;
  readonly closeCode: number;

  constructor(code: EnvelopeErrorCode, reason: string) {
    super(reason);
    this.name = 'EnvelopeError';
    this.code = code;
    this.closeCode = EnvelopeErrors[code];
  }
}

function invalid(reason: string): EnvelopeError {
  return new EnvelopeError('SHOAL_ERR_INVALID_ENVELOPE', reason);
}

/** True for a string usable as an event, method or topic name (spec §3). */
export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= MAX_NAME_LENGTH;
}

/** True for a request id (spec §3): an integer in 0..2^53-1. */
export function isValidRequestId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= MAX_REQUEST_ID;
}

function checkLength(value: unknown[], expected: number, what: string): void {
  // spec §3: every envelope has exactly its listed elements; `data` is present even when nil/null.
  if (value.length !== expected) throw invalid(`${what} must have ${expected} elements, got ${value.length}`);
}

function checkName(name: unknown, what: string): void {
  // spec §3: names are strings of 1..256 UTF-16 code units.
  if (!isValidName(name)) throw invalid(`${what} must be a string of 1..${MAX_NAME_LENGTH} characters`);
}

function checkId(id: unknown): void {
  // spec §3: request ids are integers in 0..2^53-1.
  if (!isValidRequestId(id)) throw invalid('request id must be an integer in 0..2^53-1');
}

/**
 * Validate a decoded value as a message from a client (event or request).
 * Returns the same array, typed; throws EnvelopeError (1007) otherwise.
 */
export function parseClientMessage(value: unknown): ClientMessage {
  // spec §3: every message is an array whose first element is its type.
  if (!Array.isArray(value) || value.length === 0) throw invalid('message must be a non-empty array');
  switch (value[0]) {
    case MessageType.EVENT:
      checkLength(value, 3, 'event');
      checkName(value[1], 'event name');
      return value as EventMessage;
    case MessageType.REQUEST:
      checkLength(value, 4, 'request');
      checkId(value[1]);
      checkName(value[2], 'method name');
      return value as RequestMessage;
    default:
      // spec §4: a server accepts only events (0) and requests (1).
      throw invalid(`message type ${describe(value[0])} is not accepted from a client`);
  }
}

/**
 * Validate a decoded value as a message from a server (event, reply, error
 * reply, publication). Returns the same array, typed; throws EnvelopeError (1007) otherwise.
 */
export function parseServerMessage(value: unknown): ServerMessage {
  if (!Array.isArray(value) || value.length === 0) throw invalid('message must be a non-empty array');
  switch (value[0]) {
    case MessageType.EVENT:
      checkLength(value, 3, 'event');
      checkName(value[1], 'event name');
      return value as EventMessage;
    case MessageType.REPLY:
      checkLength(value, 3, 'reply');
      checkId(value[1]);
      return value as ReplyMessage;
    case MessageType.ERROR:
      checkLength(value, 3, 'error reply');
      checkId(value[1]);
      // spec §3: the error body is a map with string `code` and `message`.
      if (!isErrorBody(value[2])) throw invalid('error reply body must be a map with string code and message');
      return value as ErrorReplyMessage;
    case MessageType.PUBLICATION:
      checkLength(value, 3, 'publication');
      checkName(value[1], 'topic');
      return value as PublicationMessage;
    default:
      throw invalid(`message type ${describe(value[0])} is not accepted from a server`);
  }
}

/** True for a `{code, message}` map as carried by error replies and `$error` events. */
export function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const body = value as Record<string, unknown>;
  return typeof body.code === 'string' && typeof body.message === 'string';
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return typeof value;
}

/**
 * The two wire encodings of the same envelopes. `encode` returns bytes for a
 * binary codec and a string for a text codec; `decode` accepts either and
 * throws EnvelopeError (SHOAL_ERR_NOT_DECODABLE) when the input is not one value.
 * Callers validate the decoded value with parseClientMessage/parseServerMessage.
 */
export interface Codec {
  /** The subprotocol name this codec implements. */
  readonly protocol: string;
  /** True when messages travel in binary frames, false for text frames. */
  readonly binary: boolean;
  encode(message: Message): Uint8Array | string;
  /** Encode the reply `[2, id, data]`: the same bytes or text as `encode`, on a faster path. */
  encodeReply(id: number, data: unknown): Uint8Array | string;
  /** Encode as one complete unmasked data frame (RFC 6455 §5.2), ready for ConnectionHandle.sendFrame. */
  encodeFrame(message: Message): Uint8Array;
  decode(data: Uint8Array | string): unknown;
}

/** Truncate a close reason to the 123 bytes a close frame can carry (RFC 6455 §5.5: control payload <= 125). */
export function closeReason(reason: string): string {
  if (reason.length <= 40) return reason;
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= 123) return reason;
  let end = 123;
  // Do not cut a UTF-8 sequence in half: back up over continuation bytes (10xxxxxx).
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}
