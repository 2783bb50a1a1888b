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

/** Connections of one worker, keyed by their address. */
export class ConnectionRegistry<T> {
  /** The id of the worker this registry belongs to (its threadId). */
  readonly workerId: number;
  /** The id of this worker's node in a cluster, or null on a single node. */
  readonly nodeId: string | null;
  #prefix: string;
  #nextId: number;
  #byAddress: Map<ConnectionAddress, T>;

  constructor(workerId: number, nodeId: string | null = null) {
    if (nodeId !== null && !isValidNodeId(nodeId)) throw new RangeError(`node id ${JSON.stringify(nodeId)} must be 1..32 lower-case letters or digits`);
    this.workerId = workerId;
    this.nodeId = nodeId;
    this.#prefix = nodeId === null ? `${workerId}.` : `${nodeId}.${workerId}.`;
    this.#nextId = 1;
    this.#byAddress = new Map();
  }

  /** Number of registered connections. */
  get size(): number {
    return this.#byAddress.size;
  }

  /** A new address on this worker (never handed out before); `add()` the connection under it once it exists. */
  nextAddress(): ConnectionAddress {
    return `${this.#prefix}${this.#nextId++}`;
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
    const parsed = parseAddress(address);
    return parsed !== null && parsed.workerId === this.workerId && parsed.nodeId === this.nodeId;
  }

  /** Every registered connection, in registration order. */
  values(): IterableIterator<T> {
    return this.#byAddress.values();
  }
}
