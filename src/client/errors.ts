/**
 * Errors of the Shoal client. Every one carries a stable `code`: the
 * server's code for error replies (UNKNOWN_METHOD, TIMEOUT, an app's own
 * code, ...), or one of ClientErrorCode for failures on the client side.
 */

/** Codes of failures detected by the client itself. */
export const ClientErrorCode = {
  /** No reply within the request's timeout (the server may still run it). */
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  /** The connection dropped before the reply came (the server may or may not have run it). */
  CONNECTION_LOST: 'CONNECTION_LOST',
  /** An event was sent while the client was not connected. */
  NOT_CONNECTED: 'NOT_CONNECTED',
  /** The client was closed with close(). */
  CLOSED: 'CLOSED',
  /** The server selected no Shoal subprotocol: it does not speak the protocol (or not at this URL). */
  NO_SUBPROTOCOL: 'NO_SUBPROTOCOL',
  /** The connection could not be opened (refused, HTTP error, timeout). */
  CONNECT_FAILED: 'CONNECT_FAILED',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** A request answered with an error reply, or a client-side failure; `code` tells which. */
export class ShoalError extends Error {
  readonly code: string;
  readonly data: unknown;

  constructor(code: string, message: string, data?: unknown) {
    super(message);
    this.name = 'ShoalError';
    this.code = code;
    this.data = data;
  }
}
