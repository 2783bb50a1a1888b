/**
 * `defineApp<Schema>(app)`: write an app against a schema type that names its
 * events, methods, server events and topics with their data types. The same
 * schema types the client (`new ShoalClient<Schema>(url)`), so a renamed
 * method or a changed payload fails `tsc` on both sides.
 *
 * ```ts
 * interface CalcSchema {
 *   methods: { add: { data: { a: number; b: number }; result: number } };
 *   topics: { [topic: `sums:${string}`]: number };
 * }
 * export default defineApp<CalcSchema>({
 *   methods: { add: (ctx, { a, b }) => a + b },
 * });
 * ```
 *
 * `defineApp` also checks the app when its module loads (names, handler
 * types, timeouts), so mistakes fail `shoal serve` at start, not per request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../telemetry/logger.ts';
import { isValidName, MAX_NAME_LENGTH, RESERVED_PREFIX } from '../codec/envelope.ts';
import type { App, AppLimits, ConnectionAddress, UpgradeDecision, UpgradeRequest } from './types.ts';

/** The shape of a schema; every part is optional. */
export interface AppSchema {
  /** Events a client sends: name -> data. */
  events?: Record<string, unknown>;
  /** Methods a client calls: name -> { data; result }. */
  methods?: Record<string, { data: unknown; result: unknown }>;
  /** Events the server sends to a client: name -> data. */
  serverEvents?: Record<string, unknown>;
  /** Topics: name (or template pattern such as `room:${string}`) -> publication data. */
  topics?: Record<string, unknown>;
  /** Per-connection state (server side only). */
  state?: object;
}

// `{}` rather than Record<string, never>: keyof {} is never, so an absent part admits no names.
/** Client events of a schema. */
export type EventsOf<S> = S extends { events: infer E } ? E : {};
/** Methods of a schema. */
export type MethodsOf<S> = S extends { methods: infer M } ? M : {};
/** Server events of a schema. */
export type ServerEventsOf<S> = S extends { serverEvents: infer E } ? E : {};
/** Topics of a schema. */
export type TopicsOf<S> = S extends { topics: infer T } ? T : {};
/** Connection state of a schema. */
export type StateOf<S> = S extends { state: infer T } ? T : Record<string, unknown>;
/** The request data type of a method entry. */
export type DataOf<M> = M extends { data: infer D } ? D : unknown;
/** The result type of a method entry. */
export type ResultOf<M> = M extends { result: infer R } ? R : unknown;

/** A Context whose send/publish/subscribe know the schema's names and types. */
export interface TypedContext<S> {
  readonly address: ConnectionAddress;
  readonly protocol: string | null;
  readonly upgradeData: unknown;
  /** The client's IP address (see Context.remoteAddress). */
  readonly remoteAddress: string;
  state: StateOf<S>;
  /** The server's logger bound to this connection (see Context.log). */
  readonly log: Logger;
  send<K extends keyof ServerEventsOf<S> & string>(event: K, data: ServerEventsOf<S>[K]): void;
  sendRaw(data: Uint8Array | string, isBinary?: boolean): void;
  /** False when the address is malformed or a connection of this worker that has gone (see Context.sendTo). */
  sendTo<K extends keyof ServerEventsOf<S> & string>(address: ConnectionAddress, event: K, data: ServerEventsOf<S>[K]): boolean;
  /** Returns the number of this worker's subscribers written to; throws AppError OVERLOADED (see Context.publish). */
  publish<T extends keyof TopicsOf<S> & string>(topic: T, data: TopicsOf<S>[T], isBinary?: boolean): number;
  /** Resolves when every worker has acknowledged the subscription (docs/subprotocol.md §7). */
  subscribe(topic: keyof TopicsOf<S> & string): Promise<void>;
  /** False when the connection was not subscribed. */
  unsubscribe(topic: keyof TopicsOf<S> & string): boolean;
  close(code?: number, reason?: string): void;
}

type Awaitable<T> = T | Promise<T>;
type TypedHandler<S, M> = (ctx: TypedContext<S>, data: DataOf<M>) => Awaitable<ResultOf<M>>;

/** A typed method: a handler, or a handler with options. */
export type TypedMethod<S, M> =
  | TypedHandler<S, M>
  | {
      handler: TypedHandler<S, M>;
      /** Per-request timeout; a TIMEOUT error reply when exceeded. */
      timeoutMs?: number;
      /** Run on the worker's CPU pool (a separate thread); the handler gets a reduced context (address only). */
      cpu?: boolean;
    };

/** An app written against a schema. */
export interface TypedApp<S> {
  upgrade?(req: UpgradeRequest): UpgradeDecision | Promise<UpgradeDecision>;
  /** Plain HTTP requests on the server's port (see App.http). */
  http?(req: IncomingMessage, res: ServerResponse): unknown;
  onOpen?(ctx: TypedContext<S>): unknown;
  onClose?(ctx: TypedContext<S>, code: number, reason: string): unknown;
  onMessage?(ctx: TypedContext<S>, data: Buffer | string, isBinary: boolean): unknown;
  /** `onMessage` gets views valid only until it returns (see App.borrowMessages). */
  borrowMessages?: boolean;
  events?: { [K in keyof EventsOf<S>]: (ctx: TypedContext<S>, data: EventsOf<S>[K]) => unknown };
  methods?: { [K in keyof MethodsOf<S>]: TypedMethod<S, MethodsOf<S>[K]> };
  authorizeSubscribe?(ctx: TypedContext<S>, topic: string): boolean | Promise<boolean>;
  requireSubprotocol?: boolean;
  protocols?: readonly string[];
  limits?: AppLimits;
  /** Runs once in the host process when the server listens (see App.onStart). */
  onStart?: App['onStart'];
}

/**
 * An error a handler throws on purpose: its code, message and optional data
 * reach the client in the error reply (other errors become HANDLER_ERROR
 * with a generic message). Codes are the app's own, e.g. "NICK_TAKEN".
 */
export class AppError extends Error {
  readonly code: string;
  readonly data: unknown;

  constructor(code: string, message: string, data?: unknown) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.data = data;
  }
}

/** True for an AppError, also one made by another copy of this module (e.g. in a CPU pool thread). */
export function isAppError(error: unknown): error is AppError {
  return (
    error instanceof AppError ||
    (error instanceof Error && error.name === 'AppError' && typeof (error as { code?: unknown }).code === 'string')
  );
}

function checkTable(table: unknown, kind: 'events' | 'methods'): void {
  if (table === undefined) return;
  if (typeof table !== 'object' || table === null) throw new TypeError(`defineApp: ${kind} must be an object`);
  for (const [name, entry] of Object.entries(table)) {
    if (!isValidName(name)) throw new TypeError(`defineApp: ${kind} name ${JSON.stringify(name)} must have 1..${MAX_NAME_LENGTH} characters`);
    if (name.startsWith(RESERVED_PREFIX)) throw new TypeError(`defineApp: ${kind} name ${JSON.stringify(name)} uses the reserved prefix "${RESERVED_PREFIX}"`);
    if (typeof entry === 'function') continue;
    if (kind === 'events') throw new TypeError(`defineApp: event ${JSON.stringify(name)} must be a function`);
    const method = entry as { handler?: unknown; timeoutMs?: unknown; cpu?: unknown };
    if (typeof method !== 'object' || method === null || typeof method.handler !== 'function') {
      throw new TypeError(`defineApp: method ${JSON.stringify(name)} must be a function or { handler, timeoutMs?, cpu? }`);
    }
    if (method.timeoutMs !== undefined && !(Number.isInteger(method.timeoutMs) && (method.timeoutMs as number) > 0)) {
      throw new TypeError(`defineApp: method ${JSON.stringify(name)}: timeoutMs must be a positive integer`);
    }
  }
}

/**
 * Check an app and return it typed as a plain App (the object itself, not a
 * copy). Throws a TypeError that names the problem.
 */
export function defineApp<S extends AppSchema>(app: TypedApp<S>): App<StateOf<S>> {
  checkTable(app.events, 'events');
  checkTable(app.methods, 'methods');
  return app as unknown as App<StateOf<S>>;
}

