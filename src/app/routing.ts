/**
 * `sendTo(address, event, data)`: deliver an event to one connection of any
 * worker. An address is "<workerId>.<localId>"; a local one is written at
 * once, another worker's travels over the bus as msgpack bytes, straight to
 * that worker (never through the primary). Delivery is best effort, like a
 * datagram: an address whose connection has gone drops the event silently.
 * Events from one sender to one address arrive in the order they were sent.
 */
import type { Codec, EventMessage } from '../codec/envelope.ts';
import { MessageType } from '../codec/envelope.ts';
import { decodeMsgpack, encodeMsgpack, msgpackCodec } from '../codec/msgpack.ts';
import { log } from '../telemetry/logger.ts';
import { logPeerCaused } from '../telemetry/rate-limited-log.ts';
import { ConnectionRegistry, parseAddress } from './registry.ts';
import type { ConnectionAddress, ConnectionHandle } from './types.ts';
import type { BusMessage, WorkerBus } from './worker-bus.ts';

/** A connection that can receive events: its handle and its codec. */
export interface Routable {
  readonly handle: ConnectionHandle;
  readonly codec: Codec;
}

/** Counters for tests and metrics. */
export interface RouterStats {
  /** Events written to local connections (sent here or received from another worker). */
  delivered: number;
  /** Events posted to other workers. */
  forwarded: number;
  /** Events for an address whose connection has gone. */
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

  constructor(bus: WorkerBus, registry: ConnectionRegistry<Routable> = new ConnectionRegistry(bus.workerId)) {
    this.stats = { delivered: 0, forwarded: 0, dropped: 0 };
    this.registry = registry;
    this.#bus = bus;
  }

  /** Make a connection reachable by its address (one that this worker's registry handed out). */
  register(target: Routable): void {
    this.registry.add(target.handle.address, target);
  }

  unregister(target: Routable): void {
    if (this.registry.get(target.handle.address) === target) this.registry.delete(target.handle.address);
  }

  /**
   * Send an event to an address on any worker. Returns false when the address
   * is malformed or names a local connection that has gone; true when the
   * event was written or handed to the worker that owns the address. Throws
   * when `data` cannot be encoded.
   */
  sendTo(address: ConnectionAddress, event: string, data: unknown): boolean {
    const parsed = parseAddress(address);
    if (parsed === null) return false;
    const message: EventMessage = [MessageType.EVENT, event, data];
    if (parsed.workerId === this.#bus.workerId) {
      const target = this.registry.get(address);
      if (target === undefined) {
        this.stats.dropped++;
        return false;
      }
      const encoded = target.codec.encode(message);
      target.handle.send(encoded, target.codec.binary);
      this.stats.delivered++;
      return true;
    }
    // An exact-size copy: msgpackr's output is a view into a shared buffer that a clone would copy whole.
    const payload = new Uint8Array(encodeMsgpack(message));
    this.#bus.postTo(parsed.workerId, { t: 'to', address, payload });
    this.stats.forwarded++;
    return true;
  }

  /** Handle one message from the bus. Returns false for messages that are not about routing. */
  receive(message: BusMessage): boolean {
    if (message.t !== 'to') return false;
    const target = this.registry.get(message.address);
    if (target === undefined) {
      this.stats.dropped++;
      return true;
    }
    if (target.codec === msgpackCodec) {
      target.handle.send(message.payload, true);
    } else {
      try {
        target.handle.send(target.codec.encode(decodeMsgpack(message.payload) as EventMessage), target.codec.binary);
      } catch (error) {
        logPeerCaused(log(), 'warn', `event_unencodable:${target.codec.protocol}`, { err: error, conn: message.address, protocol: target.codec.protocol }, 'an event sent with sendTo cannot be encoded for its target; dropped');
        this.stats.dropped++;
        return true;
      }
    }
    this.stats.delivered++;
    return true;
  }
}
