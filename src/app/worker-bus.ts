/**
 * The app layer's messages between worker threads, in one place, and the bus
 * that carries them: one BroadcastChannel every worker listens on (control:
 * hello, bye, topic interest) and one per worker (directed: snapshots, acks,
 * publications, sendTo). The primary thread joins it only as a publisher
 * (`server.publish()`, `server.sendTo()`: src/server/host-publisher.ts).
 *
 * Payloads that reach clients travel as msgpack bytes (one exact-size
 * Uint8Array, copied once per receiving worker by the structured clone:
 * BroadcastChannel has no transfer list), so the receiving worker writes a
 * publication without encoding it again. Publications travel in batches, one
 * message per receiving worker per event-loop turn (pubsub/publication-batcher.ts).
 */
import { BroadcastChannel } from 'node:worker_threads';

/** A worker's id on the bus: its threadId, the first part of its connections' addresses. */
export type WorkerId = number;

/**
 * Control: a worker started (or restarted its services); every other worker
 * answers with a snapshot. Also sent directed, to a worker heard from again
 * after it was presumed gone, to learn its interest anew.
 */
export interface HelloMessage {
  readonly t: 'hello';
  readonly from: WorkerId;
}

/** Control: a worker stops; forget its interest. */
export interface ByeMessage {
  readonly t: 'bye';
  readonly from: WorkerId;
}

/** Control: `from` gained its first (`on`) or lost its last local subscriber of `topic`. */
export interface InterestMessage {
  readonly t: 'interest';
  readonly from: WorkerId;
  readonly topic: string;
  readonly on: boolean;
  /** Per-sender sequence number, echoed in the ack. */
  readonly seq: number;
}

/** Directed: the topics the sender has local subscribers for (answer to hello). */
export interface SnapshotMessage {
  readonly t: 'snapshot';
  readonly from: WorkerId;
  readonly topics: readonly string[];
}

/** Directed: the sender has applied interest message `seq` of the receiver. */
export interface AckMessage {
  readonly t: 'ack';
  readonly from: WorkerId;
  readonly seq: number;
}

/**
 * Directed: the publications of one event-loop turn for the receiver, each a
 * complete frame back to back: the msgpack frame of `[4, topic, data]` or,
 * for a raw publication, the raw frame (pubsub/deliver-publication.ts, PublicationForm).
 */
export interface PublishMessage {
  readonly t: 'pub';
  readonly from: WorkerId;
  /** Per-sender, per-receiver batch number, echoed in the acknowledgement. */
  readonly seq: number;
  /** The topic of each frame, in order. */
  readonly topics: readonly string[];
  /** The PublicationForm of each frame, in order. */
  readonly forms: Uint8Array;
  /** End offset of each frame in `frames` (the first starts at 0). */
  readonly ends: readonly number[];
  readonly frames: Uint8Array;
  /** When the batch's first publication was made: epoch milliseconds, sub-millisecond (telemetry/worker-metrics.ts epochNow). */
  readonly at: number;
}

/** Directed: the sender has written batch `seq` (`bytes` long) of the receiver to its subscribers. */
export interface PublishAckMessage {
  readonly t: 'pubAck';
  readonly from: WorkerId;
  readonly seq: number;
  readonly bytes: number;
}

/** Directed: an event for one local connection, as msgpack of `[0, event, data]`. */
export interface SendToMessage {
  readonly t: 'to';
  readonly address: string;
  readonly payload: Uint8Array;
}

export type BusMessage =
  | HelloMessage
  | ByeMessage
  | InterestMessage
  | SnapshotMessage
  | AckMessage
  | PublishMessage
  | PublishAckMessage
  | SendToMessage;

/** What the pub/sub and routing layers need from the threads around them (a fake in unit tests). */
export interface WorkerBus {
  readonly workerId: WorkerId;
  /** Send to every other worker. */
  broadcast(message: BusMessage): void;
  /** Send to one worker; dropped when no such worker listens. */
  postTo(workerId: WorkerId, message: BusMessage): void;
  /** Set the receiver of every message addressed to this worker (broadcast or directed). */
  listen(receiver: (message: BusMessage) => void): void;
  /** Release what is kept for sending to a worker that has gone. */
  forget(workerId: WorkerId): void;
  /** Stop listening and release the channels. */
  close(): void;
}

/**
 * The worker_threads implementation. Channel names carry the server's
 * namespace, so two servers in one process never hear each other. Channels
 * are unref'd: the bus never keeps a worker alive.
 */
export class BroadcastChannelBus implements WorkerBus {
  readonly workerId: WorkerId;
  #namespace: string;
  #control: BroadcastChannel;
  #inbox: BroadcastChannel;
  /** Channels to other workers, opened on first use and kept (one per worker; a worker's id is never reused in a process). */
  #outboxes: Map<WorkerId, BroadcastChannel>;

  constructor(namespace: string, workerId: WorkerId) {
    this.workerId = workerId;
    this.#namespace = namespace;
    this.#control = new BroadcastChannel(`${namespace}.control`);
    this.#control.unref();
    this.#inbox = new BroadcastChannel(`${namespace}.worker.${workerId}`);
    this.#inbox.unref();
    this.#outboxes = new Map();
  }

  broadcast(message: BusMessage): void {
    this.#control.postMessage(message);
  }

  postTo(workerId: WorkerId, message: BusMessage): void {
    let channel = this.#outboxes.get(workerId);
    if (channel === undefined) {
      channel = new BroadcastChannel(`${this.#namespace}.worker.${workerId}`);
      channel.unref();
      this.#outboxes.set(workerId, channel);
    }
    // Everything to one worker goes through this one channel object: delivery order is send order.
    channel.postMessage(message);
  }

  listen(receiver: (message: BusMessage) => void): void {
    const onMessage = (event: unknown): void => receiver((event as { data: BusMessage }).data);
    this.#control.onmessage = onMessage;
    this.#inbox.onmessage = onMessage;
  }

  /** Forget the channel to a worker that said bye. */
  forget(workerId: WorkerId): void {
    this.#outboxes.get(workerId)?.close();
    this.#outboxes.delete(workerId);
  }

  close(): void {
    this.#control.close();
    this.#inbox.close();
    for (const channel of this.#outboxes.values()) channel.close();
    this.#outboxes.clear();
  }
}
