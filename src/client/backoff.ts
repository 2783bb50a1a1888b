/** Reconnect delays: exponential backoff with jitter, as a pure function. */

/** How the client waits between reconnect attempts. */
export interface BackoffOptions {
  /** Delay before the first attempt. Default 250. */
  readonly initialDelayMs: number;
  /** Upper bound of any delay. Default 10000. */
  readonly maxDelayMs: number;
  /** Growth per failed attempt. Default 2. */
  readonly factor: number;
  /** Give up after this many failed attempts in a row. Default Infinity. */
  readonly maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, maxAttempts: Infinity };

/**
 * The delay before attempt `attempt` (0 for the first): the exponential
 * value capped at maxDelayMs, then "equal jitter" — half fixed, half random —
 * so that clients dropped together by a restart do not return together.
 * `random` returns a number in [0, 1).
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponential = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** attempt);
  return Math.round(exponential / 2 + (exponential / 2) * random());
}
