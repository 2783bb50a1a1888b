/**
 * A pino destination that never blocks: lines are appended to a string and
 * handed to `post` once per event-loop turn (setImmediate). A connection
 * worker posts them to the primary on its lane, and the primary writes them
 * where its own lines go (stderr or the programmatic logger), so the lines
 * of every thread leave through one writer and never interleave mid-line.
 *
 * Why this rather than pino's asynchronous destination or a transport
 * thread: docs/operations.md, "Why the workers log through the primary"
 * (argued, not yet measured).
 *
 * Bounded: past MAX_PENDING_CHARS in one turn, lines are dropped and the
 * next batch starts with a line saying how many.
 */
import { threadId } from 'node:worker_threads';
import type { LineDestination } from './logger.ts';

/** Characters of log lines one turn may hold (about 4 MiB of ASCII). */
export const MAX_PENDING_CHARS = 4 * 1024 * 1024;

export class BatchedLineDestination implements LineDestination {
  #post: (lines: string) => void;
  #pending: string;
  #dropped: number;
  #scheduled: boolean;

  constructor(post: (lines: string) => void) {
    this.#post = post;
    this.#pending = '';
    this.#dropped = 0;
    this.#scheduled = false;
  }

  /** pino's call: one serialized line, newline included. */
  write(line: string): void {
    if (this.#pending.length + line.length > MAX_PENDING_CHARS) {
      this.#dropped++;
    } else {
      this.#pending += line;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.flush);
  }

  /** Bound once: posts what the turn wrote. Also callable directly (e.g. before the thread ends). */
  readonly flush = (): void => {
    this.#scheduled = false;
    let lines = this.#pending;
    this.#pending = '';
    if (this.#dropped > 0) {
      lines = `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), pid: process.pid, worker: threadId, msg: `dropped ${this.#dropped} log lines: more than ${MAX_PENDING_CHARS} characters in one turn` })}\n${lines}`;
      this.#dropped = 0;
    }
    if (lines !== '') this.#post(lines);
  };
}
