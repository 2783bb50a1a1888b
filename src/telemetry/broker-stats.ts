/**
 * What a broker connection counts of itself (app/broker.ts keeps them,
 * app/redis-broker.ts fills them), described here, below the app, because
 * they travel as telemetry: each worker puts its broker's state and counters
 * in its periodic report (worker-metrics.ts, WorkerGauges.broker), and the
 * primary serves them with its own connection's on /metrics
 * (server/metrics.ts) and /stats.
 */

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
  /** Messages from the broker this node could not decode (another format version, truncated), dropped and logged. */
  undecodable: number;
  /** Topic subscriptions registered again after a reconnect. */
  resubscribed: number;
  /** Bytes sent to the broker and not yet acknowledged by it. */
  outgoingBytes: number;
}

export function emptyBrokerStats(): BrokerStats {
  return { published: 0, received: 0, sentTo: 0, receivedTo: 0, unavailable: 0, overloaded: 0, lost: 0, undecodable: 0, gaps: 0, gapMs: 0, resubscribed: 0, outgoingBytes: 0 };
}

/** A broker connection's state and counters at one moment (a copy: it may cross threads). */
export interface BrokerStatus extends Readonly<BrokerStats> {
  readonly state: BrokerState;
}
