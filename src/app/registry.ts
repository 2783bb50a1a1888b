/**
 * The worker's connections that can be reached by address, and the one place
 * addresses are made and parsed. An address is "<workerId>.<localId>": the
 * worker's threadId and a local id that is never reused, so a layer that
 * routes `sendTo(address)` can tell a local address from one that lives on
 * another worker.
 */
import type { ConnectionAddress } from './types.ts';

/** Splits "<workerId>.<localId>"; null when the address is malformed. */
export function parseAddress(address: ConnectionAddress): { workerId: number; localId: number } | null {
  const dot = address.indexOf('.');
  if (dot <= 0) return null;
  const workerId = Number(address.slice(0, dot));
  const localId = Number(address.slice(dot + 1));
  if (!Number.isSafeInteger(workerId) || !Number.isSafeInteger(localId) || workerId < 0 || localId < 1) return null;
  return { workerId, localId };
}

/** Connections of one worker, keyed by their address. */
export class ConnectionRegistry<T> {
  /** The id of the worker this registry belongs to (its threadId). */
  readonly workerId: number;
  #nextId: number;
  #byAddress: Map<ConnectionAddress, T>;

  constructor(workerId: number) {
    this.workerId = workerId;
    this.#nextId = 1;
    this.#byAddress = new Map();
  }

  /** Number of registered connections. */
  get size(): number {
    return this.#byAddress.size;
  }

  /** A new address on this worker (never handed out before); `add()` the connection under it once it exists. */
  nextAddress(): ConnectionAddress {
    return `${this.workerId}.${this.#nextId++}`;
  }

  /** Registers a connection under an address from `nextAddress()`. */
  add(address: ConnectionAddress, connection: T): void {
    this.#byAddress.set(address, connection);
  }

  /** Forgets a connection; call when it has closed. */
  delete(address: ConnectionAddress): boolean {
    return this.#byAddress.delete(address);
  }

  /** The connection at an address on this worker, or undefined (gone, another worker's, or malformed). */
  get(address: ConnectionAddress): T | undefined {
    return this.#byAddress.get(address);
  }

  /** True when the address names this worker (whether or not the connection still exists). */
  isLocal(address: ConnectionAddress): boolean {
    return parseAddress(address)?.workerId === this.workerId;
  }

  /** Every registered connection, in registration order. */
  values(): IterableIterator<T> {
    return this.#byAddress.values();
  }
}
