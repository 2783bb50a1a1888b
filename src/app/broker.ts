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
import type { BrokerState, BrokerStats, BrokerStatus } from '../telemetry/broker-stats.ts';
import type { PublicationForm } from './pubsub/deliver-publication.ts';

export { emptyBrokerStats, type BrokerState, type BrokerStats, type BrokerStatus } from '../telemetry/broker-stats.ts';

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

/** A copy of a broker's state and counters (for /stats, /healthz and the workers' reports); null without a broker. */
export function brokerStatus(broker: Broker | null): BrokerStatus | null {
  return broker === null ? null : { state: broker.state, ...broker.stats };
}
