/**
 * One timer per worker for every per-connection deadline (handshake, idle,
 * ping, close): a sweep over all connections on a fixed interval, and a
 * coarse clock that the hot path reads instead of calling a time function.
 */

/** Milliseconds since an arbitrary origin, updated by the sweeper; read it, don't compute time per message. */
export const clock = { now: Math.floor(performance.now()) };

/** Timing options the sweep interval is derived from (0 turns a feature off). */
export interface SweepTimings {
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly closeTimeoutMs: number;
}

/** Finest and coarsest sweep intervals. */
export const MIN_SWEEP_MS = 10;
export const MAX_SWEEP_MS = 1000;

/**
 * The sweep interval: a quarter of the shortest enabled deadline, within
 * [MIN_SWEEP_MS, MAX_SWEEP_MS]. A deadline fires between its time and a
 * quarter past it (at most one second late).
 */
export function sweepIntervalMs(timings: SweepTimings): number {
  let shortest = Infinity;
  for (const value of [timings.handshakeTimeoutMs, timings.idleTimeoutMs, timings.pingIntervalMs, timings.closeTimeoutMs]) {
    if (value > 0 && value < shortest) shortest = value;
  }
  return Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, Math.floor(shortest / 4)));
}

/**
 * Calls `sweep(now)` every `intervalMs` after updating `clock.now`. The timer
 * is unref'd: it never keeps a thread alive. Call the returned function to stop.
 */
export function startSweeper(intervalMs: number, sweep: (now: number) => void): () => void {
  const timer = setInterval(() => {
    clock.now = Math.floor(performance.now());
    sweep(clock.now);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
