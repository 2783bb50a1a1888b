/**
 * The logger of this thread, for every layer that logs (server, workers,
 * transport, actors, app; protocol and codec stay pure and never log).
 *
 *   import { log } from '../telemetry/logger.ts';
 *   log().warn({ err: error, url }, 'upgrade hook failed');
 *
 * `log()` returns the thread's root logger, created on first use from the
 * factory its start-up installed (`setThreadLogger`): in a connection worker,
 * pino writing JSON lines that go to the primary in batches
 * (batched-line-destination.ts); in the primary, what `createServer` or the
 * CLI chose. Until something is installed, pino writes JSON lines to stderr
 * asynchronously. pino is loaded on the first line, never at import, so a
 * thread that logs nothing never pays for it (about 45 ms and 750 KiB of heap
 * to load, measured with require on this machine).
 *
 * Every line carries `time` (ISO 8601), `level` (its name), `pid`, `worker`
 * (the threadId; 0 is the primary) and `msg`; lines about one connection add
 * `conn` (its Shoal address) and `peer` (the client's IP).
 */
import { createRequire } from 'node:module';
import { threadId } from 'node:worker_threads';
import type { DestinationStream, LoggerOptions, pino as PinoFunction } from 'pino';

/** Level names, lowest first; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** JSON lines, or lines for people (pino-pretty). */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** One log method, as pino has it: `(fields, msg)` or `(msg)`. */
export interface LogFn {
  (fields: object, msg?: string): void;
  (msg: string): void;
}

/**
 * What Shoal needs of a logger: pino's methods, `child` and `level`. A pino
 * logger fits, and so does any logger with the same shape.
 */
export interface Logger {
  level: string;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

/** Where pino writes: anything with `write(line)`. */
export interface LineDestination {
  write(line: string): void;
}

const require = createRequire(import.meta.url);

/** pino itself, loaded on first use. */
export function loadPino(): typeof PinoFunction {
  return require('pino') as typeof PinoFunction;
}

/** True for a level name Shoal accepts. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * The options every Shoal pino logger shares: level names rather than
 * numbers, ISO time, `pid` and `worker` on every line, no hostname.
 */
export function pinoOptions(level: LogLevel): LoggerOptions {
  const pino = loadPino();
  return {
    level,
    base: { pid: process.pid, worker: threadId },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
}

/** A pino logger at `level` writing JSON lines to `destination`. */
export function createPinoLogger(level: LogLevel, destination: LineDestination): Logger {
  return loadPino()(pinoOptions(level), destination as DestinationStream) as unknown as Logger;
}

/**
 * The default destination of a process: pino's asynchronous stderr writer
 * (sonic-boom), flushed by pino when the process exits.
 */
export function stderrDestination(): LineDestination {
  return loadPino().destination({ fd: 2, sync: false });
}

let threadLogger: Logger | null = null;
let threadFactory: (() => Logger) | null = null;

/** This thread's logger (created on the first call). */
export function log(): Logger {
  threadLogger ??= threadFactory === null ? createPinoLogger('info', stderrDestination()) : threadFactory();
  return threadLogger;
}

/**
 * Installs this thread's logger, or a factory that makes it on first use.
 * A worker's start-up calls it once; the CLI once in the primary.
 */
export function setThreadLogger(logger: Logger | (() => Logger)): void {
  if (typeof logger === 'function') {
    threadFactory = logger;
    threadLogger = null;
  } else {
    threadFactory = null;
    threadLogger = logger;
  }
}
