/**
 * The Context that handlers of a Shoal-subprotocol connection get: sends
 * through the connection's handle (and so through the actor's bounded send
 * queue), and the worker's pub/sub and routing services.
 */
import type { Codec, EventMessage } from '../codec/envelope.ts';
import { isValidName, MAX_NAME_LENGTH, MessageType } from '../codec/envelope.ts';
import { CloseCode } from '../protocol/constants.ts';
import { log, type Logger } from '../telemetry/logger.ts';
import type { Subscriber } from './pubsub/local-subscriptions.ts';
import type { Routable } from './routing.ts';
import type { AppServices } from './services.ts';
import type { ConnectionAddress, ConnectionHandle, Context } from './types.ts';

/** Thrown for a name that would make an invalid envelope (the client would fail the connection with 1007). */
export function checkName(name: string, what: string): void {
  // spec §3: names are strings of 1..256 UTF-16 code units.
  if (!isValidName(name)) throw new TypeError(`${what} must be a string of 1..${MAX_NAME_LENGTH} characters`);
}

/**
 * One connection's Context. Also the connection's entry in the worker's
 * pub/sub and routing tables (Subscriber, Routable), so a connection costs
 * one object. ProtocolSession extends it with the message dispatch.
 */
export class ShoalContext<State = Record<string, unknown>> implements Context<State>, Subscriber, Routable {
  readonly address: ConnectionAddress;
  readonly protocol: string | null;
  readonly upgradeData: unknown;
  state: State;
  readonly handle: ConnectionHandle;
  readonly codec: Codec;
  /** Topics this connection is subscribed to (maintained by PubSub). */
  readonly topics: Set<string>;
  readonly services: AppServices;
  readonly maxSubscriptions: number;
  /**
   * A publish() of this connection found another worker congested
   * (pubsub/forward-flow-control.ts); ProtocolSession then holds the current answer until the
   * fan-out has drained, and clears the flag at each message.
   */
  publishedWhileCongested: boolean;
  /** `log`, once asked for. */
  #log: Logger | null;

  constructor(handle: ConnectionHandle, codec: Codec, services: AppServices, maxSubscriptions: number) {
    this.address = handle.address;
    this.protocol = handle.protocol;
    this.upgradeData = handle.upgradeData;
    this.state = {} as State;
    this.handle = handle;
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

  /** Send an event to this connection. Throws when `data` cannot be encoded. */
  send(event: string, data?: unknown): void {
    checkName(event, 'event name');
    const message: EventMessage = [MessageType.EVENT, event, data];
    this.handle.send(this.codec.encode(message), this.codec.binary);
  }

  /** Send one raw WebSocket message; the client will see it as a message outside the envelope. */
  sendRaw(data: Uint8Array | string, isBinary: boolean = typeof data !== 'string'): void {
    this.handle.send(data, isBinary);
  }

  /** Send an event to a connection on any worker; false when the address is malformed or a local one has gone. */
  sendTo(address: ConnectionAddress, event: string, data?: unknown): boolean {
    checkName(event, 'event name');
    return this.services.router.sendTo(address, event, data);
  }

  /**
   * Publish to every subscriber of `topic` on every worker; returns the number
   * of local subscribers written to. Throws AppError OVERLOADED when another
   * worker is too far behind (docs/subprotocol.md §7). `isBinary` only
   * matters to raw subscribers (pubsub/raw-message.ts).
   */
  publish(topic: string, data?: unknown, isBinary?: boolean): number {
    checkName(topic, 'topic');
    const pubsub = this.services.pubsub;
    const written = pubsub.publish(topic, data, isBinary);
    if (pubsub.congested) this.publishedWhileCongested = true;
    return written;
  }

  /**
   * Subscribe this connection to a topic. The returned promise resolves when
   * every worker has acknowledged (docs/subprotocol.md §7); handlers may
   * ignore it. Throws past `maxSubscriptions`.
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
}
