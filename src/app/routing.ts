/**
 * `sendTo(address, event, data)`: deliver an event to one connection of any
 * worker, or of any node with a broker. An address is
 * "[<nodeId>.]<workerId>.<localId>" (registry.ts); a local one is written at
 * once, another worker's travels over the bus as msgpack bytes, straight to
 * that worker (never through the primary), another node's through the
 * broker to that node's worker. Delivery is best effort, like a datagram: an
 * address whose connection has gone drops the event silently. Events from
 * one sender to one address arrive in the order they were sent, and after
 * the publications the sending worker made before them (those to another
 * worker are posted first: PubSub.postTo).
 *
 * A raw connection (no subprotocol) receives the event's `data` alone, as
 * one message, the way it receives a publication (pubsub/raw-message.ts);
 * the event name is not sent.
 */
import type { Codec, EventMessage } from '../codec/envelope.ts';
import { MessageType } from '../codec/envelope.ts';
import { decodeMsgpack, encodeMsgpack, msgpackCodec } from '../codec/msgpack.ts';
import type { Broker } from './broker.ts';
import { encodeRawFrame } from './pubsub/raw-message.ts';
import { log } from '../telemetry/logger.ts';
import { logPeerCaused } from '../telemetry/rate-limited-log.ts';
import { ConnectionRegistry, parseAddress } from './registry.ts';
import type { ConnectionAddress, ConnectionHandle } from './types.ts';
import type { BusMessage, WorkerBus, WorkerId } from './worker-bus.ts';

/** A connection that can receive events: its handle and its codec (null: a raw connection). */
export interface Routable {
  readonly handle: ConnectionHandle;
  readonly codec: Codec | null;
}

/** Counters for tests and metrics. */
export interface RouterStats {
  /** Events written to local connections (sent here or received from another worker or node). */
  delivered: number;
  /** Events posted to other workers or nodes. */
  forwarded: number;
  /** Events for an address whose connection has gone, or that could not be encoded for it. */
  dropped: number;
}

/**
 * The event router of one worker. Register connections when they open,
 * unregister when they close; they live in the worker's one registry, which
 * also hands out their addresses.
 */
export class Router {
  readonly stats: RouterStats;
  /** The worker's connections that can receive events, by address. */
  readonly registry: ConnectionRegistry<Routable>;
  #bus: WorkerBus;
  #broker: Broker | null;
  #post: (workerId: WorkerId, message: BusMessage) => void;

  /**
   * `post` sends an event to another worker; createAppServices gives the
   * pub/sub's `postTo`, which posts this turn's publications for that worker
   * first, so that an event does not overtake publications made before it.
   */
  constructor(
    bus: WorkerBus,
    broker: Broker | null = null,
    registry: ConnectionRegistry<Routable> = new ConnectionRegistry(bus.workerId, broker?.nodeId ?? null),
    post: (workerId: WorkerId, message: BusMessage) => void = (workerId, message) => bus.postTo(workerId, message),
  ) {
    this.stats = { delivered: 0, forwarded: 0, dropped: 0 };
    this.registry = registry;
    this.#bus = bus;
    this.#broker = broker;
    this.#post = post;
  }

  /** Make a connection reachable by its address (one that this worker's registry handed out). */
  register(target: Routable): void {
    this.registry.add(target.handle.address, target);
  }

  unregister(target: Routable): void {
    if (this.registry.get(target.handle.address) === target) this.registry.delete(target.handle.address);
  }

  /**
   * Send an event to an address on any worker or node. Returns false when the
   * address is malformed, names a local connection that has gone, or another
   * node while the broker is not connected (or there is no broker); true when
   * the event was written or handed to the worker or broker that reaches the
   * address. Throws when `data` cannot be encoded.
   */
  sendTo(address: ConnectionAddress, event: string, data: unknown): boolean {
    const parsed = parseAddress(address);
    if (parsed === null) return false;
    const message: EventMessage = [MessageType.EVENT, event, data];
    const broker = this.#broker;
    if (parsed.nodeId !== (broker?.nodeId ?? null)) {
      if (broker === null) return false;
      if (!broker.sendTo(parsed.nodeId as string, parsed.workerId, address, new Uint8Array(encodeMsgpack(message)))) return false;
      this.stats.forwarded++;
      return true;
    }
    if (parsed.workerId === this.#bus.workerId) {
      const target = this.registry.get(address);
      if (target === undefined) {
        this.stats.dropped++;
        return false;
      }
      if (target.codec === null) target.handle.sendFrame(encodeRawFrame(data));
      else target.handle.send(target.codec.encode(message), target.codec.binary);
      this.stats.delivered++;
      return true;
    }
    // An exact-size copy: msgpackr's output is a view into a shared buffer that a clone would copy whole.
    const payload = new Uint8Array(encodeMsgpack(message));
    this.#post(parsed.workerId, { t: 'to', address, payload });
    this.stats.forwarded++;
    return true;
  }

  /** Handle one message from the bus. Returns false for messages that are not about routing. */
  receive(message: BusMessage): boolean {
    if (message.t !== 'to') return false;
    this.receiveEvent(message.address, message.payload);
    return true;
  }

  /** Bound once: an event (msgpack of `[0, event, data]`) for a connection of this worker, from another worker or node. */
  readonly receiveEvent = (address: ConnectionAddress, payload: Uint8Array): void => {
    const target = this.registry.get(address);
    if (target === undefined) {
      this.stats.dropped++;
      return;
    }
    if (target.codec === msgpackCodec) {
      target.handle.send(payload, true);
    } else {
      try {
        const message = decodeMsgpack(payload) as EventMessage;
        if (target.codec === null) target.handle.sendFrame(encodeRawFrame(message[2]));
        else target.handle.send(target.codec.encode(message), target.codec.binary);
      } catch (error) {
        logPeerCaused(log(), 'warn', `event_unencodable:${target.codec?.protocol ?? 'raw'}`, { err: error, conn: address, protocol: target.codec?.protocol ?? null }, 'an event sent with sendTo cannot be encoded for its target; dropped');
        this.stats.dropped++;
        return;
      }
    }
    this.stats.delivered++;
  };
}
