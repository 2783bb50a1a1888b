/**
 * The session of a connection that negotiated no Shoal subprotocol: raw
 * WebSocket messages go to the app's `onMessage`. Text messages arrive as a
 * Buffer holding valid UTF-8 with `isBinary` false (as in ws 8): no string is
 * made unless the app asks for one with `data.toString()`.
 *
 * Raw connections take part in pub/sub (`ctx.subscribe`, `ctx.publish`, as
 * `ws.subscribe`/`ws.publish` in uWebSockets.js) and can be reached with
 * `sendTo`: what they receive is the published data itself as one message
 * (pubsub/raw-message.ts, docs/subprotocol.md §7). A message whose handler
 * published while another worker or the broker was congested holds this
 * connection's next messages until the fan-out has drained, as on the
 * subprotocols (pubsub/forward-flow-control.ts).
 */
import type { Subscriber } from './pubsub/local-subscriptions.ts';
import { checkName } from './context.ts';
import { DEFAULT_LIMITS } from './protocol-session.ts';
import { CloseCode } from '../protocol/constants.ts';
import type { Routable } from './routing.ts';
import type { AppServices } from './services.ts';
import { isThenable } from './is-thenable.ts';
import { log, type Logger } from '../telemetry/logger.ts';
import type { App, ConnectionAddress, ConnectionHandle, Context, Session } from './types.ts';

/** Thrown by the Context methods that only exist on the Shoal subprotocols. */
export class SubprotocolRequiredError extends Error {
  constructor(method: string) {
    super(`ctx.${method}() requires the Shoal subprotocol; this connection negotiated none (use ctx.sendRaw)`);
    this.name = 'SubprotocolRequiredError';
  }
}

/**
 * Session and Context in one object, to keep one allocation per connection
 * (memory per idle connection matters more than the tidiness of two objects);
 * also the connection's entry in the pub/sub and routing tables.
 */
export class RawSession implements Session, Context, Subscriber, Routable {
  readonly address: ConnectionAddress;
  readonly protocol: string | null;
  readonly upgradeData: unknown;
  state: Record<string, unknown>;
  readonly handle: ConnectionHandle;
  /** Raw connections have no Shoal codec: they receive publications as raw messages. */
  readonly codec: null;
  /** Topics this connection is subscribed to (maintained by PubSub). */
  readonly topics: Set<string>;
  #app: App;
  #services: AppServices;
  /** A publish() of this message's handler found another worker or the broker congested. */
  #publishedWhileCongested: boolean;
  #log: Logger | null;

  constructor(app: App, handle: ConnectionHandle, services: AppServices) {
    this.address = handle.address;
    this.protocol = handle.protocol;
    this.upgradeData = handle.upgradeData;
    this.state = {};
    this.handle = handle;
    this.codec = null;
    this.topics = new Set();
    this.#app = app;
    this.#services = services;
    this.#publishedWhileCongested = false;
    this.#log = null;
  }

  /** The worker's logger bound to this connection (a pino child, made on first use). */
  get log(): Logger {
    this.#log ??= log().child({ conn: this.address, peer: this.handle.remoteAddress });
    return this.#log;
  }

  /** The client's IP address (a getter: read from the connection only when asked). */
  get remoteAddress(): string {
    return this.handle.remoteAddress;
  }

  onOpen(): unknown {
    this.#services.router.register(this);
    return this.#app.onOpen?.(this);
  }

  onMessage(data: Buffer, isBinary: boolean): unknown {
    this.#publishedWhileCongested = false;
    const result = this.#app.onMessage?.(this, data, isBinary);
    if (!isThenable(result)) return this.#afterFanOut();
    return result.then(() => this.#afterFanOut());
  }

  onClose(code: number, reason: string): unknown {
    this.#services.pubsub.unsubscribeAll(this);
    this.#services.router.unregister(this);
    return this.#app.onClose?.(this, code, reason);
  }

  sendRaw(data: Uint8Array | string, isBinary: boolean = typeof data !== 'string'): void {
    this.handle.send(data, isBinary);
  }

  close(code: number = CloseCode.NORMAL_CLOSURE, reason: string = ''): void {
    this.handle.close(code, reason);
  }

  send(_event: string, _data?: unknown): void {
    throw new SubprotocolRequiredError('send');
  }

  /** Send an event to a connection on any worker or node (a raw one receives `data` alone). */
  sendTo(address: ConnectionAddress, event: string, data?: unknown): boolean {
    checkName(event, 'event name');
    return this.#services.router.sendTo(address, event, data);
  }

  /**
   * Publish to every subscriber of `topic` on every worker and node: raw
   * subscribers get `data` as one message (bytes binary, a string text,
   * `isBinary` overrides; other values as JSON text), subprotocol ones
   * `[4, topic, data]`. Returns the number of local subscribers written to.
   */
  publish(topic: string, data: unknown, isBinary?: boolean): number {
    checkName(topic, 'topic');
    const pubsub = this.#services.pubsub;
    const written = pubsub.publish(topic, data, isBinary, true);
    if (pubsub.congested) this.#publishedWhileCongested = true;
    return written;
  }

  /** Subscribe this connection to a topic; resolves when every worker (and the broker) knows. Throws past the subscription limit. */
  subscribe(topic: string): Promise<void> {
    checkName(topic, 'topic');
    const max = this.#app.limits?.maxSubscriptions ?? DEFAULT_LIMITS.maxSubscriptions;
    if (!this.topics.has(topic) && this.topics.size >= max) {
      throw new RangeError(`connection ${this.address} already holds ${max} subscriptions`);
    }
    return this.#services.pubsub.subscribe(this, topic);
  }

  /** Unsubscribe this connection from a topic; false when it was not subscribed. */
  unsubscribe(topic: string): boolean {
    return this.#services.pubsub.unsubscribe(this, topic);
  }

  /** Flow control: the next message waits until the fan-out of what this one published has drained. */
  #afterFanOut(): void | Promise<void> {
    if (!this.#publishedWhileCongested) return;
    this.#publishedWhileCongested = false;
    return this.#services.pubsub.whenDrained();
  }
}
