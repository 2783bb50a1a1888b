/**
 * Where a server's log lines go, its workers' included. Workers write JSON
 * lines that reach the primary in batches on their lanes
 * (telemetry/batched-line-destination.ts); the primary writes them:
 *
 * - with no `logger` option, in `json` format: as they are, to pino's
 *   asynchronous stderr writer (no parsing, no second serialization), the
 *   same writer the primary's own lines use, so lines never interleave;
 * - in `pretty` format: through pino-pretty (loaded only then) to stderr;
 * - with a `logger`: each line parsed and logged again on it at its level,
 *   with its fields (`worker`, `conn`, `err`, ...) and message; the logger
 *   stamps its own time (at most a turn of each thread later).
 */
import { createRequire } from 'node:module';
import { threadId } from 'node:worker_threads';
import type { PinoPretty, PrettyOptions } from 'pino-pretty';
import { createPinoLogger, stderrDestination, type LineDestination, type LogFormat, type Logger, type LogLevel, isLogLevel } from '../telemetry/logger.ts';

/** What a server logs with. */
export interface LogOutput {
  /** The primary's logger. */
  readonly logger: Logger;
  /** The level the workers filter at. */
  readonly level: LogLevel;
  /** Writes a batch of worker lines (JSON, one per line). */
  writeLines(lines: string): void;
}

const require = createRequire(import.meta.url);

/** Levels a relayed line may name; anything else is logged at info. */
const RELAY_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

/** One stderr writer per format per process, shared by its servers. */
const stderrWriters = new Map<LogFormat, LineDestination>();

/** pino-pretty's options: time of day, level, `[w<worker> <conn>] msg`, other fields below. */
export const PRETTY_OPTIONS: PrettyOptions = {
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname,worker,conn',
  messageFormat: '[w{worker}{if conn} {conn}{end}] {msg}',
};

function stderrWriter(format: LogFormat): LineDestination {
  let writer = stderrWriters.get(format);
  if (writer === undefined) {
    if (format === 'json') {
      writer = stderrDestination();
    } else {
      const pretty = require('pino-pretty') as typeof PinoPretty;
      writer = pretty({ ...PRETTY_OPTIONS, destination: 2, colorize: process.stderr.isTTY === true });
    }
    stderrWriters.set(format, writer);
  }
  return writer;
}

/** The output of a server with these options (see the top of the file). */
export function createLogOutput(options: { readonly logger: Logger | null; readonly logLevel: LogLevel; readonly logFormat: LogFormat }): LogOutput {
  const given = options.logger;
  if (given !== null) {
    return {
      logger: given.child({ worker: threadId }),
      level: isLogLevel(given.level) ? given.level : options.logLevel,
      writeLines: (lines) => relayLines(given, lines),
    };
  }
  const writer = stderrWriter(options.logFormat);
  return {
    logger: createPinoLogger(options.logLevel, writer),
    level: options.logLevel,
    writeLines: (lines) => writer.write(lines),
  };
}

/** Logs each JSON line of `lines` again on `target`, at its level, without its time, level and pid. */
export function relayLines(target: Logger, lines: string): void {
  let start = 0;
  while (start < lines.length) {
    let end = lines.indexOf('\n', start);
    if (end === -1) end = lines.length;
    const line = lines.slice(start, end);
    start = end + 1;
    if (line === '') continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      target.warn({ line }, 'a worker log line is not JSON');
      continue;
    }
    const { level, time: _time, pid: _pid, msg, ...fields } = entry;
    if (isSerializedError(fields.err)) fields.err = revivedError(fields.err);
    const method = typeof level === 'string' && RELAY_LEVELS.has(level) ? (level as 'info') : 'info';
    target[method](fields, typeof msg === 'string' ? msg : '');
  }
}

/** What pino's error serializer made of an Error: `type`, `message`, `stack`, and its own fields. */
interface SerializedError {
  type: string;
  message: string;
  stack?: string;
  [field: string]: unknown;
}

function isSerializedError(value: unknown): value is SerializedError {
  return typeof value === 'object' && value !== null && typeof (value as SerializedError).type === 'string' && typeof (value as SerializedError).message === 'string';
}

/**
 * An object pino's error serializer turns back into the same `err` fields:
 * it reads the type from the constructor's name, so the object gets a
 * constructor of that name (a plain object would come out as type "Object").
 */
function revivedError(serialized: SerializedError): object {
  const { type, ...fields } = serialized;
  const constructor = { [type]: function () {} }[type] as () => void;
  return Object.assign(Object.create(constructor.prototype as object) as object, fields);
}
