/**
 * Log lines whose cause is a peer (a request whose handler throws, an
 * upgrade the hook fails on, a connection that trips a bug), written at most
 * `lines` times per cause per interval (log-limiter.ts); when lines were
 * suppressed, one summary line per cause follows the window's end:
 *
 *   {"level":"error","cause":"method_failed:add","suppressed":490,"msg":"suppressed 490 lines of this cause"}
 *
 * One limiter per thread; the summary timer is unref'd.
 */
import { LogLimiter } from './log-limiter.ts';
import { log, type Logger } from './logger.ts';

/** Levels of rate-limited lines. */
export type LimitedLevel = 'warn' | 'error';

/** The limit unless the server says otherwise: 10 lines per cause per 10 s. */
export const DEFAULT_LOG_RATE_LIMIT: LogRateLimit = { lines: 10, intervalMs: 10_000 };

/** Lines per cause per interval. */
export interface LogRateLimit {
  readonly lines: number;
  readonly intervalMs: number;
}

let limiter = new LogLimiter<LimitedLevel>(DEFAULT_LOG_RATE_LIMIT.lines, DEFAULT_LOG_RATE_LIMIT.intervalMs);
let timer: ReturnType<typeof setTimeout> | null = null;

/** Sets this thread's limit (a worker's start-up does, from the server options); forgets every window. */
export function setLogRateLimit(limit: LogRateLimit): void {
  limiter = new LogLimiter(limit.lines, limit.intervalMs);
  if (timer !== null) clearTimeout(timer);
  timer = null;
}

/**
 * Writes `msg` with `fields` (and `cause`) at `level` on `logger`, unless
 * `cause` has used up its lines for the current interval.
 */
export function logPeerCaused(logger: Logger, level: LimitedLevel, cause: string, fields: Record<string, unknown>, msg: string): void {
  const now = performance.now();
  if (limiter.admit(cause, now, level)) {
    fields.cause = cause;
    logger[level](fields, msg);
    return;
  }
  scheduleReport(now);
}

function scheduleReport(now: number): void {
  if (timer !== null) return;
  const at = limiter.nextReportAt();
  if (at === null) return;
  timer = setTimeout(reportSuppressed, Math.max(0, Math.ceil(at - now)));
  timer.unref();
}

function reportSuppressed(): void {
  timer = null;
  const now = performance.now();
  for (const { cause, suppressed, detail } of limiter.takeSuppressed(now)) {
    log()[detail]({ cause, suppressed }, `suppressed ${suppressed} lines of this cause`);
  }
  scheduleReport(now);
}
