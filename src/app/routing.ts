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
import type { ConnectionAddress, ConnectionHandle } from './types.ts';
import type { BusMessage, WorkerBus, WorkerId } from './worker-bus.ts';

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

/** The worker id part of an address, or -1 when the address is malformed. */
export function addressWorkerId(address: ConnectionAddress): WorkerId {
  const dot = address.indexOf('.');
  if (dot <= 0 || dot === address.length - 1) return -1;
  const workerId = Number(address.slice(0, dot));
  return Number.isSafeInteger(workerId) && workerId >= 0 ? workerId : -1;
}

/** The event router of one worker. Register connections when they open, unregister when they close. */
export class Router {
  readonly stats: RouterStats;
  #bus: WorkerBus;
  #local: Map<ConnectionAddress, Routable>;

  constructor(bus: WorkerBus) {
    this.stats = { delivered: 0, forwarded: 0, dropped: 0 };
    this.#bus = bus;
    this.#local = new Map();
  }

  /** Make a connection reachable by its address. */
  register(target: Routable): void {
    this.#local.set(target.handle.address, target);
  }

  unregister(target: Routable): void {
    if (this.#local.get(target.handle.address) === target) this.#local.delete(target.handle.address);
  }

  /**
   * Send an event to an address on any worker. Returns false when the address
   * is malformed or names a local connection that has gone; true when the
   * event was written or handed to the worker that owns the address. Throws
   * when `data` cannot be encoded.
   */
  sendTo(address: ConnectionAddress, event: string, data: unknown): boolean {
    const workerId = addressWorkerId(address);
    if (workerId < 0) return false;
    const message: EventMessage = [MessageType.EVENT, event, data];
    if (workerId === this.#bus.workerId) {
      const target = this.#local.get(address);
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
    this.#bus.postTo(workerId, { t: 'to', address, payload });
    this.stats.forwarded++;
    return true;
  }

  /** Handle one message from the bus. Returns false for messages that are not about routing. */
  receive(message: BusMessage): boolean {
    if (message.t !== 'to') return false;
    const target = this.#local.get(message.address);
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
        console.error(`shoal: event for ${message.address} cannot be encoded for ${target.codec.protocol}:`, error);
        this.stats.dropped++;
        return true;
      }
    }
    this.stats.delivered++;
    return true;
  }
}
