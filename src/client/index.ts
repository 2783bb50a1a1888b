/**
 * `@shoal-ws/shoal/client`: the typed Shoal client for Node and browsers (standard
 * WebSocket API, no node: imports). See docs/subprotocol.md for the protocol.
 */
export { ShoalClient, connect } from './client.ts';
export type { AnySchema, ClientOptions, ClientState, ClientStatus, Subscription, WebSocketConstructor, WebSocketLike } from './client.ts';
export { ClientErrorCode, ShoalError } from './errors.ts';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
export { ErrorCode, JSON_PROTOCOL, MSGPACK_PROTOCOL, SHOAL_PROTOCOLS, type ErrorBody } from '../codec/envelope.ts';
export type { AppSchema } from '../app/define-app.ts';
