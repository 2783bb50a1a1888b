/**
 * Optional CPU-heavy methods (`{ handler, cpu: true }`) run on a separate
 * piscina pool, so a long computation never stalls the connections of the
 * worker that received the request. The pool is per connection worker,
 * created on the first CPU request, and its threads exit when idle.
 *
 * A CPU handler runs in another thread: it gets the request data and a
 * reduced context (address, protocol; no sending), and its result is copied
 * back with the structured clone. A handler that exceeds its timeout is
 * aborted: piscina terminates the thread running it, so a runaway
 * computation does not keep a core busy.
 *
 * Log lines: a pool thread posts each `ctx.log` line (JSON) on a
 * BroadcastChannel of its pool, at once (between tasks piscina blocks the
 * thread in Atomics.wait, so nothing may wait for a later turn there); the
 * pool hands them to `logLines`, which in a connection worker is the
 * worker's own line destination: they reach the primary on the lane and go
 * where the workers' lines go (`--log-format`, a programmatic logger).
 */
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { LogLevel } from '../telemetry/logger.ts';

/** What a CPU pool thread receives. */
export interface CpuTask {
  /** `echo` or an absolute path to the app module, as the connection workers load it. */
  readonly app: string;
  readonly method: string;
  readonly data: unknown;
  readonly address: string;
  readonly protocol: string | null;
}

/** What a CPU pool thread answers: a value, or an AppError's fields (errors lose their class across threads). */
export type CpuOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly data: unknown };

export interface CpuPoolOptions {
  /** URL of the CPU thread's entry module (src/workers/entry-urls.ts). */
  readonly workerFilename: string;
  /** Threads of this pool (one pool per connection worker). */
  readonly maxThreads: number;
  /** An idle pool thread exits after this long. */
  readonly idleTimeoutMs: number;
  /** The server's `logLevel`: the lowest level of the threads' `ctx.log` lines. */
  readonly logLevel: LogLevel;
  /** Where the threads' log lines go (JSON, each with its newline); without it they write to stderr themselves. */
  readonly logLines?: (lines: string) => void;
}

/** What a CPU pool thread is started with (its `workerData`). */
export interface CpuWorkerData {
  readonly logLevel: LogLevel;
  /** The BroadcastChannel to post each log line on; null: write to stderr. */
  readonly logChannel: string | null;
}

/** Pools made by this thread, for unique channel names. */
let poolsMade = 0;

/** The CPU pool of one connection worker. */
export class CpuPool {
  readonly #app: string;
  readonly #pool: Piscina<CpuTask, CpuOutcome>;
  /** Where the threads post their log lines (null without `logLines`). */
  readonly #logChannel: BroadcastChannel | null;

  constructor(app: string, options: CpuPoolOptions) {
    this.#app = app;
    const logLines = options.logLines;
    let logChannel: BroadcastChannel | null = null;
    if (logLines !== undefined) {
      logChannel = new BroadcastChannel(`shoal-cpu-log:${process.pid}:${threadId}:${++poolsMade}`);
      logChannel.onmessage = (event: unknown) => {
        const line = (event as { data: unknown }).data;
        if (typeof line === 'string') logLines(line);
      };
      // The pool's threads keep the worker alive while they run, not this channel.
      logChannel.unref();
    }
    this.#logChannel = logChannel;
    this.#pool = new Piscina<CpuTask, CpuOutcome>({
      filename: options.workerFilename,
      minThreads: 0,
      maxThreads: options.maxThreads,
      idleTimeout: options.idleTimeoutMs,
      workerData: { logLevel: options.logLevel, logChannel: logChannel?.name ?? null } satisfies CpuWorkerData,
    });
  }

  /**
   * Run a method of the app in a pool thread. Rejects when the handler throws
   * something other than an AppError, or with an AbortError when `signal`
   * aborts (the thread is terminated).
   */
  run(method: string, data: unknown, address: string, protocol: string | null, signal: AbortSignal): Promise<CpuOutcome> {
    return this.#pool.run({ app: this.#app, method, data, address, protocol }, { signal });
  }

  /** Stop the pool's threads. */
  async close(): Promise<void> {
    await this.#pool.close({ force: true });
    this.#logChannel?.close();
  }
}
