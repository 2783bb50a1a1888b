/**
 * The protocol core of Shoal, RFC 6455 sans-I/O: bytes in, events and bytes
 * out, no sockets, no timers. Importable in a worker, a test, a benchmark or
 * a client with no socket around (`@shoal-ws/shoal/protocol`). (http-syntax.ts
 * stays internal: HTTP grammar helpers for the handshake; of request-head.ts
 * only the RequestHead type is public.)
 */
export * from './constants.ts';
export * from './errors.ts';
export * from './mask.ts';
export * from './utf8.ts';
export * from './close.ts';
export * from './frame-header.ts';
export * from './frame-encoder.ts';
export * from './frame-decoder.ts';
export * from './connection.ts';
export * from './handshake-parser.ts';
export type { RequestHead } from './request-head.ts';
export * from './upgrade-request.ts';
export * from './handshake-response.ts';
export * from './subprotocol.ts';
export * from './extensions.ts';
export * from './permessage-deflate-negotiation.ts';
export * from './permessage-deflate.ts';
