/**
 * The Shoal client: the subprotocol of docs/subprotocol.md over the standard
 * WebSocket API (global in browsers and in Node >= 22), with no node:
 * imports, so the same module runs in Node and in a browser.
 *
 * - `connect()` negotiates `v1.msgpack.shoal.dev` or `v1.json.shoal.dev`; a
 *   server that selects neither gets a NO_SUBPROTOCOL error, not a hang.
 * - `request(method, data)` resolves with the reply or rejects with a
 *   ShoalError carrying the server's code (or REQUEST_TIMEOUT, CONNECTION_LOST).
 * - `on(event, handler)` for server events; `emit(event, data)` sends one.
 * - `subscribe(topic, handler)` for publications.
 * - After a lost connection it reconnects with jittered exponential backoff
 *   and subscribes again to every topic it held.
 */
import type { AppSchema, DataOf, EventsOf, MethodsOf, ResultOf, ServerEventsOf, TopicsOf } from '../app/define-app.ts';
import type { Codec, ErrorBody, Message, ServerMessage } from '../codec/envelope.ts';
import {
  DEFAULT_CLIENT_REQUEST_TIMEOUT_MS,
  ERROR_EVENT,
  EnvelopeError,
  MAX_REQUEST_ID,
  MessageType,
  SHOAL_PROTOCOLS,
  SUBSCRIBE_METHOD,
  UNSUBSCRIBE_METHOD,
  closeReason,
  parseServerMessage,
} from '../codec/envelope.ts';
import { findCodec } from '../codec/index.ts';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff.ts';
import { ClientErrorCode, ShoalError } from './errors.ts';

/** The part of the standard WebSocket the client uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly protocol: string;
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket constructor (the global one by default). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface ClientOptions {
  /** Subprotocols to offer, in preference order. Default: msgpack, then JSON. */
  protocols?: readonly string[];
  /**
   * Default timeout of `request()` (and of `$subscribe`). Default 35000: the
   * server's default handler timeout (30000) plus 5 s, so that the server's
   * TIMEOUT error reply arrives first. Keep it above the server app's
   * `limits.requestTimeoutMs` (or a method's `timeoutMs`) when you change either.
   */
  requestTimeoutMs?: number;
  /** Time to open a connection before giving up on that attempt. Default 10000. */
  connectTimeoutMs?: number;
  /** Reconnect after a lost connection (default), or false to stay closed. */
  reconnect?: false | Partial<BackoffOptions>;
  /** The WebSocket implementation. Default: globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
}

/** What `onStatus` listeners hear. */
export type ClientStatus =
  | { type: 'open'; protocol: string; reconnected: boolean }
  | { type: 'close'; code: number; reason: string }
  | { type: 'reconnecting'; attempt: number; delayMs: number }
  | { type: 'closed'; error: ShoalError | null }
  | { type: 'error'; error: unknown };

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** A schema that admits any name, for untyped use. */
export interface AnySchema {
  events: Record<string, any>;
  methods: Record<string, { data: any; result: any }>;
  serverEvents: Record<string, any>;
  topics: Record<string, any>;
}

/** An active subscription; `unsubscribe()` removes this handler (and the server-side subscription with the last one). */
export interface Subscription {
  readonly topic: string;
  unsubscribe(): Promise<void>;
}

/**
 * Close codes after which reconnecting would only repeat the failure
 * (RFC 6455 §7.4.1: protocol error, unacceptable data type, invalid data).
 */
const NO_RECONNECT_CODES = new Set([1002, 1003, 1007]);

/** WebSocket readyState OPEN (WHATWG WebSockets). */
const OPEN = 1;

type Handler = (data: any, name: string) => void;

class PendingRequest {
  readonly id: number;
  readonly method: string;
  readonly data: unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: ShoalError) => void;
  timer: ReturnType<typeof setTimeout> | null;
  /** Written to the current connection (else waiting for the next open). */
  sent: boolean;

  constructor(id: number, method: string, data: unknown, resolve: (value: unknown) => void, reject: (error: ShoalError) => void) {
    this.id = id;
    this.method = method;
    this.data = data;
    this.resolve = resolve;
    this.reject = reject;
    this.timer = null;
    this.sent = false;
  }
}

interface TopicState {
  readonly handlers: Set<Handler>;
  /** The server confirmed it: resubscribe after a reconnect. */
  confirmed: boolean;
}

/** A Shoal client, typed by the server's schema (`ShoalClient<ChatSchema>`). */
export class ShoalClient<S extends AppSchema = AnySchema> {
  readonly url: string;
  #protocols: string[];
  #requestTimeoutMs: number;
  #connectTimeoutMs: number;
  #backoff: BackoffOptions | null;
  #WebSocket: WebSocketConstructor;
  #state: ClientState;
  #ws: WebSocketLike | null;
  #codec: Codec | null;
  #nextId: number;
  #pending: Map<number, PendingRequest>;
  #handlers: Map<string, Set<Handler>>;
  #topics: Map<string, TopicState>;
  #statusListeners: Set<(status: ClientStatus) => void>;
  #attempt: number;
  #everOpened: boolean;
  #reconnectTimer: ReturnType<typeof setTimeout> | null;
  #connectTimer: ReturnType<typeof setTimeout> | null;
  #connecting: PromiseWithResolvers<void> | null;

  constructor(url: string, options: ClientOptions = {}) {
    this.url = url;
    this.#protocols = [...(options.protocols ?? SHOAL_PROTOCOLS)];
    for (const protocol of this.#protocols) {
      if (findCodec(protocol) === undefined) throw new TypeError(`unknown Shoal subprotocol ${JSON.stringify(protocol)}`);
    }
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_CLIENT_REQUEST_TIMEOUT_MS;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#backoff = options.reconnect === false ? null : { ...DEFAULT_BACKOFF, ...options.reconnect };
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketImpl === undefined) throw new TypeError('no WebSocket implementation: pass options.WebSocket');
    this.#WebSocket = WebSocketImpl;
    this.#state = 'idle';
    this.#ws = null;
    this.#codec = null;
    this.#nextId = 0;
    this.#pending = new Map();
    this.#handlers = new Map();
    this.#topics = new Map();
    this.#statusListeners = new Set();
    this.#attempt = 0;
    this.#everOpened = false;
    this.#reconnectTimer = null;
    this.#connectTimer = null;
    this.#connecting = null;
  }

  get state(): ClientState {
    return this.#state;
  }

  /** The negotiated subprotocol while open, else null. */
  get protocol(): string | null {
    return this.#state === 'open' ? (this.#codec?.protocol ?? null) : null;
  }

  /**
   * Open the connection. Resolves once open; rejects with a ShoalError when
   * the first attempt fails (CONNECT_FAILED) or the server speaks no Shoal
   * subprotocol (NO_SUBPROTOCOL). Reconnecting applies only after a
   * connection was open.
   */
  connect(): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(new ShoalError(ClientErrorCode.CLOSED, 'the client is closed'));
    if (this.#connecting === null) {
      this.#connecting = Promise.withResolvers<void>();
      // Not every caller awaits connect(); an unobserved rejection must not crash the process.
      this.#connecting.promise.catch(() => {});
      if (this.#state === 'idle') this.#open();
    }
    return this.#connecting.promise;
  }

  /** Listen to lifecycle changes; returns a function that removes the listener. */
  onStatus(listener: (status: ClientStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /** Call `method` on the server. Waits for the connection when it is (re)connecting, within the same timeout. */
  request<K extends keyof MethodsOf<S> & string>(
    method: K,
    data: DataOf<MethodsOf<S>[K]>,
    options: { timeoutMs?: number } = {},
  ): Promise<ResultOf<MethodsOf<S>[K]>> {
    return this.#request(method, data, options.timeoutMs ?? this.#requestTimeoutMs) as Promise<ResultOf<MethodsOf<S>[K]>>;
  }

  /** Send an event to the server. Throws NOT_CONNECTED unless open. */
  emit<K extends keyof EventsOf<S> & string>(event: K, data: EventsOf<S>[K]): void {
    if (this.#state !== 'open') throw new ShoalError(ClientErrorCode.NOT_CONNECTED, `cannot send event ${JSON.stringify(event)}: the client is ${this.#state}`);
    this.#send([MessageType.EVENT, event, data]);
  }

  /** Handle a server event (or `$error`, the server's report of a failed event). Returns a function that removes the handler. */
  on<K extends (keyof ServerEventsOf<S> & string) | typeof ERROR_EVENT>(
    event: K,
    handler: (data: K extends typeof ERROR_EVENT ? ErrorBody : ServerEventsOf<S>[K & keyof ServerEventsOf<S>], event: string) => void,
  ): () => void {
    let handlers = this.#handlers.get(event);
    if (handlers === undefined) {
      handlers = new Set();
      this.#handlers.set(event, handlers);
    }
    handlers.add(handler as Handler);
    return () => {
      handlers.delete(handler as Handler);
      if (handlers.size === 0 && this.#handlers.get(event) === handlers) this.#handlers.delete(event);
    };
  }

  /**
   * Subscribe to a topic. Resolves once the server confirmed (from then on,
   * every publication reaches the handler; docs/subprotocol.md §7), and the
   * subscription is renewed after each reconnect. Rejects with the server's
   * error (FORBIDDEN, TOO_MANY_SUBSCRIPTIONS, ...) or a client-side one; the
   * handler is then not registered.
   */
  async subscribe<T extends keyof TopicsOf<S> & string>(topic: T, handler: (data: TopicsOf<S>[T], topic: string) => void): Promise<Subscription> {
    let state = this.#topics.get(topic);
    const fresh = state === undefined;
    if (state === undefined) {
      state = { handlers: new Set(), confirmed: false };
      this.#topics.set(topic, state);
    }
    state.handlers.add(handler as Handler);
    const subscription: Subscription = { topic, unsubscribe: () => this.#unsubscribe(topic, handler as Handler) };
    if (!fresh && state.confirmed) return subscription;
    try {
      await this.#request(SUBSCRIBE_METHOD, topic, this.#requestTimeoutMs);
    } catch (error) {
      state.handlers.delete(handler as Handler);
      if (state.handlers.size === 0 && this.#topics.get(topic) === state) this.#topics.delete(topic);
      throw error;
    }
    state.confirmed = true;
    return subscription;
  }

  /** Close for good: pending requests fail with CLOSED and no reconnect follows. */
  close(code: number = 1000, reason: string = ''): void {
    if (this.#state === 'closed') return;
    this.#finish(new ShoalError(ClientErrorCode.CLOSED, 'the client was closed'), code, reason);
  }

  async #unsubscribe(topic: string, handler: Handler): Promise<void> {
    const state = this.#topics.get(topic);
    if (state === undefined || !state.handlers.delete(handler)) return;
    if (state.handlers.size > 0) return;
    this.#topics.delete(topic);
    if (this.#state !== 'open') return;
    await this.#request(UNSUBSCRIBE_METHOD, topic, this.#requestTimeoutMs).catch(() => {});
  }

  #request(method: string, data: unknown, timeoutMs: number): Promise<unknown> {
    if (this.#state === 'closed') return Promise.reject(new ShoalError(ClientErrorCode.CLOSED, 'the client is closed'));
    if (this.#state === 'idle') void this.connect();
    this.#nextId = this.#nextId >= MAX_REQUEST_ID ? 1 : this.#nextId + 1;
    const id = this.#nextId;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    // Kept as data: encoded when sent, with the codec of the connection it goes out on.
    const pending = new PendingRequest(id, method, data, resolve, reject);
    this.#pending.set(id, pending);
    pending.timer = setTimeout(() => {
      pending.timer = null;
      this.#pending.delete(id);
      reject(new ShoalError(ClientErrorCode.REQUEST_TIMEOUT, `no reply to ${JSON.stringify(method)} within ${timeoutMs} ms`));
    }, timeoutMs);
    if (this.#state === 'open') this.#sendRequest(pending);
    return promise;
  }

  #sendRequest(pending: PendingRequest): void {
    pending.sent = true;
    this.#send([MessageType.REQUEST, pending.id, pending.method, pending.data]);
  }

  #send(message: Message): void {
    const ws = this.#ws as WebSocketLike;
    ws.send((this.#codec as Codec).encode(message));
  }

  #emitStatus(status: ClientStatus): void {
    for (const listener of this.#statusListeners) {
      try {
        listener(status);
      } catch (error) {
        console.error('shoal client: a status listener threw:', error);
      }
    }
  }

  #open(): void {
    this.#state = this.#everOpened ? 'reconnecting' : 'connecting';
    let ws: WebSocketLike;
    try {
      ws = new this.#WebSocket(this.url, this.#protocols);
    } catch (error) {
      // A malformed URL: nothing to retry.
      this.#finish(new ShoalError(ClientErrorCode.CONNECT_FAILED, `cannot connect to ${this.url}: ${(error as Error).message}`), 1000, '');
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    this.#connectTimer = setTimeout(() => {
      this.#connectTimer = null;
      if (this.#ws === ws && ws.readyState !== OPEN) {
        ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
        ws.close();
        this.#lost(1006, `not open within ${this.#connectTimeoutMs} ms`);
      }
    }, this.#connectTimeoutMs);
    ws.onopen = () => this.#opened(ws);
    ws.onmessage = (event) => {
      if (this.#ws === ws) this.#receive(event.data);
    };
    ws.onerror = () => {};
    ws.onclose = (event) => {
      if (this.#ws === ws) this.#lost(event.code, event.reason);
    };
  }

  #opened(ws: WebSocketLike): void {
    if (this.#ws !== ws) return;
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    const codec = findCodec(ws.protocol);
    if (codec === undefined || !this.#protocols.includes(ws.protocol)) {
      // RFC 6455 §4.1: the server answered without one of the offered subprotocols.
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      ws.close(1000, 'no Shoal subprotocol');
      this.#finish(
        new ShoalError(
          ClientErrorCode.NO_SUBPROTOCOL,
          `${this.url} selected ${ws.protocol === '' ? 'no subprotocol' : JSON.stringify(ws.protocol)}; offered ${this.#protocols.join(', ')}: it does not speak the Shoal protocol`,
        ),
        1000,
        '',
      );
      return;
    }
    const reconnected = this.#everOpened;
    this.#codec = codec;
    this.#state = 'open';
    this.#everOpened = true;
    this.#attempt = 0;
    this.#connecting?.resolve();
    this.#connecting = null;
    this.#emitStatus({ type: 'open', protocol: codec.protocol, reconnected });
    // Subscriptions first, so that nothing published after a queued request's effect is missed.
    for (const [topic, state] of this.#topics) {
      if (state.confirmed) this.#resubscribe(topic, state);
    }
    for (const pending of this.#pending.values()) {
      if (!pending.sent) this.#sendRequest(pending);
    }
  }

  #resubscribe(topic: string, state: TopicState): void {
    this.#request(SUBSCRIBE_METHOD, topic, this.#requestTimeoutMs).catch((error: unknown) => {
      if (error instanceof ShoalError && (error.code === ClientErrorCode.CONNECTION_LOST || error.code === ClientErrorCode.CLOSED)) return;
      // Refused now (e.g. FORBIDDEN after the server changed its mind) or no answer: report and drop it.
      if (this.#topics.get(topic) === state) this.#topics.delete(topic);
      this.#emitStatus({ type: 'error', error });
    });
  }

  #receive(data: unknown): void {
    const codec = this.#codec as Codec;
    const isText = typeof data === 'string';
    if (isText === codec.binary) {
      this.#protocolError(new EnvelopeError('SHOAL_ERR_WRONG_FRAME_TYPE', isText ? 'text message on the msgpack protocol' : 'binary message on the JSON protocol'));
      return;
    }
    let message: ServerMessage;
    try {
      message = parseServerMessage(codec.decode(isText ? (data as string) : new Uint8Array(data as ArrayBuffer)));
    } catch (error) {
      this.#protocolError(error instanceof EnvelopeError ? error : new EnvelopeError('SHOAL_ERR_NOT_DECODABLE', 'message could not be decoded'));
      return;
    }
    switch (message[0]) {
      case MessageType.EVENT:
        this.#dispatch(this.#handlers.get(message[1]), message[2], message[1]);
        break;
      case MessageType.REPLY:
      case MessageType.ERROR: {
        const pending = this.#pending.get(message[1]);
        // A reply after our timeout: the caller has its REQUEST_TIMEOUT already.
        if (pending === undefined) return;
        this.#pending.delete(message[1]);
        if (pending.timer !== null) clearTimeout(pending.timer);
        if (message[0] === MessageType.REPLY) pending.resolve(message[2]);
        else pending.reject(new ShoalError(message[2].code, message[2].message, message[2].data));
        break;
      }
      case MessageType.PUBLICATION:
        this.#dispatch(this.#topics.get(message[1])?.handlers, message[2], message[1]);
        break;
    }
  }

  #dispatch(handlers: Set<Handler> | undefined, data: unknown, name: string): void {
    if (handlers === undefined) return;
    for (const handler of handlers) {
      try {
        handler(data, name);
      } catch (error) {
        this.#emitStatus({ type: 'error', error });
        if (this.#statusListeners.size === 0) console.error(`shoal client: handler for ${JSON.stringify(name)} threw:`, error);
      }
    }
  }

  /** The server sent something outside the protocol: fail the connection (RFC 6455 §7.1.7) with the code. */
  #protocolError(error: EnvelopeError): void {
    const ws = this.#ws;
    if (ws === null) return;
    this.#emitStatus({ type: 'error', error });
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    closeSocket(ws, error.closeCode, closeReason(error.message));
    this.#lost(error.closeCode, error.message);
  }

  /** The connection ended (or an attempt failed): fail what was sent on it, then reconnect or give up. */
  #lost(code: number, reason: string): void {
    this.#ws = null;
    this.#codec = null;
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    if (wasOpen) this.#emitStatus({ type: 'close', code, reason });
    for (const pending of [...this.#pending.values()]) {
      if (!pending.sent) continue;
      this.#pending.delete(pending.id);
      if (pending.timer !== null) clearTimeout(pending.timer);
      pending.reject(new ShoalError(ClientErrorCode.CONNECTION_LOST, `connection lost (${code}) before the reply to ${JSON.stringify(pending.method)}`));
    }
    if (!this.#everOpened) {
      this.#diagnose(code, reason);
      return;
    }
    const backoff = this.#backoff;
    if (backoff === null || NO_RECONNECT_CODES.has(code) || this.#attempt >= backoff.maxAttempts) {
      this.#finish(new ShoalError(ClientErrorCode.CONNECTION_LOST, `connection lost (${code}${reason ? `: ${reason}` : ''})`), 1000, '');
      return;
    }
    const delayMs = backoffDelay(this.#attempt, backoff);
    this.#attempt++;
    this.#state = 'reconnecting';
    this.#emitStatus({ type: 'reconnecting', attempt: this.#attempt, delayMs });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#state === 'reconnecting') this.#open();
    }, delayMs);
  }

  /**
   * The first connection failed. Browsers and Node fail the handshake when
   * the server selects none of the offered subprotocols (WHATWG WebSockets),
   * which looks like any network failure; so try once more without
   * subprotocols: if that opens, the server is there but does not speak
   * Shoal (NO_SUBPROTOCOL), else it is unreachable (CONNECT_FAILED).
   */
  #diagnose(code: number, reason: string): void {
    const failed = new ShoalError(ClientErrorCode.CONNECT_FAILED, `cannot connect to ${this.url} (close code ${code}${reason ? `: ${reason}` : ''})`);
    let probe: WebSocketLike;
    try {
      probe = new this.#WebSocket(this.url);
    } catch {
      this.#finish(failed, 1000, '');
      return;
    }
    this.#ws = probe;
    const settle = (error: ShoalError): void => {
      if (this.#ws !== probe) return;
      this.#ws = null;
      if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
      this.#connectTimer = null;
      probe.onopen = probe.onmessage = probe.onerror = probe.onclose = null;
      closeSocket(probe, 1000, '');
      this.#finish(error, 1000, '');
    };
    this.#connectTimer = setTimeout(() => settle(failed), this.#connectTimeoutMs);
    probe.onopen = () =>
      settle(
        new ShoalError(
          ClientErrorCode.NO_SUBPROTOCOL,
          `${this.url} accepts WebSocket connections but selected none of ${this.#protocols.join(', ')}: it does not speak the Shoal protocol`,
        ),
      );
    probe.onmessage = null;
    probe.onerror = () => {};
    probe.onclose = () => settle(failed);
  }

  /** Terminal: close the socket, fail everything pending, tell the listeners. */
  #finish(error: ShoalError, code: number, reason: string): void {
    this.#state = 'closed';
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#reconnectTimer = null;
    this.#connectTimer = null;
    const ws = this.#ws;
    this.#ws = null;
    this.#codec = null;
    if (ws !== null) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      closeSocket(ws, code, reason);
    }
    for (const pending of this.#pending.values()) {
      if (pending.timer !== null) clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
    this.#connecting?.reject(error);
    this.#connecting = null;
    this.#emitStatus({ type: 'closed', error: error.code === ClientErrorCode.CLOSED ? null : error });
  }
}

/**
 * Close a WebSocket with an RFC 6455 code. The WebSocket API only lets a
 * client send 1000 and 3000-4999, so other codes (1003, 1007) are sent as
 * 4000 + (code - 1000), e.g. 4007, with the same reason (docs/subprotocol.md §6).
 */
function closeSocket(ws: WebSocketLike, code: number, reason: string): void {
  const allowed = code === 1000 || (code >= 3000 && code <= 4999) ? code : code >= 1000 && code < 2000 ? 4000 + (code - 1000) : 1000;
  try {
    ws.close(allowed, reason);
  } catch {
    ws.close();
  }
}

/** Create a client and connect it. */
export async function connect<S extends AppSchema = AnySchema>(url: string, options?: ClientOptions): Promise<ShoalClient<S>> {
  const client = new ShoalClient<S>(url, options);
  await client.connect();
  return client;
}
