/**
 * One clock for all the requests of one socket read, and only one read in
 * SAMPLE_EVERY timed. performance.now() costs 70-85 ns of CPU per call here
 * (a KVM guest; 5 million calls timed with process.cpuUsage); two per
 * request doubled the worker's CPU per rpc request in
 * bench/micro/app-hot-path.ts, and two per read still cost 10-40% of an rpc
 * request end to end, where a read often carries one or two requests. So:
 *
 * - the socket layer brackets each read with `beginRead`/`endRead`; one read
 *   in SAMPLE_EVERY is timed: its first request reads the clock, and every
 *   request answered before the read ends is observed at `endRead` with the
 *   read's duration (the replies of a read leave together when it ends: the
 *   socket is corked for the whole read, so that is the latency each saw on
 *   the server);
 * - the requests of the other reads are counted (`Histogram.skip`), so
 *   `shoal_requests_total` is exact while the latency histogram is a sample;
 * - requests answered after their read (async handlers) always read the
 *   clock at the reply: their start is their read's clock, taken for them;
 * - outside a read (unit tests, timers) every call reads the clock.
 */
import type { Histogram } from './histogram.ts';

/** One read in this many is timed. */
export const SAMPLE_EVERY = 8;

let inRead = false;
/** This read is timed. */
let sampled = false;
let reads = 0;
/** performance.now() of the read's first request; 0 until one asks. */
let readStartedAt = 0;
/** Series to observe the read's duration in, once it ends (reused). */
const deferred: Histogram[] = [];

/** The socket layer starts handling one read. */
export function beginRead(): void {
  inRead = true;
  readStartedAt = 0;
  sampled = ++reads % SAMPLE_EVERY === 0;
}

/** The read is done (its replies are about to leave): observe what waited for it. */
export function endRead(): void {
  inRead = false;
  if (deferred.length === 0) return;
  const seconds = (performance.now() - readStartedAt) / 1000;
  for (let i = 0; i < deferred.length; i++) (deferred[i] as Histogram).observe(seconds);
  deferred.length = 0;
}

/** Marks a start that was not timed (a read that is not sampled). */
const UNTIMED = -1;

/** When a request (or a publication) started: the read's clock (read once per timed read), or UNTIMED. */
export function startedNow(): number {
  if (!inRead) return performance.now();
  if (!sampled) return UNTIMED;
  if (readStartedAt === 0) readStartedAt = performance.now();
  return readStartedAt;
}

/** Observe the time since `startedAt` in `series`: at the end of the current read, now outside one, or just count it when untimed. */
export function observeSince(series: Histogram, startedAt: number): void {
  if (startedAt === UNTIMED) {
    // An answer after its (untimed) read is rare (async handlers): time it from here on would be wrong, so count it.
    series.skip();
    return;
  }
  if (inRead && startedAt === readStartedAt) {
    deferred.push(series);
    return;
  }
  series.observe((performance.now() - startedAt) / 1000);
}
