/**
 * One clock for all the requests of one socket read. performance.now() cost
 * 180-370 ns per call on this machine (a VM whose clock read is a system
 * call; measured in a loop of 5 million), and two per request doubled the
 * worker's CPU per rpc request (bench/micro/app-hot-path.ts). So the socket
 * layer brackets each read with `beginRead`/`endRead`; the first request of
 * the read reads the clock, and every request answered before the read ends
 * is observed once, at `endRead`, with the read's duration: the replies of a
 * read leave together when the read ends (the socket is corked for the whole
 * read), so that is the latency each of them saw on the server. Requests
 * answered later (async handlers) observe their own end time. Outside a read
 * (unit tests, timers) every call reads the clock.
 */
import type { Histogram } from './histogram.ts';

let inRead = false;
/** performance.now() of the read's first request; 0 until one asks. */
let readStartedAt = 0;
/** Series to observe the read's duration in, once it ends (reused). */
const deferred: Histogram[] = [];

/** The socket layer starts handling one read. */
export function beginRead(): void {
  inRead = true;
  readStartedAt = 0;
}

/** The read is done (its replies are about to leave): observe what waited for it. */
export function endRead(): void {
  inRead = false;
  if (deferred.length === 0) return;
  const seconds = (performance.now() - readStartedAt) / 1000;
  for (let i = 0; i < deferred.length; i++) (deferred[i] as Histogram).observe(seconds);
  deferred.length = 0;
}

/** When a request (or a publication) started: the read's clock, read once per read. */
export function startedNow(): number {
  if (!inRead) return performance.now();
  if (readStartedAt === 0) readStartedAt = performance.now();
  return readStartedAt;
}

/** Observe the time since `startedAt` in `series`: at the end of the current read, or now outside one. */
export function observeSince(series: Histogram, startedAt: number): void {
  if (inRead && startedAt === readStartedAt) {
    deferred.push(series);
    return;
  }
  series.observe((performance.now() - startedAt) / 1000);
}
