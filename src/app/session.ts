/**
 * Picks the session for a new connection from its negotiated subprotocol.
 * Today every connection gets the raw session; the Shoal subprotocols
 * (msgpack, JSON) add their branch here.
 */
import { RawSession } from './raw-session.ts';
import type { App, ConnectionHandle, Session } from './types.ts';

/** The subprotocol names the server may select for this app, in preference order. */
export function supportedProtocols(app: App): string[] {
  return app.protocols === undefined ? [] : [...app.protocols];
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

/** The session that will run this connection's handlers. */
export function createSession(app: App, handle: ConnectionHandle): Session {
  return new RawSession(app, handle);
}
