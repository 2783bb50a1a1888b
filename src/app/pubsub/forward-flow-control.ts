/**
 * Flow control of the publications forwarded to other workers
 * (docs/subprotocol.md §7), per receiving worker:
 * - The receiving worker acknowledges each batch once it has written it to
 *   its subscribers' connections. Bytes forwarded and not yet acknowledged
 *   (including this turn's batch, not posted yet) are that worker's backlog.
 * - Past `forwardHighWaterBytes` the worker is congested: `congested` is true
 *   and `whenDrained()` resolves once every backlog is back under half of
 *   it. ProtocolSession holds the reply to a request whose handler published
 *   while congested (and, with it, that connection's next messages: its
 *   mailbox fills, then its socket stops being read), so publishers slow down
 *   to the pace of the slowest interested worker instead of queueing without
 *   bound.
 * - At `forwardMaxBytes` of backlog, `admit()` refuses with AppError
 *   OVERLOADED before anything is sent (callers that never wait, such as
 *   timers publishing in a loop, get an error rather than unbounded memory).
 * - A worker that acknowledges nothing for `ackTimeoutMs` while it has a
 *   backlog is presumed gone (logged, counted in `stats.stalls`, reported to
 *   `onStall`).
 * Local subscribers are not part of this: their send buffers are bounded by
 * the slow-consumer policy of the socket layer.
 */
import { ErrorCode } from '../../codec/envelope.ts';
import { log } from '../../telemetry/logger.ts';
import { AppError } from '../define-app.ts';
import type { WorkerId } from '../worker-bus.ts';

export interface FlowControlOptions {
  /** Backlog (forwarded bytes not yet acknowledged) of one worker past which publishers are held. */
  readonly forwardHighWaterBytes: number;
  /** Backlog of one worker at which `publish()` throws OVERLOADED. */
  readonly forwardMaxBytes: number;
  /** A worker with a backlog that acknowledges nothing for this long is presumed gone. */
  readonly ackTimeoutMs: number;
}

/** The counters flow control keeps (fields of PubSubStats). */
export interface FlowControlStats {
  overloaded: number;
  stalls: number;
}

/** What this worker has forwarded to one other worker and not seen acknowledged. */
class Backlog {
  readonly workerId: WorkerId;
  /** In this turn's batch, not posted yet. */
  pendingBytes: number;
  /** Posted, not acknowledged yet. */
  unackedBytes: number;
  /** performance.now() of the last acknowledgement, or of the post that started the backlog. */
  lastProgressAt: number;
  stallTimer: ReturnType<typeof setTimeout> | null;
  /** Counted in the congested workers. */
  congested: boolean;

  constructor(workerId: WorkerId) {
    this.workerId = workerId;
    this.pendingBytes = 0;
    this.unackedBytes = 0;
    this.lastProgressAt = 0;
    this.stallTimer = null;
    this.congested = false;
  }

  get bytes(): number {
    return this.pendingBytes + this.unackedBytes;
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

export class ForwardFlowControl {
  #options: FlowControlOptions;
  #stats: FlowControlStats;
  /** Called once a worker is presumed gone after a stall (after logging it). */
  #onStall: (workerId: WorkerId) => void;
  #backlogs: Map<WorkerId, Backlog>;
  #congestedWorkers: number;
  #drained: PromiseWithResolvers<void> | null;

  constructor(options: FlowControlOptions, stats: FlowControlStats, onStall: (workerId: WorkerId) => void) {
    this.#options = options;
    this.#stats = stats;
    this.#onStall = onStall;
    this.#backlogs = new Map();
    this.#congestedWorkers = 0;
    this.#drained = null;
  }

  /** Bytes forwarded to a worker and not acknowledged yet (including this turn's batch). */
  backlog(workerId: WorkerId): number {
    return this.#backlogs.get(workerId)?.bytes ?? 0;
  }

  /** Bytes forwarded to every worker and not acknowledged yet. */
  get totalBacklog(): number {
    let bytes = 0;
    for (const backlog of this.#backlogs.values()) bytes += backlog.bytes;
    return bytes;
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

  /** Throws AppError OVERLOADED when one of `workers` has `forwardMaxBytes` of backlog. */
  admit(topic: string, workers: Iterable<WorkerId>): void {
    const max = this.#options.forwardMaxBytes;
    for (const workerId of workers) {
      const backlog = this.#backlogs.get(workerId)?.bytes ?? 0;
      if (backlog >= max) {
        this.#stats.overloaded++;
        throw new AppError(ErrorCode.OVERLOADED, `publication on ${JSON.stringify(topic)} refused: worker ${workerId} has ${backlog} bytes of publications not yet delivered`);
      }
    }
  }

  /** `bytes` were added to this turn's batch for a worker. */
  queued(workerId: WorkerId, bytes: number): void {
    let backlog = this.#backlogs.get(workerId);
    if (backlog === undefined) {
      backlog = new Backlog(workerId);
      this.#backlogs.set(workerId, backlog);
    }
    backlog.pendingBytes += bytes;
    if (!backlog.congested && backlog.bytes > this.#options.forwardHighWaterBytes) {
      backlog.congested = true;
      this.#congestedWorkers++;
    }
  }

  /** A worker's batch of `bytes` is being posted: they wait for its acknowledgement from now on. */
  posted(workerId: WorkerId, bytes: number): void {
    const backlog = this.#backlogs.get(workerId);
    if (backlog === undefined) return;
    if (backlog.unackedBytes === 0) backlog.lastProgressAt = performance.now();
    backlog.unackedBytes += bytes;
    backlog.pendingBytes -= bytes;
    if (backlog.stallTimer === null) this.#watchStall(backlog, this.#options.ackTimeoutMs);
  }

  /** A worker acknowledged `bytes` of batches. */
  acknowledged(workerId: WorkerId, bytes: number): void {
    const backlog = this.#backlogs.get(workerId);
    // A worker presumed gone and forgotten may still acknowledge old batches.
    if (backlog === undefined) return;
    backlog.unackedBytes = Math.max(0, backlog.unackedBytes - bytes);
    backlog.lastProgressAt = performance.now();
    if (backlog.congested && backlog.bytes <= this.#options.forwardHighWaterBytes / 2) this.#uncongest(backlog);
  }

  /** Forget what was forwarded to a worker that left or stalled; release publishers held for it. */
  forget(workerId: WorkerId): void {
    const backlog = this.#backlogs.get(workerId);
    if (backlog === undefined) return;
    this.#backlogs.delete(workerId);
    if (backlog.stallTimer !== null) clearTimeout(backlog.stallTimer);
    backlog.stallTimer = null;
    if (backlog.congested) this.#uncongest(backlog);
  }

  /** Forget every worker (this worker stops). */
  forgetAll(): void {
    for (const workerId of [...this.#backlogs.keys()]) this.forget(workerId);
  }

  #watchStall(backlog: Backlog, delayMs: number): void {
    backlog.stallTimer = setTimeout(() => this.#checkStall(backlog), delayMs);
    backlog.stallTimer.unref?.();
  }

  #checkStall(backlog: Backlog): void {
    backlog.stallTimer = null;
    if (this.#backlogs.get(backlog.workerId) !== backlog || backlog.unackedBytes === 0) return;
    const silentFor = performance.now() - backlog.lastProgressAt;
    if (silentFor < this.#options.ackTimeoutMs) {
      this.#watchStall(backlog, this.#options.ackTimeoutMs - silentFor);
      return;
    }
    this.#stats.stalls++;
    log().warn(
      { peerWorker: backlog.workerId, silentMs: Math.round(silentFor), unackedBytes: backlog.unackedBytes },
      'a worker acknowledged no publication in time; presumed gone',
    );
    this.#onStall(backlog.workerId);
  }

  #uncongest(backlog: Backlog): void {
    backlog.congested = false;
    this.#congestedWorkers--;
    if (this.#congestedWorkers === 0 && this.#drained !== null) {
      const drained = this.#drained;
      this.#drained = null;
      drained.resolve();
    }
  }
}
