/**
 * LogLimiter: at most `lines` log lines per cause per window of
 * `intervalMs`, and a count of what was suppressed, so that no client can
 * flood the log by repeating a request that fails. Pure: the caller passes
 * the time and writes the lines (rate-limited-log.ts does both).
 *
 * A window starts with a cause's first line. Lines past the limit are
 * counted; once the window has ended, `takeSuppressed` returns the count
 * (once) so the caller can write one summary line. Causes are strings the
 * code chooses (a site, plus a method name at most), never peer input; past
 * `maxCauses` distinct causes at once, new ones share the cause `other`.
 */

/** One cause's current window. */
class CauseWindow<Detail> {
  startedAt: number;
  lines: number;
  suppressed: number;
  /** What the caller passed with the latest line (e.g. its level), returned with the suppressed count. */
  detail: Detail;

  constructor(startedAt: number, detail: Detail) {
    this.startedAt = startedAt;
    this.lines = 0;
    this.suppressed = 0;
    this.detail = detail;
  }
}

/** Lines of one cause not written in a window that has ended. */
export interface SuppressedLines<Detail> {
  readonly cause: string;
  readonly suppressed: number;
  readonly detail: Detail;
}

/** The cause of every line past `maxCauses` distinct causes. */
export const OVERFLOW_CAUSE = 'other';

export class LogLimiter<Detail = undefined> {
  readonly lines: number;
  readonly intervalMs: number;
  readonly maxCauses: number;
  #windows: Map<string, CauseWindow<Detail>>;
  /** Counts of windows that ended while a new line of their cause arrived, not taken yet. */
  #ended: SuppressedLines<Detail>[];

  constructor(lines: number, intervalMs: number, maxCauses: number = 1024) {
    if (!Number.isInteger(lines) || lines < 1) throw new RangeError(`lines must be an integer >= 1, got ${lines}`);
    if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
    this.lines = lines;
    this.intervalMs = intervalMs;
    this.maxCauses = maxCauses;
    this.#windows = new Map();
    this.#ended = [];
  }

  /** Causes with a window open. */
  get size(): number {
    return this.#windows.size;
  }

  /** True when a line of `cause` may be written at `now`; false when it is suppressed (and counted). */
  admit(cause: string, now: number, detail: Detail): boolean {
    let window = this.#windows.get(cause);
    if (window === undefined) {
      if (this.#windows.size >= this.maxCauses) {
        this.#expire(now);
        if (this.#windows.size >= this.maxCauses) cause = OVERFLOW_CAUSE;
      }
      window = this.#windows.get(cause);
      if (window === undefined) {
        window = new CauseWindow(now, detail);
        this.#windows.set(cause, window);
      }
    } else if (now - window.startedAt >= this.intervalMs) {
      if (window.suppressed > 0) this.#ended.push({ cause, suppressed: window.suppressed, detail: window.detail });
      window.startedAt = now;
      window.lines = 0;
      window.suppressed = 0;
    }
    window.detail = detail;
    if (window.lines < this.lines) {
      window.lines++;
      return true;
    }
    window.suppressed++;
    return false;
  }

  /**
   * The suppressed counts of every window that has ended by `now`, each
   * returned once; windows that ended are forgotten.
   */
  takeSuppressed(now: number): SuppressedLines<Detail>[] {
    this.#expire(now);
    const taken = this.#ended;
    this.#ended = [];
    return taken;
  }

  /** The earliest time at which `takeSuppressed` has a count to return; null when nothing is suppressed. */
  nextReportAt(): number | null {
    if (this.#ended.length > 0) return -Infinity;
    let next: number | null = null;
    for (const window of this.#windows.values()) {
      if (window.suppressed === 0) continue;
      const end = window.startedAt + this.intervalMs;
      if (next === null || end < next) next = end;
    }
    return next;
  }

  /** Forgets the windows that have ended, keeping their suppressed counts for `takeSuppressed`. */
  #expire(now: number): void {
    for (const [cause, window] of this.#windows) {
      if (now - window.startedAt < this.intervalMs) continue;
      if (window.suppressed > 0) this.#ended.push({ cause, suppressed: window.suppressed, detail: window.detail });
      this.#windows.delete(cause);
    }
  }
}
