/**
 * The remote side of the interest table: which other workers this worker
 * knows of, and for each topic the workers with at least one subscriber of
 * it (as they announced). A publication is forwarded only to those. A worker
 * presumed gone after an acknowledgement stall is remembered, so that when it
 * speaks again it can be asked for its interest anew.
 */
import type { WorkerId } from '../worker-bus.ts';

export class WorkerInterest {
  /** topic -> other workers with at least one subscriber. */
  #interest: Map<string, Set<WorkerId>>;
  /** Other workers this one has heard from and not yet seen leave. */
  #known: Set<WorkerId>;
  /** Workers presumed gone after an acknowledgement stall: asked for their interest if they speak again. */
  #presumedGone: Set<WorkerId>;

  constructor() {
    this.#interest = new Map();
    this.#known = new Set();
    this.#presumedGone = new Set();
  }

  /** Other workers with subscribers of a topic, or undefined when none has. Not to be modified. */
  workersFor(topic: string): ReadonlySet<WorkerId> | undefined {
    return this.#interest.get(topic);
  }

  /** Other workers this one knows of. */
  get known(): ReadonlySet<WorkerId> {
    return this.#known;
  }

  /**
   * Note a message from a worker. True when it had been presumed gone after a
   * stall: the caller asks it for its interest again.
   */
  heard(workerId: WorkerId): boolean {
    if (this.#known.has(workerId)) return false;
    this.#known.add(workerId);
    return this.#presumedGone.delete(workerId);
  }

  /** A worker that stayed silent: not counted as known (nor waited for) until it speaks again. */
  silent(workerId: WorkerId): void {
    this.#known.delete(workerId);
  }

  /** A worker that stopped acknowledging publications: forget it, and ask for its interest if it speaks again. */
  presumeGone(workerId: WorkerId): void {
    this.#presumedGone.add(workerId);
    this.forget(workerId);
  }

  /** A worker that said bye: not presumed gone any more, it is gone. */
  left(workerId: WorkerId): void {
    this.forget(workerId);
    this.#presumedGone.delete(workerId);
  }

  /** Forget a worker and all of its interest. */
  forget(workerId: WorkerId): void {
    this.#known.delete(workerId);
    for (const [topic, workers] of this.#interest) {
      workers.delete(workerId);
      if (workers.size === 0) this.#interest.delete(topic);
    }
  }

  add(topic: string, workerId: WorkerId): void {
    let workers = this.#interest.get(topic);
    if (workers === undefined) {
      workers = new Set();
      this.#interest.set(topic, workers);
    }
    workers.add(workerId);
  }

  remove(topic: string, workerId: WorkerId): void {
    const workers = this.#interest.get(topic);
    if (workers === undefined) return;
    workers.delete(workerId);
    if (workers.size === 0) this.#interest.delete(topic);
  }
}
