/**
 * Topic subscriptions of one worker and the fan-out of publications across
 * workers: the facade that wires the interest table (local-subscriptions.ts,
 * worker-interest.ts, interest-announcer.ts), local delivery
 * (deliver-publication.ts), batching per event-loop turn
 * (publication-batcher.ts) and cross-worker flow control
 * (forward-flow-control.ts), and routes the pub/sub messages of the bus to
 * them.
 *
 * A publication is written at once to the local subscribers (the turn's
 * next ones to the same topic with it, as one batch: topic-batch.ts), and forwarded
 * as one frame (its msgpack envelope, or its raw frame for a raw publisher:
 * deliver-publication.ts) only to the workers that announced interest in
 * its topic (the receiving worker writes it as is to the subscribers of that
 * format), and, with a broker, to the other nodes (broker.ts): the broker
 * delivers another node's publications to this worker's subscribers only,
 * every interested worker having its own interest registered there.
 *
 * Guarantees (docs/subprotocol.md §7):
 * - Each subscriber receives a publication at most once (a connection is in
 *   a topic's set once), and publications from one publisher arrive in the
 *   order they were published (same worker: synchronous writes in order;
 *   other workers: one channel per pair of workers, batches in order, and
 *   every other directed message to a worker posted after its pending batch).
 * - `subscribe()` resolves once every worker this worker knows of has
 *   acknowledged the interest. Any publication made on any worker after that
 *   (for instance, after the client got its `$subscribe` reply) reaches the
 *   subscriber. Publications already in flight when the interest was
 *   announced may or may not arrive. A worker that does not acknowledge
 *   within `confirmTimeoutMs` is presumed gone and not waited for again until
 *   it is heard from.
 * - A worker that acknowledges no publication for `ackTimeoutMs` while it
 *   has a backlog is presumed gone: its interest is forgotten and nobody
 *   waits for it; if it speaks again it is asked for its interest anew.
 */
import type { Broker } from '../broker.ts';
import { observeSince, startedNow } from '../../telemetry/read-clock.ts';
import { epochNow, workerHistograms } from '../../telemetry/worker-metrics.ts';
import type { BusMessage, PublishMessage, WorkerBus, WorkerId } from '../worker-bus.ts';
import { framePublication, frameReceivedPublication, type PublicationForm } from './deliver-publication.ts';
import { ForwardFlowControl } from './forward-flow-control.ts';
import { InterestAnnouncer } from './interest-announcer.ts';
import { LocalSubscriptions, type Subscriber } from './local-subscriptions.ts';
import { forEachBatchedPublication, PublicationBatcher } from './publication-batcher.ts';
import { closeTopicBatch, deliverInTurn } from './topic-batch.ts';
import { WorkerInterest } from './worker-interest.ts';

export interface PubSubOptions {
  /** Longest wait for other workers to acknowledge a new interest before `subscribe()` resolves anyway. */
  readonly confirmTimeoutMs: number;
  /** Backlog (forwarded bytes not yet acknowledged) of one worker past which publishers are held. */
  readonly forwardHighWaterBytes: number;
  /** Backlog of one worker at which `publish()` throws OVERLOADED. */
  readonly forwardMaxBytes: number;
  /** A worker with a backlog that acknowledges nothing for this long is presumed gone. */
  readonly ackTimeoutMs: number;
  /**
   * Runs `flush` once the current event-loop turn's work is done (setImmediate; tests substitute their own): the
   * batches to other workers, and the close of a topic's batch (topic-batch.ts) where no socket's turn end does it.
   */
  readonly scheduleFlush: (flush: () => void) => void;
}

/**
 * 64 KiB of backlog is about a thousand 60-byte publications: enough for
 * batches to keep flowing between acknowledgements (broadcast 4 -> 100 with
 * 32 in flight per publisher posts under 8 KiB per turn), little enough to
 * bound what a congested worker adds to delivery latency: with 50
 * subscribers there, 50k deliveries, under 0.1 s at the ~600k deliveries/s
 * measured with 2 workers (4x that at 256 KiB).
 */
export const DEFAULT_PUBSUB_OPTIONS: PubSubOptions = {
  confirmTimeoutMs: 1000,
  forwardHighWaterBytes: 64 * 1024,
  forwardMaxBytes: 16 * 1024 * 1024,
  ackTimeoutMs: 5000,
  scheduleFlush: (flush) => setImmediate(flush),
};

/** Fan-out and write-delay series (telemetry/metric-definitions.ts). */
const localFanout = workerHistograms.fanout.series('local');
const forwardedFanout = workerHistograms.fanout.series('forwarded');
const localWriteDelay = workerHistograms.writeDelay.series('local');
const forwardedWriteDelay = workerHistograms.writeDelay.series('forwarded');

/** Counters for tests and metrics. */
export interface PubSubStats {
  /** publish() calls that found at least one subscriber somewhere. */
  published: number;
  /** Frames written to local subscribers. */
  delivered: number;
  /** Publications forwarded to other workers (one per interested worker). */
  forwarded: number;
  /** Batches posted to other workers. */
  batches: number;
  /** Publications received from other workers. */
  received: number;
  /** publish() calls refused with OVERLOADED. */
  overloaded: number;
  /** Workers presumed gone because they stopped acknowledging publications. */
  stalls: number;
  /** Deliveries left out because the data could not be encoded for a subscriber's format (logged). */
  undeliverable: number;
}

/**
 * The pub/sub state of one worker. Create one per worker, feed it every bus
 * message with `receive()`, call `start()` once to introduce this worker,
 * and `stop()` when the worker ends.
 */
export class PubSub {
  readonly stats: PubSubStats;
  #bus: WorkerBus;
  #local: LocalSubscriptions;
  #remote: WorkerInterest;
  #announcer: InterestAnnouncer;
  #flowControl: ForwardFlowControl;
  #batcher: PublicationBatcher;
  /** The cluster broker, or null on a single node. */
  #broker: Broker | null;
  /** Broker registrations of new interest not confirmed yet, by topic. */
  #brokerPending: Map<string, Promise<void>>;
  #stopped: boolean;
  /** Closes a topic's batch at the end of the turn at the latest (topic-batch.ts). */
  #scheduleClose: (close: () => void) => void;

  constructor(bus: WorkerBus, options: Partial<PubSubOptions> = {}, broker: Broker | null = null) {
    const resolved: PubSubOptions = { ...DEFAULT_PUBSUB_OPTIONS, ...options };
    this.stats = { published: 0, delivered: 0, forwarded: 0, batches: 0, received: 0, overloaded: 0, stalls: 0, undeliverable: 0 };
    this.#bus = bus;
    this.#broker = broker;
    this.#brokerPending = new Map();
    this.#local = new LocalSubscriptions();
    this.#remote = new WorkerInterest();
    this.#announcer = new InterestAnnouncer(bus, resolved.confirmTimeoutMs, (workerId) => this.#remote.silent(workerId));
    this.#flowControl = new ForwardFlowControl(resolved, this.stats, (workerId) => {
      this.#remote.presumeGone(workerId);
      this.#forgetWorker(workerId);
    });
    this.#batcher = new PublicationBatcher(bus, this.stats, resolved.scheduleFlush, (workerId, bytes) => this.#flowControl.posted(workerId, bytes));
    this.#stopped = false;
    this.#scheduleClose = resolved.scheduleFlush;
  }

  /** Introduce this worker: every other worker answers with its interest snapshot. */
  start(): void {
    this.#bus.broadcast({ t: 'hello', from: this.#bus.workerId });
  }

  /** Post what is batched, tell the others this worker is leaving, and release every wait. */
  stop(): void {
    closeTopicBatch();
    this.#batcher.flush();
    this.#stopped = true;
    this.#bus.broadcast({ t: 'bye', from: this.#bus.workerId });
    this.#announcer.settleAll();
    this.#batcher.forgetAll();
    this.#flowControl.forgetAll();
  }

  /** Number of local subscribers of a topic. */
  subscriberCount(topic: string): number {
    return this.#local.count(topic);
  }

  /** Other workers known to have subscribers of a topic. */
  interestedWorkers(topic: string): WorkerId[] {
    return [...(this.#remote.workersFor(topic) ?? [])];
  }

  /** Other workers this one knows of. */
  knownWorkers(): WorkerId[] {
    return [...this.#remote.known];
  }

  /** Bytes forwarded to a worker and not acknowledged yet (including this turn's batch). */
  backlog(workerId: WorkerId): number {
    return this.#flowControl.backlog(workerId);
  }

  /** The cluster broker, or null on a single node. */
  get broker(): Broker | null {
    return this.#broker;
  }

  /** Bytes forwarded to all other workers and not acknowledged yet (the worker's report). */
  get backlogBytes(): number {
    return this.#flowControl.totalBacklog;
  }

  /** True while some worker's backlog is past `forwardHighWaterBytes` (and not yet back under half of it), or the broker's outgoing buffer is. */
  get congested(): boolean {
    return this.#flowControl.congested || this.#broker?.congested === true;
  }

  /** Resolves when no worker is congested, nor the broker (at once when none is). Never rejects. */
  whenDrained(): Promise<void> {
    const broker = this.#broker;
    if (broker === null || !broker.congested) return this.#flowControl.whenDrained();
    return Promise.all([this.#flowControl.whenDrained(), broker.whenDrained()]).then(() => {});
  }

  /**
   * Subscribe a connection to a topic (idempotent). Takes effect at once for
   * publications from this worker; the promise resolves when the other
   * workers have acknowledged (see the guarantees at the top of this file).
   */
  subscribe(subscriber: Subscriber, topic: string): Promise<void> {
    // The open topic batch (publications made before this) goes to the subscribers it had.
    closeTopicBatch();
    if (subscriber.topics.has(topic)) return this.#confirmed(topic);
    subscriber.topics.add(topic);
    if (!this.#local.add(subscriber, topic)) return this.#confirmed(topic);
    const workers = this.#announcer.announce(topic, true, this.#remote.known);
    if (this.#broker === null) return workers;
    const broker = this.#broker.interest(topic, true);
    this.#brokerPending.set(topic, broker);
    return Promise.all([workers, broker]).then(() => {
      if (this.#brokerPending.get(topic) === broker) this.#brokerPending.delete(topic);
    });
  }

  /** Resolves when the topic's latest interest is acknowledged by the workers and the broker. */
  #confirmed(topic: string): Promise<void> {
    const broker = this.#brokerPending.get(topic);
    const workers = this.#announcer.confirmed(topic);
    return broker === undefined ? workers : Promise.all([workers, broker]).then(() => {});
  }

  /** Unsubscribe a connection from a topic; false when it was not subscribed. */
  unsubscribe(subscriber: Subscriber, topic: string): boolean {
    closeTopicBatch();
    if (!subscriber.topics.delete(topic)) return false;
    if (this.#local.remove(subscriber, topic)) {
      void this.#announcer.announce(topic, false, this.#remote.known);
      if (this.#broker !== null) {
        this.#brokerPending.delete(topic);
        void this.#broker.interest(topic, false);
      }
    }
    return true;
  }

  /** Remove every subscription of a connection; call when it closes. */
  unsubscribeAll(subscriber: Subscriber): void {
    // Most connections close with no topic: no copy of an empty set.
    if (subscriber.topics.size === 0) return;
    for (const topic of [...subscriber.topics]) this.unsubscribe(subscriber, topic);
  }

  /**
   * Publish to every subscriber of a topic on every worker (and node, with a
   * broker). Encoding and the backlog checks happen before anything is sent,
   * so a value that cannot be encoded, an interested worker at
   * `forwardMaxBytes` (AppError OVERLOADED), or a broker that is not
   * connected or full (BROKER_UNAVAILABLE, OVERLOADED) throws without a
   * partial delivery. `isBinary` only matters to raw subscribers, and `raw`
   * (a raw publisher) sends a string or bytes in the RAW form
   * (deliver-publication.ts). Returns the number of local subscribers written
   * to. Callers that can wait should check `congested` afterwards (see
   * forward-flow-control.ts).
   */
  publish(topic: string, data: unknown, isBinary?: boolean, raw: boolean = false): number {
    const entry = this.#local.get(topic);
    const remote = this.#remote.workersFor(topic);
    const broker = this.#broker;
    if (entry === undefined && remote === undefined && broker === null) return 0;
    if (broker !== null) broker.admit(topic);
    if (remote !== undefined) this.#flowControl.admit(topic, remote);
    const publication = framePublication(entry, topic, data, isBinary, raw, remote !== undefined || broker !== null);
    this.stats.published++;
    const travelling = publication.travelling!;
    if (remote !== undefined) {
      for (const workerId of remote) {
        this.#batcher.add(workerId, topic, publication.form, travelling);
        this.#flowControl.queued(workerId, travelling.length);
      }
    }
    if (broker !== null) broker.publish(topic, publication.form, travelling);
    if (entry === undefined) return 0;
    const startedAt = startedNow();
    // At once, with the topic's batch of the turn, or after the walk over subscribers under way (topic-batch.ts);
    // for a delivery that waits, the count is the topic's local subscribers.
    const written = deliverInTurn(entry, publication.frames, this.#countLocal, this.#scheduleClose);
    // Measures the fan-out's own work: the writes leave at the end of the turn (with the topic's batch, if this one joined it).
    observeSince(localWriteDelay, startedAt);
    return written;
  }

  /** Handle one message from the bus. Returns false for messages that are not about pub/sub. */
  receive(message: BusMessage): boolean {
    switch (message.t) {
      case 'hello':
        this.#heard(message.from);
        this.#batcher.postTo(message.from, { t: 'snapshot', from: this.#bus.workerId, topics: this.#local.topics() });
        return true;
      case 'bye':
        this.#remote.left(message.from);
        this.#forgetWorker(message.from);
        return true;
      case 'snapshot':
        this.#heard(message.from);
        for (const topic of message.topics) this.#remote.add(topic, message.from);
        return true;
      case 'interest':
        this.#heard(message.from);
        if (message.on) this.#remote.add(message.topic, message.from);
        else this.#remote.remove(message.topic, message.from);
        // The ack travels on the same channel as this worker's later publications to `from`:
        // once `from` has it, every later publication of this worker reaches it.
        this.#batcher.postTo(message.from, { t: 'ack', from: this.#bus.workerId, seq: message.seq });
        return true;
      case 'ack':
        this.#heard(message.from);
        this.#announcer.acknowledged(message.from, message.seq);
        return true;
      case 'pub':
        this.#heard(message.from);
        this.#receiveBatch(message);
        return true;
      case 'pubAck':
        this.#heard(message.from);
        this.#flowControl.acknowledged(message.from, message.bytes);
        return true;
      default:
        return false;
    }
  }

  /** Note a message from a worker; one presumed gone after a stall is asked for its interest again. */
  #heard(workerId: WorkerId): void {
    if (this.#remote.heard(workerId)) this.#batcher.postTo(workerId, { t: 'hello', from: this.#bus.workerId });
  }

  /** Everything kept about a worker that left or stalled (its interest is already forgotten). */
  #forgetWorker(workerId: WorkerId): void {
    this.#announcer.forget(workerId);
    this.#batcher.forget(workerId);
    this.#flowControl.forget(workerId);
    this.#bus.forget(workerId);
  }

  #receiveBatch(message: PublishMessage): void {
    forEachBatchedPublication(message, this.#deliverForwarded);
    // Every publication of the batch waited at most this long: from the batch's first one to the end of its delivery here.
    const delay = (epochNow() - message.at) / 1000;
    for (let i = 0; i < message.topics.length; i++) forwardedWriteDelay.observe(delay);
    // Written to the subscribers' connections (their send buffers are bounded by the slow-consumer policy).
    if (!this.#stopped) this.#batcher.postTo(message.from, { t: 'pubAck', from: this.#bus.workerId, seq: message.seq, bytes: message.frames.length });
  }

  /** Bound once: delivers one publication of a received batch, or one from the broker. */
  readonly #deliverForwarded = (topic: string, form: PublicationForm, frame: Uint8Array): void => {
    this.stats.received++;
    const entry = this.#local.get(topic);
    // The last local subscriber may have left while the publication was in flight.
    if (entry === undefined) return;
    deliverInTurn(entry, frameReceivedPublication(entry, topic, form, frame, this.#undeliverable), this.#countForwarded, this.#scheduleClose);
  };

  /** Bound once: counts a local publication's deliveries. */
  readonly #countLocal = (written: number): void => {
    this.stats.delivered += written;
    localFanout.observe(written);
  };

  /** Bound once: counts a forwarded publication's deliveries. */
  readonly #countForwarded = (written: number): void => {
    this.stats.delivered += written;
    forwardedFanout.observe(written);
  };

  /** Bound once: a directed message to another worker (routing's events), posted after this turn's publications for that worker. */
  readonly postTo = (workerId: WorkerId, message: BusMessage): void => {
    this.#batcher.postTo(workerId, message);
  };

  /** Bound once: a publication of another node, from the broker (which sends this worker only those of its topics). */
  readonly receiveFromBroker = (topic: string, form: PublicationForm, frame: Uint8Array): void => {
    if (!this.#stopped) this.#deliverForwarded(topic, form, frame);
  };

  /** Bound once: counts deliveries left out because the data could not be encoded for some subscribers. */
  readonly #undeliverable = (subscribers: number): void => {
    this.stats.undeliverable += subscribers;
  };
}
