/**
 * Topic subscriptions of one worker and the fan-out of publications across
 * workers.
 *
 * Local side: topic -> subscribers (connections of this worker). A
 * publication is encoded once per codec in use (msgpack and/or JSON) as a
 * complete frame, and that same frame is written to every local subscriber
 * with `ConnectionHandle.sendFrame`; the handle's send path applies the
 * slow-consumer policy, so one slow subscriber never holds up the others.
 * (Measured in-process, 1000 subscribers, a 90-byte message: ~25-50 M
 * deliveries/s framed once against ~1.2-2.9 M encoding per subscriber.)
 * The socket layer corks every subscriber until the end of the event-loop
 * turn, so a subscriber gets the publications of all publishers read in one
 * turn in one system call (socket-binding.ts).
 *
 * Remote side: topic -> workers that have at least one subscriber. A worker
 * announces on the control channel when it gains its first or loses its last
 * subscriber of a topic; a publication goes only to the workers that
 * announced interest, as the msgpack frame built for it (the receiving
 * worker writes it as is to its msgpack subscribers). Publications for one
 * worker are batched per event-loop turn: one bus message carries all of
 * them, back to back in one exact-size buffer (broadcast 4 -> 100, 2
 * workers: one postMessage per publication cost more than the fan-out itself).
 *
 * Flow control (docs/subprotocol.md §7), per receiving worker:
 * - The receiving worker acknowledges each batch once it has written it to
 *   its subscribers' connections. Bytes forwarded and not yet acknowledged
 *   are that worker's backlog.
 * - Past `forwardHighWaterBytes` the worker is congested: `congested` is true
 *   and `whenDrained()` resolves once every backlog is back under half of
 *   it. ProtocolSession holds the reply to a request whose handler published
 *   while congested (and, with it, that connection's next messages: its
 *   mailbox fills, then its socket stops being read), so publishers slow down
 *   to the pace of the slowest interested worker instead of queueing without
 *   bound.
 * - At `forwardMaxBytes` of backlog, `publish()` refuses with AppError
 *   OVERLOADED before anything is sent (callers that never wait, such as
 *   timers publishing in a loop, get an error rather than unbounded memory).
 * - A worker that acknowledges nothing for `ackTimeoutMs` while it has a
 *   backlog is presumed gone (logged, counted in `stats.stalls`): its
 *   interest is forgotten and nobody waits for it; if it speaks again it is
 *   asked for its interest anew.
 * Local subscribers are not part of this: their send buffers are bounded by
 * the slow-consumer policy of the socket layer.
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
 */
import type { Codec, PublicationMessage } from '../codec/envelope.ts';
import { ErrorCode, MessageType } from '../codec/envelope.ts';
import { decodeMsgpack, encodeMsgpackFrame, msgpackCodec } from '../codec/msgpack.ts';
import { AppError } from './define-app.ts';
import type { ConnectionHandle } from './types.ts';
import type { BusMessage, PublishMessage, WorkerBus, WorkerId } from './worker-bus.ts';

/** A connection that can hold subscriptions: its handle, its codec, and its set of topics (owned by PubSub). */
export interface Subscriber {
  readonly handle: ConnectionHandle;
  readonly codec: Codec;
  readonly topics: Set<string>;
}

export interface PubSubOptions {
  /** Longest wait for other workers to acknowledge a new interest before `subscribe()` resolves anyway. */
  readonly confirmTimeoutMs: number;
  /** Backlog (forwarded bytes not yet acknowledged) of one worker past which publishers are held. */
  readonly forwardHighWaterBytes: number;
  /** Backlog of one worker at which `publish()` throws OVERLOADED. */
  readonly forwardMaxBytes: number;
  /** A worker with a backlog that acknowledges nothing for this long is presumed gone. */
  readonly ackTimeoutMs: number;
  /** Runs `flush` once the current event-loop turn's work is done (setImmediate; tests substitute their own). */
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
}

/** One topic's local subscribers and how many of them use each codec. */
class TopicEntry {
  readonly subscribers: Set<Subscriber>;
  readonly codecs: Map<Codec, number>;

  constructor() {
    this.subscribers = new Set();
    this.codecs = new Map();
  }
}

/** An interest announcement waiting for acknowledgements. */
class PendingInterest {
  readonly topic: string;
  readonly seq: number;
  readonly waiting: Set<WorkerId>;
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  timer: ReturnType<typeof setTimeout> | null;

  constructor(topic: string, seq: number, waiting: Set<WorkerId>) {
    this.topic = topic;
    this.seq = seq;
    this.waiting = waiting;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.promise = promise;
    this.resolve = resolve;
    this.timer = null;
  }
}

/** What this worker has forwarded to one other worker: this turn's batch and the unacknowledged backlog. */
class RemoteWorker {
  readonly id: WorkerId;
  /** Publications of this turn, not posted yet. */
  topics: string[];
  frames: Uint8Array[];
  pendingBytes: number;
  /** Posted, not acknowledged yet. */
  unackedBytes: number;
  seq: number;
  /** performance.now() of the last acknowledgement, or of the post that started the backlog. */
  lastProgressAt: number;
  stallTimer: ReturnType<typeof setTimeout> | null;
  /** Counted in PubSub's congested workers. */
  congested: boolean;

  constructor(id: WorkerId) {
    this.id = id;
    this.topics = [];
    this.frames = [];
    this.pendingBytes = 0;
    this.unackedBytes = 0;
    this.seq = 0;
    this.lastProgressAt = 0;
    this.stallTimer = null;
    this.congested = false;
  }

  get backlog(): number {
    return this.pendingBytes + this.unackedBytes;
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

/** True when some of the topic's subscribers use a codec other than msgpack. */
function hasOtherCodecs(entry: TopicEntry): boolean {
  return entry.codecs.size > (entry.codecs.has(msgpackCodec) ? 1 : 0);
}

/** Length of the header of an unmasked server frame, read from its second byte (RFC 6455 §5.2). */
function frameHeaderLength(frame: Uint8Array): number {
  const length7 = frame[1] & 0x7f;
  return length7 < 126 ? 2 : length7 === 126 ? 4 : 10;
}

/**
 * The pub/sub state of one worker. Create one per worker, feed it every bus
 * message with `receive()`, call `start()` once to introduce this worker,
 * and `stop()` when the worker ends.
 */
export class PubSub {
  readonly stats: PubSubStats;
  #bus: WorkerBus;
  #options: PubSubOptions;
  #topics: Map<string, TopicEntry>;
  /** topic -> other workers with at least one subscriber. */
  #interest: Map<string, Set<WorkerId>>;
  /** Other workers this one has heard from and not yet seen leave. */
  #known: Set<WorkerId>;
  /** Workers presumed gone after an acknowledgement stall: asked for their interest if they speak again. */
  #presumedGone: Set<WorkerId>;
  #pendingBySeq: Map<number, PendingInterest>;
  #pendingByTopic: Map<string, PendingInterest>;
  #seq: number;
  #remotes: Map<WorkerId, RemoteWorker>;
  #flushScheduled: boolean;
  #congestedWorkers: number;
  #drained: PromiseWithResolvers<void> | null;
  #stopped: boolean;

  constructor(bus: WorkerBus, options: Partial<PubSubOptions> = {}) {
    this.stats = { published: 0, delivered: 0, forwarded: 0, batches: 0, received: 0, overloaded: 0, stalls: 0 };
    this.#bus = bus;
    this.#options = { ...DEFAULT_PUBSUB_OPTIONS, ...options };
    this.#topics = new Map();
    this.#interest = new Map();
    this.#known = new Set();
    this.#presumedGone = new Set();
    this.#pendingBySeq = new Map();
    this.#pendingByTopic = new Map();
    this.#seq = 0;
    this.#remotes = new Map();
    this.#flushScheduled = false;
    this.#congestedWorkers = 0;
    this.#drained = null;
    this.#stopped = false;
  }

  /** Introduce this worker: every other worker answers with its interest snapshot. */
  start(): void {
    this.#bus.broadcast({ t: 'hello', from: this.#bus.workerId });
  }

  /** Post what is batched, tell the others this worker is leaving, and release every wait. */
  stop(): void {
    this.#flush();
    this.#stopped = true;
    this.#bus.broadcast({ t: 'bye', from: this.#bus.workerId });
    for (const pending of this.#pendingBySeq.values()) this.#settle(pending);
    for (const remote of [...this.#remotes.values()]) this.#dropRemote(remote);
  }

  /** Number of local subscribers of a topic. */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.subscribers.size ?? 0;
  }

  /** Other workers known to have subscribers of a topic. */
  interestedWorkers(topic: string): WorkerId[] {
    return [...(this.#interest.get(topic) ?? [])];
  }

  /** Other workers this one knows of. */
  knownWorkers(): WorkerId[] {
    return [...this.#known];
  }

  /** Bytes forwarded to a worker and not acknowledged yet (including this turn's batch). */
  backlog(workerId: WorkerId): number {
    return this.#remotes.get(workerId)?.backlog ?? 0;
  }

  /** True while some worker's backlog is past `forwardHighWaterBytes` (and not yet back under half of it). */
  get congested(): boolean {
    return this.#congestedWorkers > 0;
  }

  /** Resolves when no worker is congested (at once when none is). Never rejects. */
  whenDrained(): Promise<void> {
    if (this.#congestedWorkers === 0) return RESOLVED;
    this.#drained ??= Promise.withResolvers<void>();
    return this.#drained.promise;
  }

  /**
   * Subscribe a connection to a topic (idempotent). Takes effect at once for
   * publications from this worker; the promise resolves when the other
   * workers have acknowledged (see the guarantees at the top of this file).
   */
  subscribe(subscriber: Subscriber, topic: string): Promise<void> {
    if (subscriber.topics.has(topic)) return this.#pendingByTopic.get(topic)?.promise ?? RESOLVED;
    subscriber.topics.add(topic);
    let entry = this.#topics.get(topic);
    const first = entry === undefined;
    if (entry === undefined) {
      entry = new TopicEntry();
      this.#topics.set(topic, entry);
    }
    entry.subscribers.add(subscriber);
    entry.codecs.set(subscriber.codec, (entry.codecs.get(subscriber.codec) ?? 0) + 1);
    if (first) return this.#announce(topic, true);
    return this.#pendingByTopic.get(topic)?.promise ?? RESOLVED;
  }

  /** Unsubscribe a connection from a topic; false when it was not subscribed. */
  unsubscribe(subscriber: Subscriber, topic: string): boolean {
    if (!subscriber.topics.delete(topic)) return false;
    const entry = this.#topics.get(topic);
    if (entry === undefined) return true;
    entry.subscribers.delete(subscriber);
    const count = (entry.codecs.get(subscriber.codec) ?? 1) - 1;
    if (count === 0) entry.codecs.delete(subscriber.codec);
    else entry.codecs.set(subscriber.codec, count);
    if (entry.subscribers.size === 0) {
      this.#topics.delete(topic);
      this.#announce(topic, false);
    }
    return true;
  }

  /** Remove every subscription of a connection; call when it closes. */
  unsubscribeAll(subscriber: Subscriber): void {
    for (const topic of [...subscriber.topics]) this.unsubscribe(subscriber, topic);
  }

  /**
   * Publish to every subscriber of a topic on every worker. Encoding and the
   * backlog check happen before anything is sent, so a value that cannot be
   * encoded, or an interested worker at `forwardMaxBytes` (AppError
   * OVERLOADED), throws without a partial delivery. Returns the number of
   * local subscribers written to. Callers that can wait should check
   * `congested` afterwards (see the flow control at the top of this file).
   */
  publish(topic: string, data: unknown): number {
    const entry = this.#topics.get(topic);
    const remote = this.#interest.get(topic);
    if (entry === undefined && remote === undefined) return 0;
    const message: PublicationMessage = [MessageType.PUBLICATION, topic, data];
    const msgpackFrame = remote !== undefined || (entry as TopicEntry).codecs.has(msgpackCodec) ? encodeMsgpackFrame(message) : null;
    const otherFrames = entry === undefined || !hasOtherCodecs(entry) ? null : this.#otherFrames(entry, message);
    if (remote !== undefined) {
      const max = this.#options.forwardMaxBytes;
      for (const workerId of remote) {
        const backlog = this.#remotes.get(workerId)?.backlog ?? 0;
        if (backlog >= max) {
          this.stats.overloaded++;
          throw new AppError(ErrorCode.OVERLOADED, `publication on ${JSON.stringify(topic)} refused: worker ${workerId} has ${backlog} bytes of publications not yet delivered`);
        }
      }
    }
    this.stats.published++;
    if (remote !== undefined) {
      for (const workerId of remote) this.#forward(workerId, topic, msgpackFrame as Uint8Array);
    }
    return entry === undefined ? 0 : this.#deliver(entry, msgpackFrame, otherFrames);
  }

  /** Handle one message from the bus. Returns false for messages that are not about pub/sub. */
  receive(message: BusMessage): boolean {
    switch (message.t) {
      case 'hello':
        this.#heard(message.from);
        this.#post(message.from, { t: 'snapshot', from: this.#bus.workerId, topics: [...this.#topics.keys()] });
        return true;
      case 'bye':
        this.#forgetWorker(message.from);
        this.#presumedGone.delete(message.from);
        return true;
      case 'snapshot':
        this.#heard(message.from);
        for (const topic of message.topics) this.#addInterest(topic, message.from);
        return true;
      case 'interest':
        this.#heard(message.from);
        if (message.on) this.#addInterest(message.topic, message.from);
        else this.#removeInterest(message.topic, message.from);
        // The ack travels on the same channel as this worker's later publications to `from`:
        // once `from` has it, every later publication of this worker reaches it.
        this.#post(message.from, { t: 'ack', from: this.#bus.workerId, seq: message.seq });
        return true;
      case 'ack': {
        this.#heard(message.from);
        const pending = this.#pendingBySeq.get(message.seq);
        if (pending !== undefined) {
          pending.waiting.delete(message.from);
          if (pending.waiting.size === 0) this.#settle(pending);
        }
        return true;
      }
      case 'pub':
        this.#heard(message.from);
        this.#receiveBatch(message);
        return true;
      case 'pubAck':
        this.#heard(message.from);
        this.#acknowledged(message.from, message.bytes);
        return true;
      default:
        return false;
    }
  }

  /** Note a message from a worker; one presumed gone after a stall is asked for its interest again. */
  #heard(workerId: WorkerId): void {
    if (this.#known.has(workerId)) return;
    this.#known.add(workerId);
    if (this.#presumedGone.delete(workerId)) this.#post(workerId, { t: 'hello', from: this.#bus.workerId });
  }

  /** A directed message: after this turn's batch for that worker, so the channel keeps its order. */
  #post(workerId: WorkerId, message: BusMessage): void {
    const remote = this.#remotes.get(workerId);
    if (remote !== undefined && remote.frames.length > 0) this.#postBatch(remote);
    this.#bus.postTo(workerId, message);
  }

  #announce(topic: string, on: boolean): Promise<void> {
    const seq = ++this.#seq;
    const previous = this.#pendingByTopic.get(topic);
    if (previous !== undefined) this.#settle(previous);
    this.#bus.broadcast({ t: 'interest', from: this.#bus.workerId, topic, on, seq });
    if (!on || this.#known.size === 0) return RESOLVED;
    const pending = new PendingInterest(topic, seq, new Set(this.#known));
    pending.timer = setTimeout(() => this.#confirmTimedOut(pending), this.#options.confirmTimeoutMs);
    pending.timer.unref?.();
    this.#pendingBySeq.set(seq, pending);
    this.#pendingByTopic.set(topic, pending);
    return pending.promise;
  }

  #confirmTimedOut(pending: PendingInterest): void {
    pending.timer = null;
    // Workers that stayed silent are presumed gone: not waited for again until they speak.
    for (const workerId of pending.waiting) this.#known.delete(workerId);
    this.#settle(pending);
  }

  #settle(pending: PendingInterest): void {
    if (pending.timer !== null) clearTimeout(pending.timer);
    pending.timer = null;
    this.#pendingBySeq.delete(pending.seq);
    if (this.#pendingByTopic.get(pending.topic) === pending) this.#pendingByTopic.delete(pending.topic);
    pending.resolve();
  }

  #forgetWorker(workerId: WorkerId): void {
    this.#known.delete(workerId);
    for (const [topic, workers] of this.#interest) {
      workers.delete(workerId);
      if (workers.size === 0) this.#interest.delete(topic);
    }
    for (const pending of [...this.#pendingBySeq.values()]) {
      pending.waiting.delete(workerId);
      if (pending.waiting.size === 0) this.#settle(pending);
    }
    const remote = this.#remotes.get(workerId);
    if (remote !== undefined) this.#dropRemote(remote);
    this.#bus.forget(workerId);
  }

  #addInterest(topic: string, workerId: WorkerId): void {
    let workers = this.#interest.get(topic);
    if (workers === undefined) {
      workers = new Set();
      this.#interest.set(topic, workers);
    }
    workers.add(workerId);
  }

  #removeInterest(topic: string, workerId: WorkerId): void {
    const workers = this.#interest.get(topic);
    if (workers === undefined) return;
    workers.delete(workerId);
    if (workers.size === 0) this.#interest.delete(topic);
  }

  /** Frames for the codecs other than msgpack in use by the topic's subscribers. */
  #otherFrames(entry: TopicEntry, message: PublicationMessage): Map<Codec, Uint8Array> {
    const frames = new Map<Codec, Uint8Array>();
    for (const codec of entry.codecs.keys()) if (codec !== msgpackCodec) frames.set(codec, codec.encodeFrame(message));
    return frames;
  }

  #deliver(entry: TopicEntry, msgpackFrame: Uint8Array | null, otherFrames: Map<Codec, Uint8Array> | null): number {
    let written = 0;
    for (const subscriber of entry.subscribers) {
      const handle = subscriber.handle;
      const frame = subscriber.codec === msgpackCodec ? msgpackFrame : (otherFrames?.get(subscriber.codec) ?? null);
      if (frame === null || !handle.isOpen) continue;
      handle.sendFrame(frame);
      written++;
    }
    this.stats.delivered += written;
    return written;
  }

  // Forwarding to other workers.

  #forward(workerId: WorkerId, topic: string, frame: Uint8Array): void {
    let remote = this.#remotes.get(workerId);
    if (remote === undefined) {
      remote = new RemoteWorker(workerId);
      this.#remotes.set(workerId, remote);
    }
    // The frame is a view into the codec's output buffer, whose bytes are never rewritten; it is copied into the batch at the flush.
    remote.topics.push(topic);
    remote.frames.push(frame);
    remote.pendingBytes += frame.length;
    this.stats.forwarded++;
    if (!remote.congested && remote.backlog > this.#options.forwardHighWaterBytes) {
      remote.congested = true;
      this.#congestedWorkers++;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#options.scheduleFlush(this.#flush);
    }
  }

  /** Bound once: posts every worker's batch of this turn. */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    for (const remote of this.#remotes.values()) if (remote.frames.length > 0) this.#postBatch(remote);
  };

  #postBatch(remote: RemoteWorker): void {
    const { frames, topics } = remote;
    // One exact-size buffer: a structured clone copies a view's whole underlying buffer, and one
    // postMessage per turn instead of one per publication.
    const bytes = new Uint8Array(remote.pendingBytes);
    const ends: number[] = new Array(frames.length);
    let at = 0;
    for (let i = 0; i < frames.length; i++) {
      bytes.set(frames[i], at);
      at += frames[i].length;
      ends[i] = at;
    }
    if (remote.unackedBytes === 0) remote.lastProgressAt = performance.now();
    remote.unackedBytes += remote.pendingBytes;
    remote.pendingBytes = 0;
    remote.frames = [];
    remote.topics = [];
    remote.seq++;
    this.stats.batches++;
    const batch: PublishMessage = { t: 'pub', from: this.#bus.workerId, seq: remote.seq, topics, ends, frames: bytes };
    this.#bus.postTo(remote.id, batch);
    if (remote.stallTimer === null) this.#watchStall(remote, this.#options.ackTimeoutMs);
  }

  #watchStall(remote: RemoteWorker, delayMs: number): void {
    remote.stallTimer = setTimeout(() => this.#checkStall(remote), delayMs);
    remote.stallTimer.unref?.();
  }

  #checkStall(remote: RemoteWorker): void {
    remote.stallTimer = null;
    if (this.#remotes.get(remote.id) !== remote || remote.unackedBytes === 0) return;
    const silentFor = performance.now() - remote.lastProgressAt;
    if (silentFor < this.#options.ackTimeoutMs) {
      this.#watchStall(remote, this.#options.ackTimeoutMs - silentFor);
      return;
    }
    this.stats.stalls++;
    console.error(
      `shoal: worker ${remote.id} acknowledged no publication for ${Math.round(silentFor)} ms with ${remote.unackedBytes} bytes outstanding; presumed gone`,
    );
    this.#presumedGone.add(remote.id);
    this.#forgetWorker(remote.id);
  }

  #acknowledged(workerId: WorkerId, bytes: number): void {
    const remote = this.#remotes.get(workerId);
    // A worker presumed gone and forgotten may still acknowledge old batches.
    if (remote === undefined) return;
    remote.unackedBytes = Math.max(0, remote.unackedBytes - bytes);
    remote.lastProgressAt = performance.now();
    if (remote.congested && remote.backlog <= this.#options.forwardHighWaterBytes / 2) this.#uncongest(remote);
  }

  #uncongest(remote: RemoteWorker): void {
    remote.congested = false;
    this.#congestedWorkers--;
    if (this.#congestedWorkers === 0 && this.#drained !== null) {
      const drained = this.#drained;
      this.#drained = null;
      drained.resolve();
    }
  }

  /** Forget what was forwarded to a worker that left or stalled; release publishers held for it. */
  #dropRemote(remote: RemoteWorker): void {
    this.#remotes.delete(remote.id);
    if (remote.stallTimer !== null) clearTimeout(remote.stallTimer);
    remote.stallTimer = null;
    if (remote.congested) this.#uncongest(remote);
  }

  // Receiving from other workers.

  #receiveBatch(message: PublishMessage): void {
    const { topics, ends, frames } = message;
    let start = 0;
    for (let i = 0; i < topics.length; i++) {
      this.stats.received++;
      this.#deliverForwarded(topics[i], frames.subarray(start, ends[i]));
      start = ends[i];
    }
    // Written to the subscribers' connections (their send buffers are bounded by the slow-consumer policy).
    if (!this.#stopped) this.#post(message.from, { t: 'pubAck', from: this.#bus.workerId, seq: message.seq, bytes: frames.length });
  }

  #deliverForwarded(topic: string, frame: Uint8Array): void {
    const entry = this.#topics.get(topic);
    // The last local subscriber may have left while the publication was in flight.
    if (entry === undefined) return;
    let otherFrames: Map<Codec, Uint8Array> | null = null;
    if (hasOtherCodecs(entry)) {
      otherFrames = new Map();
      let message: PublicationMessage | null = null;
      for (const codec of entry.codecs.keys()) {
        if (codec === msgpackCodec) continue;
        try {
          message ??= decodeMsgpack(frame.subarray(frameHeaderLength(frame))) as PublicationMessage;
          otherFrames.set(codec, codec.encodeFrame(message));
        } catch (error) {
          // e.g. a 64-bit integer beyond 2^53 that JSON cannot carry: those subscribers miss this one.
          console.error(`shoal: publication on ${JSON.stringify(topic)} cannot be encoded for ${codec.protocol}:`, error);
        }
      }
    }
    this.#deliver(entry, frame, otherFrames);
  }
}
