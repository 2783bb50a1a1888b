/**
 * The Session of a connection on a Shoal subprotocol (msgpack or JSON):
 * decode each message, validate the envelope, dispatch events and requests
 * to the app's handlers, and answer every request with exactly one reply or
 * error reply.
 *
 * Failures and what the client sees (docs/subprotocol.md §6):
 *   wrong frame type (text on msgpack, binary on JSON)   close 1003
 *   not one msgpack/JSON value, or not a valid envelope  close 1007
 *   unknown method                                       error reply UNKNOWN_METHOD
 *   unknown event                                        `$error` event UNKNOWN_EVENT
 *   handler throws / rejects                             error reply HANDLER_ERROR (logged here, no stack sent)
 *   handler throws an AppError                           error reply with its code, message, data
 *   handler does not settle within its timeout           error reply TIMEOUT
 *   too many handlers still running                      error reply TOO_MANY_REQUESTS
 *   request id already outstanding                       error reply BAD_REQUEST
 * The connection stays open in every case but the first two.
 *
 * Flow control: a handler that published while another worker was congested
 * (pubsub/forward-flow-control.ts) has its answer held until the fan-out has
 * drained; the actor holds this connection's next messages meanwhile. A publication refused
 * with OVERLOADED is an AppError like any other.
 *
 * The actor runs onMessage calls one at a time: a request whose handler
 * returns a promise holds the next message back until it settles or times
 * out. Handlers that time out keep running (JavaScript cannot stop them);
 * they count against `maxOutstandingRequests` until they settle, and their
 * late result is dropped. CPU methods run on the CPU pool concurrently,
 * without holding the next message back, and are aborted at their timeout.
 */
import type { Codec, ErrorBody, ErrorReplyMessage, EventMessage } from '../codec/envelope.ts';
import {
  DEFAULT_HANDLER_TIMEOUT_MS,
  ERROR_EVENT,
  EnvelopeError,
  ErrorCode,
  MessageType,
  SUBSCRIBE_METHOD,
  UNSUBSCRIBE_METHOD,
  closeReason,
  isValidName,
  parseClientMessage,
} from '../codec/envelope.ts';
import type { Histogram } from '../telemetry/histogram.ts';
import { log } from '../telemetry/logger.ts';
import { OTHER_LABEL, requestOutcomeLabel } from '../telemetry/metric-definitions.ts';
import { logPeerCaused } from '../telemetry/rate-limited-log.ts';
import { observeSince, startedNow } from '../telemetry/read-clock.ts';
import { workerHistograms } from '../telemetry/worker-metrics.ts';
import { ShoalContext } from './context.ts';
import { isThenable } from './is-thenable.ts';
import { AppError, isAppError } from './define-app.ts';
import type { AppServices } from './services.ts';
import type { App, AppLimits, ConnectionHandle, Context, Session } from './types.ts';

/** Defaults of the per-connection limits (App.limits overrides them). */
export const DEFAULT_LIMITS: Readonly<Required<AppLimits>> = {
  requestTimeoutMs: DEFAULT_HANDLER_TIMEOUT_MS,
  maxOutstandingRequests: 64,
  maxSubscriptions: 256,
};

type Handler = (ctx: Context<any>, data: any) => unknown;

/** The error codes of the subprotocol: outcome labels of their own; codes an app invents are `other`. */
const ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/**
 * The request-duration series of one method label: `ok` made up front (the
 * hot path observes into it with no lookup), error outcomes on first use.
 */
export class RequestSeries {
  readonly method: string;
  readonly ok: Histogram;
  #byOutcome: Map<string, Histogram>;

  constructor(method: string) {
    this.method = method;
    this.ok = workerHistograms.request.series(method, 'ok');
    this.#byOutcome = new Map();
  }

  /** The series of an error reply's code. */
  failed(code: string): Histogram {
    const outcome = requestOutcomeLabel(code, ERROR_CODES);
    let series = this.#byOutcome.get(outcome);
    if (series === undefined) {
      series = workerHistograms.request.series(this.method, outcome);
      this.#byOutcome.set(outcome, series);
    }
    return series;
  }
}

/** Requests for a method the app does not have share the label `other`. */
const UNKNOWN_METHOD_SERIES = new RequestSeries(OTHER_LABEL);

/** A method, normalised. */
interface MethodEntry {
  readonly name: string;
  readonly handler: Handler;
  readonly timeoutMs: number;
  readonly cpu: boolean;
  readonly series: RequestSeries;
}

/** An app's handlers in lookup tables, built once per app per worker. */
export class AppTable {
  readonly app: App<any>;
  readonly events: Map<string, Handler>;
  readonly methods: Map<string, MethodEntry>;
  readonly limits: Readonly<Required<AppLimits>>;

  constructor(app: App<any>) {
    this.app = app;
    // `??` per field: an explicit `undefined` in app.limits keeps the default (a spread would remove the limit).
    const limits = app.limits ?? {};
    this.limits = {
      requestTimeoutMs: limits.requestTimeoutMs ?? DEFAULT_LIMITS.requestTimeoutMs,
      maxOutstandingRequests: limits.maxOutstandingRequests ?? DEFAULT_LIMITS.maxOutstandingRequests,
      maxSubscriptions: limits.maxSubscriptions ?? DEFAULT_LIMITS.maxSubscriptions,
    };
    this.events = new Map();
    this.methods = new Map();
    for (const [name, handler] of Object.entries(app.events ?? {})) {
      // spec §5: names with the reserved prefix are built-ins; an app cannot shadow them.
      if (typeof handler === 'function' && !name.startsWith('$')) this.events.set(name, handler);
    }
    for (const [name, entry] of Object.entries(app.methods ?? {})) {
      if (name.startsWith('$')) continue;
      if (typeof entry === 'function') {
        this.methods.set(name, { name, handler: entry, timeoutMs: this.limits.requestTimeoutMs, cpu: false, series: new RequestSeries(name) });
      } else if (typeof entry === 'object' && entry !== null && typeof entry.handler === 'function') {
        const timeoutMs = entry.timeoutMs ?? this.limits.requestTimeoutMs;
        this.methods.set(name, { name, handler: entry.handler, timeoutMs, cpu: entry.cpu === true, series: new RequestSeries(name) });
      }
    }
    const timeoutMs = this.limits.requestTimeoutMs;
    this.methods.set(SUBSCRIBE_METHOD, { name: SUBSCRIBE_METHOD, handler: builtinSubscribe, timeoutMs, cpu: false, series: new RequestSeries(SUBSCRIBE_METHOD) });
    this.methods.set(UNSUBSCRIBE_METHOD, { name: UNSUBSCRIBE_METHOD, handler: builtinUnsubscribe, timeoutMs, cpu: false, series: new RequestSeries(UNSUBSCRIBE_METHOD) });
  }
}

const tables = new WeakMap<App<any>, AppTable>();

/** The table of an app, built on first use. */
export function appTable(app: App<any>): AppTable {
  let table = tables.get(app);
  if (table === undefined) {
    table = new AppTable(app);
    tables.set(app, table);
  }
  return table;
}

function checkTopic(data: unknown): string {
  // spec §5: the data of $subscribe/$unsubscribe is the topic, a name (spec §3).
  if (!isValidName(data)) throw new AppError(ErrorCode.BAD_REQUEST, 'the data of $subscribe/$unsubscribe must be a topic name (1..256 characters)');
  return data;
}

/** `$subscribe`: data is the topic; replies null once every worker has acknowledged (spec §7). */
async function builtinSubscribe(ctx: Context<any>, data: unknown): Promise<null> {
  const session = ctx as ProtocolSession;
  const topic = checkTopic(data);
  if (!session.topics.has(topic) && session.topics.size >= session.maxSubscriptions) {
    throw new AppError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `this connection already holds ${session.maxSubscriptions} subscriptions`);
  }
  const authorize = session.table.app.authorizeSubscribe;
  if (authorize !== undefined && (await authorize(ctx, topic)) !== true) {
    throw new AppError(ErrorCode.FORBIDDEN, `subscription to ${JSON.stringify(topic)} refused`);
  }
  // The connection may have closed while the app decided; onClose already cleaned up.
  if (session.isClosed) return null;
  await session.subscribe(topic);
  return null;
}

/** `$unsubscribe`: data is the topic; replies true when it was subscribed, false otherwise. */
function builtinUnsubscribe(ctx: Context<any>, data: unknown): boolean {
  return (ctx as ProtocolSession).unsubscribe(checkTopic(data));
}

/** A request or event whose handler has not settled. */
class Pending {
  readonly id: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** The TIMEOUT answer has been sent; the handler's late result is dropped. */
  timedOut: boolean;
  /** Aborts a CPU task. */
  abort: AbortController | null;

  constructor(id: number) {
    this.id = id;
    this.timer = null;
    this.timedOut = false;
    this.abort = null;
  }
}

const INTERNAL_MESSAGE = 'internal error in the handler';

/** The session of one Shoal-subprotocol connection; it is also the handlers' Context. */
export class ProtocolSession<State = Record<string, unknown>> extends ShoalContext<State, Codec> implements Session {
  readonly table: AppTable;
  /** Requests in flight by id; null until the first asynchronous one (idle connections carry no map). */
  #outstanding: Map<number, Pending> | null;
  /** Handlers past their timeout that have not settled yet (they still count against the limit). */
  #zombies: number;
  /** A fatal envelope error closed the connection: later messages are ignored. */
  #failed: boolean;
  #closed: boolean;

  constructor(app: App<any>, handle: ConnectionHandle, codec: Codec, services: AppServices) {
    const table = appTable(app);
    super(handle, codec, services, table.limits.maxSubscriptions);
    this.table = table;
    this.#outstanding = null;
    this.#zombies = 0;
    this.#failed = false;
    this.#closed = false;
  }

  /** True once onClose has run. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Handlers of this connection that have not settled (in time or late). */
  get inFlight(): number {
    return (this.#outstanding?.size ?? 0) + this.#zombies;
  }

  onOpen(): unknown {
    this.services.router.register(this);
    return this.table.app.onOpen?.(this);
  }

  onMessage(data: Buffer, isBinary: boolean): unknown {
    if (this.#failed) return;
    this.publishedWhileCongested = false;
    const codec = this.codec;
    if (isBinary !== codec.binary) {
      // spec §2 / RFC 6455 §7.4.1: 1003 "received a type of data it cannot accept".
      this.#fail(new EnvelopeError('SHOAL_ERR_WRONG_FRAME_TYPE', codec.binary ? 'text message on the msgpack protocol' : 'binary message on the JSON protocol'));
      return;
    }
    let message;
    try {
      message = parseClientMessage(codec.decode(data));
    } catch (error) {
      this.#fail(error instanceof EnvelopeError ? error : new EnvelopeError('SHOAL_ERR_NOT_DECODABLE', 'message could not be decoded'));
      return;
    }
    if (message[0] === MessageType.EVENT) return this.#event(message[1], message[2]);
    return this.#request(message[1], message[2], message[3]);
  }

  onClose(code: number, reason: string): unknown {
    this.#closed = true;
    this.services.pubsub.unsubscribeAll(this);
    this.services.router.unregister(this);
    if (this.#outstanding !== null) {
      for (const pending of this.#outstanding.values()) {
        if (pending.timer !== null) clearTimeout(pending.timer);
        pending.timer = null;
        pending.abort?.abort();
      }
    }
    return this.table.app.onClose?.(this, code, reason);
  }

  #fail(error: EnvelopeError): void {
    this.#failed = true;
    this.handle.close(error.closeCode, closeReason(error.message));
  }

  #event(name: string, data: unknown): void | Promise<void> {
    const handler = this.table.events.get(name);
    if (handler === undefined) {
      this.#sendErrorEvent({ code: ErrorCode.UNKNOWN_EVENT, message: `unknown event ${JSON.stringify(name)}`, data: { event: name } });
      return;
    }
    if (this.inFlight >= this.table.limits.maxOutstandingRequests) {
      this.#sendErrorEvent({
        code: ErrorCode.TOO_MANY_REQUESTS,
        message: `more than ${this.table.limits.maxOutstandingRequests} handlers in flight`,
        data: { event: name },
      });
      return;
    }
    let result: unknown;
    try {
      result = handler(this, data);
    } catch (error) {
      this.#eventFailed(name, error);
      return;
    }
    if (!isThenable(result)) return this.afterFanOut();
    const pending = new Pending(-1);
    return this.#settleWithin(pending, result, this.table.limits.requestTimeoutMs, {
      fulfilled: () => this.afterFanOut(),
      rejected: (error) => this.#eventFailed(name, error),
      timedOut: () =>
        this.#sendErrorEvent({
          code: ErrorCode.TIMEOUT,
          message: `event ${JSON.stringify(name)} was not handled within ${this.table.limits.requestTimeoutMs} ms`,
          data: { event: name },
        }),
    });
  }

  #request(id: number, method: string, data: unknown): void | Promise<void> {
    // Request duration: from here to the reply's send (shoal_request_duration_seconds; one clock read per socket read, telemetry/read-clock.ts).
    const startedAt = startedNow();
    const entry = this.table.methods.get(method);
    const series = entry === undefined ? UNKNOWN_METHOD_SERIES : entry.series;
    const outstanding = this.#outstanding;
    if (outstanding !== null && outstanding.has(id)) {
      // spec §4: ids of outstanding requests must be unique, or replies would be ambiguous.
      this.#replyError(id, { code: ErrorCode.BAD_REQUEST, message: `request id ${id} is already in use` }, series, startedAt);
      return;
    }
    if (this.inFlight >= this.table.limits.maxOutstandingRequests) {
      this.#replyError(id, { code: ErrorCode.TOO_MANY_REQUESTS, message: `more than ${this.table.limits.maxOutstandingRequests} requests in flight` }, series, startedAt);
      return;
    }
    if (entry === undefined) {
      this.#replyError(id, { code: ErrorCode.UNKNOWN_METHOD, message: `unknown method ${JSON.stringify(method)}` }, series, startedAt);
      return;
    }
    if (entry.cpu) {
      const pool = this.services.cpuPool();
      if (pool !== null) {
        this.#runOnPool(id, entry, data, startedAt);
        return;
      }
    }
    let result: unknown;
    try {
      result = entry.handler(this, data);
    } catch (error) {
      this.#requestFailed(id, entry, error, startedAt);
      return;
    }
    // Fast path: a synchronous handler is answered at once, with no promise and no timer.
    if (!isThenable(result)) {
      if (this.publishedWhileCongested) return this.#replyAfterFanOut(id, result, series, startedAt);
      this.#reply(id, result, series, startedAt);
      return;
    }
    const pending = new Pending(id);
    this.#track(pending);
    return this.#settleWithin(pending, result, entry.timeoutMs, {
      fulfilled: (value) => (this.publishedWhileCongested ? this.#replyAfterFanOut(id, value, series, startedAt) : this.#reply(id, value, series, startedAt)),
      rejected: (error) => this.#requestFailed(id, entry, error, startedAt),
      timedOut: () =>
        this.#replyError(id, { code: ErrorCode.TIMEOUT, message: `method ${JSON.stringify(entry.name)} did not answer within ${entry.timeoutMs} ms` }, series, startedAt),
    });
  }

  /** Flow control (ShoalContext.afterFanOut): the handler published while congested, so its answer waits until the fan-out has drained. */
  #replyAfterFanOut(id: number, value: unknown, series: RequestSeries, startedAt: number): Promise<void> {
    return this.drained().then(() => this.#reply(id, value, series, startedAt));
  }

  #track(pending: Pending): void {
    this.#outstanding ??= new Map();
    this.#outstanding.set(pending.id, pending);
  }

  /**
   * Wait for a handler's promise, at most `timeoutMs`. Resolves (never
   * rejects) when the promise settles or the time is up, whichever is first
   * (and after the promise `fulfilled` returns, if any); exactly one of the
   * three outcomes runs.
   */
  #settleWithin(
    pending: Pending,
    result: PromiseLike<unknown>,
    timeoutMs: number,
    outcome: { fulfilled(value: unknown): void | Promise<void>; rejected(error: unknown): void; timedOut(): void },
  ): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    pending.timer = setTimeout(() => {
      pending.timer = null;
      pending.timedOut = true;
      this.#untrack(pending);
      this.#zombies++;
      outcome.timedOut();
      resolve();
    }, timeoutMs);
    result.then(
      (value) => {
        if (pending.timedOut) {
          this.#zombies--;
          return;
        }
        this.#finish(pending);
        const after = outcome.fulfilled(value);
        if (after === undefined) resolve();
        else after.then(resolve);
      },
      (error: unknown) => {
        if (pending.timedOut) {
          this.#zombies--;
          logPeerCaused(log(), 'error', 'late_handler_failure', { err: error, conn: this.address }, 'a handler failed after its timeout');
          return;
        }
        this.#finish(pending);
        outcome.rejected(error);
        resolve();
      },
    );
    return promise;
  }

  #finish(pending: Pending): void {
    if (pending.timer !== null) clearTimeout(pending.timer);
    pending.timer = null;
    this.#untrack(pending);
  }

  #untrack(pending: Pending): void {
    if (pending.id >= 0 && this.#outstanding?.get(pending.id) === pending) this.#outstanding.delete(pending.id);
  }

  /** A CPU method: runs concurrently on the pool; aborted (thread terminated) at its timeout. */
  #runOnPool(id: number, entry: MethodEntry, data: unknown, startedAt: number): void {
    const pending = new Pending(id);
    pending.abort = new AbortController();
    this.#track(pending);
    pending.timer = setTimeout(() => {
      pending.timer = null;
      pending.timedOut = true;
      this.#untrack(pending);
      pending.abort?.abort();
      this.#replyError(id, { code: ErrorCode.TIMEOUT, message: `method ${JSON.stringify(entry.name)} did not answer within ${entry.timeoutMs} ms` }, entry.series, startedAt);
    }, entry.timeoutMs);
    (this.services.cpuPool() as NonNullable<ReturnType<AppServices['cpuPool']>>)
      .run(entry.name, data, this.address, this.protocol, pending.abort.signal)
      .then(
        (outcome) => {
          if (pending.timedOut || this.#closed) return;
          this.#finish(pending);
          if (outcome.ok) this.#reply(id, outcome.value, entry.series, startedAt);
          else this.#replyError(id, { code: outcome.code, message: outcome.message, data: outcome.data }, entry.series, startedAt);
        },
        (error: unknown) => {
          if (pending.timedOut || this.#closed) return;
          this.#finish(pending);
          this.#requestFailed(id, entry, error, startedAt);
        },
      );
  }

  /** Sends the reply and counts the request as `ok` in its series. */
  #reply(id: number, value: unknown, series: RequestSeries, startedAt: number): void {
    let encoded: Uint8Array | string;
    try {
      encoded = this.codec.encodeReply(id, value);
    } catch (error) {
      logPeerCaused(log(), 'error', `result_unencodable:${series.method}`, { err: error, conn: this.address, method: series.method, id }, 'the result of a request cannot be encoded');
      this.#replyError(id, { code: ErrorCode.HANDLER_ERROR, message: 'the result could not be encoded' }, series, startedAt);
      return;
    }
    this.handle.send(encoded, this.codec.binary);
    observeSince(series.ok, startedAt);
  }

  /** Sends the error reply and counts the request under its code in its series. */
  #replyError(id: number, body: ErrorBody, series: RequestSeries, startedAt: number): void {
    const message: ErrorReplyMessage = [MessageType.ERROR, id, body];
    let encoded: Uint8Array | string;
    try {
      encoded = this.codec.encode(message);
    } catch (error) {
      // Only an AppError's `data` can be unencodable: send the error without it.
      logPeerCaused(log(), 'error', `error_data_unencodable:${series.method}`, { err: error, conn: this.address, method: series.method, id }, 'the error data of a request cannot be encoded');
      encoded = this.codec.encode([MessageType.ERROR, id, { code: body.code, message: body.message }]);
    }
    this.handle.send(encoded, this.codec.binary);
    observeSince(series.failed(body.code), startedAt);
  }

  #sendErrorEvent(body: ErrorBody): void {
    const message: EventMessage = [MessageType.EVENT, ERROR_EVENT, body];
    this.handle.send(this.codec.encode(message), this.codec.binary);
  }

  #requestFailed(id: number, entry: MethodEntry, error: unknown, startedAt: number): void {
    if (isAppError(error)) {
      const body = error.data === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, data: error.data };
      this.#replyError(id, body, entry.series, startedAt);
      return;
    }
    logPeerCaused(log(), 'error', `method_failed:${entry.name}`, { err: error, conn: this.address, method: entry.name }, 'method handler failed; replied HANDLER_ERROR');
    this.#replyError(id, { code: ErrorCode.HANDLER_ERROR, message: INTERNAL_MESSAGE }, entry.series, startedAt);
  }

  #eventFailed(name: string, error: unknown): void {
    if (isAppError(error)) {
      this.#sendErrorEvent({ code: error.code, message: error.message, data: { event: name, ...(error.data === undefined ? {} : { detail: error.data }) } });
      return;
    }
    logPeerCaused(log(), 'error', `event_failed:${name}`, { err: error, conn: this.address, event: name }, 'event handler failed; sent HANDLER_ERROR');
    this.#sendErrorEvent({ code: ErrorCode.HANDLER_ERROR, message: INTERNAL_MESSAGE, data: { event: name } });
  }
}
