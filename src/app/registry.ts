/**
 * The worker's connections that can be reached by address, and the one place
 * addresses are made and parsed. An address is "<workerId>.<localId>" on a
 * single node, and "<nodeId>.<workerId>.<localId>" when the node is part of
 * a cluster (`--broker`): the node's id (random per start, letters and
 * digits), the worker's threadId and a local id that is never reused, so a
 * layer that routes `sendTo(address)` can tell a local address from one that
 * lives on another worker or another node.
 */
import type { ConnectionAddress } from './types.ts';

/** The parts of an address; `nodeId` is null for a single-node address. */
export interface ParsedAddress {
  readonly nodeId: string | null;
  readonly workerId: number;
  readonly localId: number;
}

const NODE_ID = /^[0-9a-z]{1,32}$/;

/** True when `nodeId` can be the first part of an address. */
export function isValidNodeId(nodeId: string): boolean {
  return NODE_ID.test(nodeId);
}

/** "[<nodeId>.]<workerId>.<localId>": ids in decimal digits, the node id in lower-case letters and digits. */
const ADDRESS = /^(?:([0-9a-z]{1,32})\.)?(\d{1,15})\.(\d{1,15})$/;

/** Splits "[<nodeId>.]<workerId>.<localId>"; null when the address is malformed. */
export function parseAddress(address: ConnectionAddress): ParsedAddress | null {
  const match = typeof address === 'string' ? ADDRESS.exec(address) : null;
  if (match === null) return null;
  const localId = Number(match[3]);
  if (localId < 1) return null;
  return { nodeId: match[1] ?? null, workerId: Number(match[2]), localId };
}

/**
 * Connections of one worker, keyed by their address. The Map holds each
 * connection's index in an array, not the connection: a Map with one set and
 * one delete per connection rebuilds its table every few hundred connections,
 * and V8 leaves the old table with its entries in place; once the table is in
 * the old generation, those entries kept every connection they named alive
 * through the scavenges until the next mark-compact, so all of them were
 * promoted (a connection storm, bench/handshake-cost.ts, --trace-gc-nvp; see
 * src/transport/slot-list.ts). An old table now keeps small integers and the
 * address strings only; a deleted connection's array slot is refilled at once.
 */
export class ConnectionRegistry<T> {
  /** The id of the worker this registry belongs to (its threadId). */
  readonly workerId: number;
  /** The id of this worker's node in a cluster, or null on a single node. */
  readonly nodeId: string | null;
  #prefix: string;
  #nextId: number;
  /** Address -> index in #connections and #addresses. */
  readonly #slots: Map<ConnectionAddress, number>;
  readonly #connections: T[];
  readonly #addresses: ConnectionAddress[];

  constructor(workerId: number, nodeId: string | null = null) {
    if (nodeId !== null && !isValidNodeId(nodeId)) throw new RangeError(`node id ${JSON.stringify(nodeId)} must be 1..32 lower-case letters or digits`);
    this.workerId = workerId;
    this.nodeId = nodeId;
    this.#prefix = nodeId === null ? `${workerId}.` : `${nodeId}.${workerId}.`;
    this.#nextId = 1;
    this.#slots = new Map();
    this.#connections = [];
    this.#addresses = [];
  }

  /** Number of registered connections. */
  get size(): number {
    return this.#connections.length;
  }

  /** A new address on this worker (never handed out before); `add()` the connection under it once it exists. */
  nextAddress(): ConnectionAddress {
    return `${this.#prefix}${this.#nextId++}`;
  }

  /** Registers a connection under an address from `nextAddress()`. */
  add(address: ConnectionAddress, connection: T): void {
    const slot = this.#slots.get(address);
    if (slot !== undefined) {
      this.#connections[slot] = connection;
      return;
    }
    this.#slots.set(address, this.#connections.length);
    this.#connections.push(connection);
    this.#addresses.push(address);
  }

  /** Forgets a connection; call when it has closed. */
  delete(address: ConnectionAddress): boolean {
    const slot = this.#slots.get(address);
    if (slot === undefined) return false;
    this.#slots.delete(address);
    // The last connection moves into the hole.
    const connection = this.#connections.pop() as T;
    const last = this.#addresses.pop() as ConnectionAddress;
    if (slot < this.#connections.length) {
      this.#connections[slot] = connection;
      this.#addresses[slot] = last;
      this.#slots.set(last, slot);
    }
    return true;
  }

  /** The connection at an address on this worker, or undefined (gone, another worker's, or malformed). */
  get(address: ConnectionAddress): T | undefined {
    const slot = this.#slots.get(address);
    return slot === undefined ? undefined : this.#connections[slot];
  }

  /** True when the address names this worker (whether or not the connection still exists). */
  isLocal(address: ConnectionAddress): boolean {
    const parsed = parseAddress(address);
    return parsed !== null && parsed.workerId === this.workerId && parsed.nodeId === this.nodeId;
  }

  /** Every registered connection, in no particular order. */
  values(): IterableIterator<T> {
    return this.#connections.values();
  }
}
