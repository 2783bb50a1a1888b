/**
 * The generator's epoch clock: milliseconds since the epoch with
 * sub-millisecond precision, the same clock in every thread and process, so
 * a send time written by one thread can be compared with a delivery read by
 * another. `performance.timeOrigin` is fixed for the life of a thread and is
 * read once.
 */
const ORIGIN = performance.timeOrigin;

/** Milliseconds since the epoch, fractional. */
export function epochNow(): number {
  return ORIGIN + performance.now();
}
