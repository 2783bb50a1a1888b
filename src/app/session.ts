/**
 * Picks the session for a new connection from its negotiated subprotocol:
 * the Shoal subprotocols (msgpack, JSON) get a ProtocolSession, everything
 * else the raw session.
 */
import { findCodec, SHOAL_PROTOCOLS } from '../codec/index.ts';
import { ProtocolSession } from './protocol-session.ts';
import { RawSession } from './raw-session.ts';
import type { AppServices } from './services.ts';
import type { App, ConnectionHandle, Session } from './types.ts';

/** True when the app speaks the Shoal subprotocols: it has events or methods (`methods: {}` for pub/sub only). */
export function speaksShoal(app: App): boolean {
  return app.events !== undefined || app.methods !== undefined;
}

/** The subprotocol names the server may select for this app: the Shoal ones (when it speaks them), then its own. */
export function supportedProtocols(app: App): string[] {
  const own = app.protocols === undefined ? [] : [...app.protocols];
  return speaksShoal(app) ? [...SHOAL_PROTOCOLS, ...own] : own;
}

/**
 * True when a client that negotiated no subprotocol must be refused:
 * `requireSubprotocol` when set, otherwise when the app has events or methods
 * but no raw `onMessage`.
 */
export function requiresSubprotocol(app: App): boolean {
  if (app.requireSubprotocol !== undefined) return app.requireSubprotocol;
  return app.onMessage === undefined && (app.events !== undefined || app.methods !== undefined);
}

/**
 * True when the session of a connection on `protocol` lets go of each
 * message before its delivery returns: a raw session of an app that set
 * `borrowMessages` (the transport may then lend it views of its buffers).
 */
export function borrowsMessages(app: App, protocol: string | null): boolean {
  return app.borrowMessages === true && (!speaksShoal(app) || findCodec(protocol) === undefined);
}

/** The session that will run this connection's handlers. */
export function createSession(app: App, handle: ConnectionHandle, services: AppServices): Session {
  const codec = speaksShoal(app) ? findCodec(handle.protocol) : undefined;
  if (codec !== undefined) return new ProtocolSession(app, handle, codec, services);
  return new RawSession(app, handle, services);
}
