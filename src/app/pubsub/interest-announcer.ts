/**
 * Announcing this worker's interest to the others, and waiting for them to
 * acknowledge it. A worker announces on the control channel when it gains
 * its first or loses its last subscriber of a topic; `subscribe()` resolves
 * once every worker this worker knows of has acknowledged the new interest
 * (from then on, any publication made on any worker reaches the
 * subscriber). A worker that does not acknowledge within `confirmTimeoutMs`
 * is reported silent and not waited for.
 */
import type { WorkerBus, WorkerId } from '../worker-bus.ts';

const RESOLVED: Promise<void> = Promise.resolve();

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

export class InterestAnnouncer {
  #bus: WorkerBus;
  #confirmTimeoutMs: number;
  /** Called for each worker that did not acknowledge within the timeout. */
  #onSilent: (workerId: WorkerId) => void;
  #pendingBySeq: Map<number, PendingInterest>;
  #pendingByTopic: Map<string, PendingInterest>;
  #seq: number;

  constructor(bus: WorkerBus, confirmTimeoutMs: number, onSilent: (workerId: WorkerId) => void) {
    this.#bus = bus;
    this.#confirmTimeoutMs = confirmTimeoutMs;
    this.#onSilent = onSilent;
    this.#pendingBySeq = new Map();
    this.#pendingByTopic = new Map();
    this.#seq = 0;
  }

  /** Resolves when the topic's latest announcement is acknowledged (at once when none waits). */
  confirmed(topic: string): Promise<void> {
    return this.#pendingByTopic.get(topic)?.promise ?? RESOLVED;
  }

  /**
   * Broadcast that this worker gained (`on`) or lost its local interest in a
   * topic. Gaining resolves once every worker in `known` has acknowledged;
   * losing resolves at once.
   */
  announce(topic: string, on: boolean, known: ReadonlySet<WorkerId>): Promise<void> {
    const seq = ++this.#seq;
    const previous = this.#pendingByTopic.get(topic);
    if (previous !== undefined) this.#settle(previous);
    this.#bus.broadcast({ t: 'interest', from: this.#bus.workerId, topic, on, seq });
    if (!on || known.size === 0) return RESOLVED;
    const pending = new PendingInterest(topic, seq, new Set(known));
    pending.timer = setTimeout(() => this.#timedOut(pending), this.#confirmTimeoutMs);
    pending.timer.unref?.();
    this.#pendingBySeq.set(seq, pending);
    this.#pendingByTopic.set(topic, pending);
    return pending.promise;
  }

  /** A worker acknowledged announcement `seq`. */
  acknowledged(workerId: WorkerId, seq: number): void {
    const pending = this.#pendingBySeq.get(seq);
    if (pending === undefined) return;
    pending.waiting.delete(workerId);
    if (pending.waiting.size === 0) this.#settle(pending);
  }

  /** A worker that has gone: no announcement waits for it any more. */
  forget(workerId: WorkerId): void {
    for (const pending of [...this.#pendingBySeq.values()]) {
      pending.waiting.delete(workerId);
      if (pending.waiting.size === 0) this.#settle(pending);
    }
  }

  /** Release every wait (this worker stops). */
  settleAll(): void {
    for (const pending of this.#pendingBySeq.values()) this.#settle(pending);
  }

  #timedOut(pending: PendingInterest): void {
    pending.timer = null;
    // Workers that stayed silent are presumed gone: not waited for again until they speak.
    for (const workerId of pending.waiting) this.#onSilent(workerId);
    this.#settle(pending);
  }

  #settle(pending: PendingInterest): void {
    if (pending.timer !== null) clearTimeout(pending.timer);
    pending.timer = null;
    this.#pendingBySeq.delete(pending.seq);
    if (this.#pendingByTopic.get(pending.topic) === pending) this.#pendingByTopic.delete(pending.topic);
    pending.resolve();
  }
}
