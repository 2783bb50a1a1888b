/**
 * Captures this thread's log lines (telemetry/logger.ts) as parsed JSON
 * objects, for tests of code that logs in-process; `restore` puts back a
 * logger on stderr. Also resets the thread's rate limit, so lines of earlier
 * tests do not suppress this test's lines.
 */
import { createPinoLogger, setThreadLogger, stderrDestination, type LogLevel } from '../../src/telemetry/logger.ts';
import { DEFAULT_LOG_RATE_LIMIT, setLogRateLimit, type LogRateLimit } from '../../src/telemetry/rate-limited-log.ts';

export interface CapturedLogs {
  /** Every line so far, parsed. */
  readonly lines: Record<string, unknown>[];
  restore(): void;
}

export function captureLogs(level: LogLevel = 'trace', limit: LogRateLimit = DEFAULT_LOG_RATE_LIMIT): CapturedLogs {
  const lines: Record<string, unknown>[] = [];
  setThreadLogger(createPinoLogger(level, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }));
  setLogRateLimit(limit);
  return {
    lines,
    restore() {
      setThreadLogger(() => createPinoLogger('info', stderrDestination()));
      setLogRateLimit(DEFAULT_LOG_RATE_LIMIT);
    },
  };
}
