/**
 * The Context that handlers get, for both kinds of connection: the Shoal
 * subprotocols (ProtocolSession extends it with the message dispatch) and
 * raw WebSocket connections (RawSession, codec `null`). It sends through the
 * connection's handle (and so through the actor's bounded send queue), and
 * reaches the worker's pub/sub and routing services.
 *
 * It also holds the flow control both sessions apply: a handler that
 * published while another worker or the broker was congested
 * (pubsub/forward-flow-control.ts) makes the session wait, before its next
 * message, until the fan-out has drained.
 */
import type { Codec, EventMessage } from '../codec/envelope.ts';
import { isValidName, MAX_NAME_LENGTH, MessageType } from '../codec/envelope.ts';
import { CloseCode } from '../protocol/constants.ts';
import { log, type Logger } from '../telemetry/logger.ts';
import type { Subscriber, SubscriberFormat } from './pubsub/local-subscriptions.ts';
import type { Routable } from './routing.ts';
import type { AppServices } from './services.ts';
import type { ConnectionAddress, ConnectionHandle, Context, FrameWriter } from './types.ts';

/** Thrown for a name that would make an invalid envelope (the client would fail the connection with 1007). */
export function checkName(name: string, what: string): void {
  // spec §3: names are strings of 1..256 UTF-16 code units.
  if (!isValidName(name)) throw new TypeError(`${what} must be a string of 1..${MAX_NAME_LENGTH} characters`);
}

/** Thrown by the Context methods that only exist on the Shoal subprotocols. */
export class SubprotocolRequiredError extends Error {
  constructor(method: string) {
    super(`ctx.${method}() requires the Shoal subprotocol; this connection negotiated none (use ctx.sendRaw)`);
    this.name = 'SubprotocolRequiredError';
  }
}

/**
 * One connection's Context. Also the connection's entry in the worker's
 * pub/sub and routing tables (Subscriber, Routable), so a connection costs
 * one object. `Format` is the connection's Shoal codec, or `null` for a raw
 * connection, which receives publications as raw messages.
 */
export class ShoalContext<State = Record<string, unknown>, Format extends SubscriberFormat = SubscriberFormat>
  implements Context<State>, Subscriber, Routable
{
  readonly address: ConnectionAddress;
  readonly protocol: string | null;
  readonly upgradeData: unknown;
  state: State;
  readonly handle: ConnectionHandle;
  readonly writer: FrameWriter;
  readonly codec: Format;
  /** Topics this connection is subscribed to (maintained by PubSub). */
  readonly topics: Set<string>;
  readonly services: AppServices;
  readonly maxSubscriptions: number;
  /**
   * A publish() of the current message's handler found another worker or the
   * broker congested; the session then waits for the fan-out to drain
   * (`afterFanOut`, `drained`), and clears the flag at each message.
   */
  publishedWhileCongested: boolean;
  /** `log`, once asked for. */
  #log: Logger | null;

  constructor(handle: ConnectionHandle, codec: Format, services: AppServices, maxSubscriptions: number) {
    this.address = handle.address;
    this.protocol = handle.protocol;
    this.upgradeData = handle.upgradeData;
    this.state = {} as State;
    this.handle = handle;
    this.writer = handle.frameWriter;
    this.codec = codec;
    this.topics = new Set();
    this.services = services;
    this.maxSubscriptions = maxSubscriptions;
    this.publishedWhileCongested = false;
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

  /** Send an event to this connection. Throws when `data` cannot be encoded, and SubprotocolRequiredError on a raw connection. */
  send(event: string, data?: unknown): void {
    const codec = this.codec;
    if (codec === null) throw new SubprotocolRequiredError('send');
    checkName(event, 'event name');
    const message: EventMessage = [MessageType.EVENT, event, data];
    this.handle.send(codec.encode(message), codec.binary);
  }

  /** Send one raw WebSocket message; a subprotocol client sees it as a message outside the envelope. */
  sendRaw(data: Uint8Array | string, isBinary: boolean = typeof data !== 'string'): void {
    this.handle.send(data, isBinary);
  }

  /** Send an event to a connection on any worker or node (a raw one receives `data` alone); false when the address is malformed or a local one has gone. */
  sendTo(address: ConnectionAddress, event: string, data?: unknown): boolean {
    checkName(event, 'event name');
    return this.services.router.sendTo(address, event, data);
  }

  /**
   * Publish to every subscriber of `topic` on every worker and node: raw
   * subscribers get `data` as one message (bytes binary, a string text,
   * `isBinary` overrides; other values as JSON text), subprotocol ones
   * `[4, topic, data]` (pubsub/raw-message.ts); a raw connection publishes
   * a string or bytes in the raw form. Returns the number of local
   * subscribers written to. Throws AppError OVERLOADED when another worker
   * or the broker is too far behind, BROKER_UNAVAILABLE when the broker is
   * not connected (docs/subprotocol.md §7).
   */
  publish(topic: string, data?: unknown, isBinary?: boolean): number {
    checkName(topic, 'topic');
    const pubsub = this.services.pubsub;
    const written = pubsub.publish(topic, data, isBinary, this.codec === null);
    if (pubsub.congested) this.publishedWhileCongested = true;
    return written;
  }

  /**
   * Subscribe this connection to a topic. The returned promise resolves when
   * every worker (and the broker) has acknowledged (docs/subprotocol.md §7);
   * handlers may ignore it. Throws past `maxSubscriptions`.
   */
  subscribe(topic: string): Promise<void> {
    checkName(topic, 'topic');
    if (!this.topics.has(topic) && this.topics.size >= this.maxSubscriptions) {
      throw new RangeError(`connection ${this.address} already holds ${this.maxSubscriptions} subscriptions`);
    }
    return this.services.pubsub.subscribe(this, topic);
  }

  /** Unsubscribe this connection from a topic; false when it was not subscribed. */
  unsubscribe(topic: string): boolean {
    return this.services.pubsub.unsubscribe(this, topic);
  }

  /** Start the closing handshake (RFC 6455 §7.1.2). */
  close(code: number = CloseCode.NORMAL_CLOSURE, reason: string = ''): void {
    this.handle.close(code, reason);
  }

  /**
   * Flow control (pubsub/forward-flow-control.ts), after a handler has run:
   * when it published while congested, a promise of the fan-out's drain
   * (the actor runs this connection's messages one at a time, and its
   * mailbox is bounded and stops reading the socket when full, so a
   * publisher cannot outrun the workers delivering its publications);
   * otherwise nothing, at once.
   */
  protected afterFanOut(): void | Promise<void> {
    if (!this.publishedWhileCongested) return;
    return this.drained();
  }

  /** Clears `publishedWhileCongested`; resolves when the fan-out has drained. */
  protected drained(): Promise<void> {
    this.publishedWhileCongested = false;
    return this.services.pubsub.whenDrained();
  }
}
