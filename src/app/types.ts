/**
 * The public application API: what an app module exports and what its
 * handlers get. This file is the contract between the transport/actor layer
 * (src/transport, src/actors) and the subprotocol layer (src/app, src/codec).
 */

/** What the app's `upgrade` hook sees of an upgrade request (already validated per RFC 6455 §4.2.1). */
export interface UpgradeRequest {
  /** Request target as sent, e.g. "/chat?room=1". */
  readonly url: string;
  /** Path part of the target, without the query. */
  readonly path: string;
  /** Header names lower-cased; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** Subprotocols the client offered, in its order (all Sec-WebSocket-Protocol lines as one list). */
  readonly protocols: readonly string[];
  /** The subprotocol the server would pick by default (first offered that the app supports), or null. */
  readonly selectedProtocol: string | null;
  readonly remoteAddress: string;
}

/** The `upgrade` hook's answer: accept (optionally overriding the protocol, attaching data) or reject. */
export type UpgradeDecision =
  | void
  | { accept: true; protocol?: string | null; data?: unknown }
  | { accept: false; status: number; reason: string };

/** The local and global identity of a connection: "<workerId>.<localId>". */
export type ConnectionAddress = string;

/**
 * What the actor layer offers a session: the raw connection. Sends go through
 * the actor's bounded send queue (slow-consumer policy applies).
 */
export interface ConnectionHandle {
  readonly address: ConnectionAddress;
  /** The negotiated subprotocol, or null. */
  readonly protocol: string | null;
  /** Data attached by the upgrade hook. */
  readonly upgradeData: unknown;
  readonly remoteAddress: string;
  /** Send one data message (text when `data` is a string and `isBinary` is not true). */
  send(data: Uint8Array | string, isBinary?: boolean): void;
  /** Write an already framed message (header + payload), e.g. a publication framed once per worker. */
  sendFrame(frame: Uint8Array): void;
  /** Start the closing handshake (RFC 6455 §7.1.2). */
  close(code?: number, reason?: string): void;
  /** True while the connection is OPEN. */
  readonly isOpen: boolean;
}

/**
 * Per-connection message processing. The actor calls these strictly one at a
 * time, in order: the next call starts when the previous promise settles.
 * A throw or rejection closes the connection with 1011 unless the session
 * handles it itself.
 */
export interface Session {
  onOpen(): void | Promise<void>;
  onMessage(data: Buffer, isBinary: boolean): void | Promise<void>;
  onClose(code: number, reason: string): void | Promise<void>;
}
