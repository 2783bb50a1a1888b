/**
 * Batching of the publications forwarded to other workers, one bus message
 * per receiving worker per event-loop turn: all of the turn's publications
 * for that worker, as the msgpack frames built for them, back to back in one
 * exact-size buffer (broadcast 4 -> 100, 2 workers: one postMessage per
 * publication cost more than the fan-out itself). Every other directed
 * message to a worker goes through `postTo()`, which posts that worker's
 * pending batch first, so the channel keeps publication order.
 */
import { epochNow } from '../../telemetry/worker-metrics.ts';
import type { BusMessage, PublishMessage, WorkerBus, WorkerId } from '../worker-bus.ts';
import type { PublicationForm } from './deliver-publication.ts';

/** The counters the batcher keeps (fields of PubSubStats). */
export interface BatcherStats {
  forwarded: number;
  batches: number;
}

/** This turn's publications for one other worker, not posted yet. */
class PendingBatch {
  readonly workerId: WorkerId;
  topics: string[];
  forms: number[];
  frames: Uint8Array[];
  bytes: number;
  /** Batches posted to this worker so far (echoed in its acknowledgements). */
  seq: number;
  /** epochNow() of the batch's first publication (the receiver measures the write delay from it). */
  startedAt: number;

  constructor(workerId: WorkerId) {
    this.workerId = workerId;
    this.topics = [];
    this.forms = [];
    this.frames = [];
    this.bytes = 0;
    this.seq = 0;
    this.startedAt = 0;
  }
}

export class PublicationBatcher {
  #bus: WorkerBus;
  #stats: BatcherStats;
  /** Runs `flush` once the current event-loop turn's work is done. */
  #scheduleFlush: (flush: () => void) => void;
  /** Called with a worker's batch size just before the batch is posted. */
  #onPost: (workerId: WorkerId, bytes: number) => void;
  #batches: Map<WorkerId, PendingBatch>;
  #flushScheduled: boolean;

  constructor(
    bus: WorkerBus,
    stats: BatcherStats,
    scheduleFlush: (flush: () => void) => void,
    onPost: (workerId: WorkerId, bytes: number) => void,
  ) {
    this.#bus = bus;
    this.#stats = stats;
    this.#scheduleFlush = scheduleFlush;
    this.#onPost = onPost;
    this.#batches = new Map();
    this.#flushScheduled = false;
  }

  /** Add a publication to this turn's batch for a worker; the flush is scheduled on the turn's first. */
  add(workerId: WorkerId, topic: string, form: PublicationForm, frame: Uint8Array): void {
    let batch = this.#batches.get(workerId);
    if (batch === undefined) {
      batch = new PendingBatch(workerId);
      this.#batches.set(workerId, batch);
    }
    // The frame is a view into the codec's output buffer, whose bytes are never rewritten; it is copied into the batch at the flush.
    if (batch.frames.length === 0) batch.startedAt = epochNow();
    batch.topics.push(topic);
    batch.forms.push(form);
    batch.frames.push(frame);
    batch.bytes += frame.length;
    this.#stats.forwarded++;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#scheduleFlush(this.flush);
    }
  }

  /** A directed message: after this turn's batch for that worker, so the channel keeps its order. */
  postTo(workerId: WorkerId, message: BusMessage): void {
    const batch = this.#batches.get(workerId);
    if (batch !== undefined && batch.frames.length > 0) this.#post(batch);
    this.#bus.postTo(workerId, message);
  }

  /** Bound once: posts every worker's batch of this turn. */
  readonly flush = (): void => {
    this.#flushScheduled = false;
    for (const batch of this.#batches.values()) if (batch.frames.length > 0) this.#post(batch);
  };

  /** Drop what is batched for a worker that left or stalled (its batch numbers start again). */
  forget(workerId: WorkerId): void {
    this.#batches.delete(workerId);
  }

  /** Drop every worker's batch state (this worker stops, after its last flush). */
  forgetAll(): void {
    this.#batches.clear();
  }

  #post(batch: PendingBatch): void {
    const { frames, topics } = batch;
    const forms = Uint8Array.from(batch.forms);
    // One exact-size buffer: a structured clone copies a view's whole underlying buffer, and one
    // postMessage per turn instead of one per publication.
    const bytes = new Uint8Array(batch.bytes);
    const ends: number[] = new Array(frames.length);
    let at = 0;
    for (let i = 0; i < frames.length; i++) {
      bytes.set(frames[i], at);
      at += frames[i].length;
      ends[i] = at;
    }
    this.#onPost(batch.workerId, batch.bytes);
    batch.bytes = 0;
    batch.frames = [];
    batch.topics = [];
    batch.forms = [];
    batch.seq++;
    this.#stats.batches++;
    const message: PublishMessage = { t: 'pub', from: this.#bus.workerId, seq: batch.seq, topics, forms, ends, frames: bytes, at: batch.startedAt };
    this.#bus.postTo(batch.workerId, message);
  }
}

/** Calls `visit` with each publication of a received batch, in order: its topic, form and frame (a view of the batch). */
export function forEachBatchedPublication(batch: PublishMessage, visit: (topic: string, form: PublicationForm, frame: Uint8Array) => void): void {
  const { topics, forms, ends, frames } = batch;
  let start = 0;
  for (let i = 0; i < topics.length; i++) {
    visit(topics[i], forms[i] as PublicationForm, frames.subarray(start, ends[i]));
    start = ends[i];
  }
}
