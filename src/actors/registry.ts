/**
 * The worker's local connections by id. Addresses are "<workerId>.<localId>",
 * so a layer that routes `sendTo(address)` can tell a local address from one
 * that lives on another worker.
 */
import type { ConnectionAddress, ConnectionHandle } from '../app/types.ts';

/** Splits "<workerId>.<localId>"; null when the address is malformed. */
export function parseAddress(address: ConnectionAddress): { workerId: number; localId: number } | null {
  const dot = address.indexOf('.');
  if (dot <= 0) return null;
  const workerId = Number(address.slice(0, dot));
  const localId = Number(address.slice(dot + 1));
  if (!Number.isSafeInteger(workerId) || !Number.isSafeInteger(localId) || workerId < 0 || localId < 1) return null;
  return { workerId, localId };
}

/** Connections of one worker, keyed by a local id that is never reused. */
export class ConnectionRegistry<T extends ConnectionHandle = ConnectionHandle> {
  /** The id of the worker this registry belongs to (its threadId). */
  readonly workerId: number;
  #nextId: number;
  #byId: Map<number, T>;

  constructor(workerId: number) {
    this.workerId = workerId;
    this.#nextId = 1;
    this.#byId = new Map();
  }

  /** Number of registered connections. */
  get size(): number {
    return this.#byId.size;
  }

  /** Reserves the next local id and returns its address; `add()` it once the connection exists. */
  nextAddress(): { localId: number; address: ConnectionAddress } {
    const localId = this.#nextId++;
    return { localId, address: `${this.workerId}.${localId}` };
  }

  /** Registers a connection under a local id from `nextAddress()`. */
  add(localId: number, connection: T): void {
    this.#byId.set(localId, connection);
  }

  /** Forgets a connection; call when its socket has closed. */
  delete(localId: number): boolean {
    return this.#byId.delete(localId);
  }

  /** The connection at a local id or a full address on this worker, or undefined. */
  get(idOrAddress: number | ConnectionAddress): T | undefined {
    if (typeof idOrAddress === 'number') return this.#byId.get(idOrAddress);
    const parsed = parseAddress(idOrAddress);
    if (parsed === null || parsed.workerId !== this.workerId) return undefined;
    return this.#byId.get(parsed.localId);
  }

  /** True when the address names this worker (whether or not the connection still exists). */
  isLocal(address: ConnectionAddress): boolean {
    return parseAddress(address)?.workerId === this.workerId;
  }

  /** Every registered connection, in registration order. */
  values(): IterableIterator<T> {
    return this.#byId.values();
  }
}
