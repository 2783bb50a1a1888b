/**
 * The protocol core of Shoal, RFC 6455 sans-I/O: bytes in, events and bytes
 * out, no sockets, no timers. Importable in a worker, a test, a benchmark or
 * a client with no socket around (`shoal/protocol`). (http-syntax.ts stays
 * internal: HTTP grammar helpers for the handshake.)
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
export * from './handshake.ts';
export * from './subprotocol.ts';
export * from './extensions.ts';
export * from './permessage-deflate-negotiation.ts';
export * from './permessage-deflate.ts';
