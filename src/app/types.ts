/**
 * The public application API: what an app module exports and what its
 * handlers get. This file is the contract between the transport/actor layer
 * (src/transport, src/actors) and the subprotocol layer (src/app, src/codec).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

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

import type { Logger } from '../telemetry/logger.ts';

/** The local and global identity of a connection: "<workerId>.<localId>". */
export type ConnectionAddress = string;

/**
 * Where already framed messages for one connection are written (a fan-out's
 * publications): the connection's handle, or what it writes through (the
 * socket side). Each frame counts as one of the handle's messages sent.
 */
export interface FrameWriter {
  /** Write an already framed message (header + payload), e.g. a publication framed once per worker. False: nothing sent (not OPEN, or the frame closed it as a slow consumer). */
  sendFrame(frame: Uint8Array): boolean;
  /** Write `messages` such frames back to back in one buffer (a topic's batch: pubsub/topic-batch.ts). False: not OPEN, nothing sent. */
  sendFrames(frames: Uint8Array, messages: number): boolean;
}

/**
 * What the actor layer offers a session: the raw connection. Sends go through
 * the actor's bounded send queue (slow-consumer policy applies).
 */
export interface ConnectionHandle extends FrameWriter {
  readonly address: ConnectionAddress;
  /** The negotiated subprotocol, or null. */
  readonly protocol: string | null;
  /** Data attached by the upgrade hook. */
  readonly upgradeData: unknown;
  readonly remoteAddress: string;
  /** Send one data message (text when `data` is a string and `isBinary` is not true). */
  send(data: Uint8Array | string, isBinary?: boolean): void;
  /**
   * The FrameWriter this handle's `sendFrame` and `sendFrames` end in (the handle itself, or the socket side), for
   * the pub/sub's walks: one object fewer to read per subscriber per delivery (pubsub/local-subscriptions.ts).
   */
  readonly frameWriter: FrameWriter;
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
  onOpen(): unknown;
  onMessage(data: Buffer, isBinary: boolean): unknown;
  onClose(code: number, reason: string): unknown;
}

/** What a handler gets: the connection, its state, and the worker's messaging services. */
export interface Context<State = Record<string, unknown>> {
  readonly address: ConnectionAddress;
  readonly protocol: string | null;
  readonly upgradeData: unknown;
  /** The client's IP address: the socket's peer, or the client named by a PROXY header or a trusted proxy (docs/deploy.md). */
  readonly remoteAddress: string;
  /** Per-connection state, owned by this connection's handlers (no locks needed: one message at a time). */
  state: State;
  /**
   * The server's logger bound to this connection: its lines carry `conn`
   * (the address) and `peer` (the client's IP) besides `worker` and the
   * time. pino's API: `ctx.log.info({ room }, 'joined')`. Created on first use.
   */
  readonly log: Logger;
  /** Send an event to this connection (Shoal subprotocols only: a raw connection throws SubprotocolRequiredError). */
  send(event: string, data?: unknown): void;
  /** Send one raw WebSocket message (text for strings unless isBinary), whatever the protocol. */
  sendRaw(data: Uint8Array | string, isBinary?: boolean): void;
  /**
   * Send an event to any connection, on any worker (and node, with a
   * broker), by its address (best effort). False when the address is
   * malformed, names a connection of this worker that has gone, or another
   * node while the broker is not connected; true otherwise (an event for
   * another worker is sent without knowing whether its connection is still
   * there). A raw connection receives `data` alone, as a publication
   * (docs/subprotocol.md §7).
   */
  sendTo(address: ConnectionAddress, event: string, data?: unknown): boolean;
  /**
   * Publish to every subscriber of `topic` on every worker and node
   * (docs/subprotocol.md §7). Subprotocol subscribers receive `[4, topic, data]`;
   * raw subscribers receive `data` itself as one message: bytes as binary,
   * a string as text (`isBinary` overrides either), any other value as JSON
   * text. Returns the number of subscribers of this worker written to (those
   * on other workers are not counted). Throws AppError OVERLOADED, before
   * anything is sent, when another worker (or the broker's buffer) is too far
   * behind, and BROKER_UNAVAILABLE when the cluster broker is not connected.
   */
  publish(topic: string, data?: unknown, isBinary?: boolean): number;
  /** Subscribe this connection; resolves when every worker knows the interest. Throws past the subscription limit. */
  subscribe(topic: string): Promise<void>;
  /** Unsubscribe this connection; false when it was not subscribed. */
  unsubscribe(topic: string): boolean;
  close(code?: number, reason?: string): void;
}

/**
 * What code in the host process (the thread that called `createServer`) can
 * do with a listening server: `ShoalServer` itself, handed to `App.onStart`.
 */
export interface HostServer {
  /**
   * Publish to every subscriber of `topic` on every worker (and node, with a
   * broker), as `ctx.publish` does (docs/subprotocol.md §7); a string or
   * bytes travel to raw subscribers as they are. Throws AppError OVERLOADED
   * or BROKER_UNAVAILABLE, before anything is sent, like `ctx.publish`.
   */
  publish(topic: string, data: unknown, options?: PublishOptions): void;
  /** Send an event to one connection by its address, as `ctx.sendTo` (best effort). */
  sendTo(address: ConnectionAddress, event: string, data?: unknown): boolean;
  /** Resolves when no worker (nor the broker) has too much of this thread's publications still to deliver: a feed that awaits it never gets OVERLOADED. */
  whenDrained(): Promise<void>;
}

/** Options of `server.publish()`. */
export interface PublishOptions {
  /** For raw subscribers: send a string as binary (true) or bytes as text (false); see `Context.publish`. */
  readonly isBinary?: boolean;
}

/** A request method: a plain handler, or one with options (timeout, run on the CPU pool). */
export type MethodHandler<State = Record<string, unknown>> =
  | ((ctx: Context<State>, data: any) => unknown)
  | { handler: (ctx: Context<State>, data: any) => unknown; timeoutMs?: number; cpu?: boolean };

/**
 * An application module's default export. Every field is optional; an app
 * with no events and no methods is a raw WebSocket app (`onMessage`).
 */
export interface App<State = Record<string, unknown>> {
  /** Accept, reject, or pick the subprotocol and attach data; runs in the worker before the 101. */
  upgrade?(req: UpgradeRequest): UpgradeDecision | Promise<UpgradeDecision>;
  /**
   * Plain HTTP requests on the server's port (anything that is not a WebSocket upgrade), with
   * Node's request and response objects; without it they get 400/426 as before (docs/server.md).
   */
  http?(req: IncomingMessage, res: ServerResponse): unknown;
  onOpen?(ctx: Context<State>): unknown;
  onClose?(ctx: Context<State>, code: number, reason: string): unknown;
  /** Raw messages of connections that negotiated no subprotocol. */
  onMessage?(ctx: Context<State>, data: Buffer | string, isBinary: boolean): unknown;
  /**
   * Lend `onMessage` its messages instead of giving them (default false):
   * `data` may then be a view of the server's own buffers, valid only until
   * `onMessage` returns (an async handler: until its first `await`); what
   * the app keeps it must copy (`Buffer.from(data)`, `data.toString()`).
   * Sending it meanwhile is fine (`ctx.sendRaw`, `ctx.publish`, `sendTo`
   * copy what they keep). Saves a buffer and a copy per message: the way
   * uWebSockets.js hands messages out. Raw connections only; messages of
   * the Shoal subprotocols are decoded before the handler runs.
   */
  borrowMessages?: boolean;
  /** Events on the Shoal subprotocols, by name. */
  events?: Record<string, (ctx: Context<State>, data: any) => unknown>;
  /** Request methods on the Shoal subprotocols, by name. */
  methods?: Record<string, MethodHandler<State>>;
  /** Refuse clients that negotiate no subprotocol (default: false when onMessage exists). */
  requireSubprotocol?: boolean;
  /** Extra (non-Shoal) subprotocol names this app accepts, handled by onMessage. */
  protocols?: readonly string[];
  /**
   * Decide whether this connection may subscribe to a topic with the built-in
   * `$subscribe` request (false: a FORBIDDEN error reply). Default: allowed.
   * Not consulted for `ctx.subscribe()` calls made by the app itself.
   */
  authorizeSubscribe?(ctx: Context<State>, topic: string): boolean | Promise<boolean>;
  /** Per-connection limits of the Shoal subprotocols. */
  limits?: AppLimits;
  /**
   * Runs once in the host process (never in the workers) when the server is
   * listening: `shoal serve --app` and `createServer().listen()` call it with
   * the server, e.g. to start a feed that publishes. A function it returns
   * (or resolves to) runs when the server closes, before the connections
   * are closed. A throw or rejection makes `listen()` fail and the server close.
   */
  onStart?(server: HostServer): void | (() => void | Promise<void>) | Promise<void | (() => void | Promise<void>)>;
}

/** Per-connection limits of the Shoal subprotocols (docs/subprotocol.md §8); each has a default. */
export interface AppLimits {
  /** Time a handler has to answer a request (or finish an event) before a TIMEOUT error. Default 30000. */
  requestTimeoutMs?: number;
  /** Requests (and events) of one connection whose handlers have not settled; more get TOO_MANY_REQUESTS. Default 64. */
  maxOutstandingRequests?: number;
  /** Topics one connection may be subscribed to; more get TOO_MANY_SUBSCRIPTIONS. Default 256. */
  maxSubscriptions?: number;
}
