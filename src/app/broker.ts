/**
 * The broker interface: how the workers of one node reach the other nodes
 * of a cluster (docs/deploy.md, "Running several nodes"). The pub/sub and
 * routing layers of a worker (pubsub/pubsub.ts, routing.ts) talk to one
 * Broker; the Redis implementation is redis-broker.ts, and a node without
 * `--broker` has none.
 *
 * What a Broker promises its callers:
 * - `interest(topic, on)`: the broker listens to the topic's publications
 *   from other nodes only while this worker has subscribers; the promise
 *   resolves once the broker has registered the interest (or at once while
 *   it is not connected: the interest is registered when it connects).
 * - `publish()`: a publication made in this worker, sent to the other
 *   nodes in publication order (per-publisher order holds across nodes). A
 *   node never receives its own publications back from the broker: its
 *   workers already delivered them (never twice to one connection).
 * - `admit()` before anything is sent: throws AppError BROKER_UNAVAILABLE
 *   while the broker is not connected, OVERLOADED when its outgoing buffer
 *   is full; `congested`/`whenDrained()` hold publishers as between workers.
 */
import type { PublicationForm } from './pubsub/deliver-publication.ts';

/** Where the broker connection is: connecting (first time), ready, reconnecting (after a loss or a stall), closed. */
export type BrokerState = 'connecting' | 'ready' | 'reconnecting' | 'closed';

/** Counters of one broker connection (plain fields, for /stats and metrics). */
export interface BrokerStats {
  /** Publications sent to the broker. */
  published: number;
  /** Publications received from other nodes. */
  received: number;
  /** Events (sendTo) sent to other nodes. */
  sentTo: number;
  /** Events (sendTo) received from other nodes. */
  receivedTo: number;
  /** Publications refused with BROKER_UNAVAILABLE (and sendTo calls refused) while not connected. */
  unavailable: number;
  /** Publications refused with OVERLOADED (outgoing buffer full). */
  overloaded: number;
  /** Times the connection was lost or found stalled (each is a gap in cross-node delivery). */
  gaps: number;
  /** Milliseconds spent without a ready connection after the first connection, summed over the gaps. */
  gapMs: number;
  /** Publications and events lost with a connection (sent, never acknowledged; not sent again: at most once). */
  lost: number;
  /** Topic subscriptions registered again after a reconnect. */
  resubscribed: number;
  /** Bytes sent to the broker and not yet acknowledged by it. */
  outgoingBytes: number;
}

export function emptyBrokerStats(): BrokerStats {
  return { published: 0, received: 0, sentTo: 0, receivedTo: 0, unavailable: 0, overloaded: 0, lost: 0, gaps: 0, gapMs: 0, resubscribed: 0, outgoingBytes: 0 };
}

/** What a broker hands to its worker. */
export interface BrokerReceiver {
  /** A publication of another node on a topic this worker is interested in. */
  publication(topic: string, form: PublicationForm, frame: Uint8Array): void;
  /** An event (msgpack of `[0, event, data]`) from another node for a connection of this worker. */
  event(address: string, payload: Uint8Array): void;
}

export interface Broker {
  /** This node's id: the first part of its connections' addresses ("<node>.<worker>.<local>"). */
  readonly nodeId: string;
  readonly state: BrokerState;
  readonly stats: BrokerStats;
  /** Set the receiver of what other nodes send to this worker. */
  listen(receiver: BrokerReceiver): void;
  /** This worker gained its first (`on`) or lost its last subscriber of a topic. */
  interest(topic: string, on: boolean): Promise<void>;
  /** Throws AppError BROKER_UNAVAILABLE or OVERLOADED when a publication cannot be sent to other nodes now. */
  admit(topic: string): void;
  /** Send a publication made in this worker (its frame in `form`) to the other nodes. */
  publish(topic: string, form: PublicationForm, frame: Uint8Array): void;
  /** Send an event to a connection of another node; false (nothing sent) while not connected. */
  sendTo(nodeId: string, workerId: number, address: string, payload: Uint8Array): boolean;
  /** True while the outgoing buffer is past its high-water mark. */
  readonly congested: boolean;
  /** Resolves when the outgoing buffer is back under half its high-water mark (at once when not congested). */
  whenDrained(): Promise<void>;
  close(): Promise<void>;
}
