import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { relayLines } from '../../../src/server/log-output.ts';

describe('relayLines', () => {
  it('logs each worker line again on the given logger, at its level, with its fields and message', () => {
    const out: Record<string, unknown>[] = [];
    const target = pino({ level: 'debug', base: null }, { write: (line: string) => void out.push(JSON.parse(line)) });
    const lines =
      `${JSON.stringify({ level: 'error', time: 'T', pid: 1, worker: 4, conn: '4.1', err: { type: 'TypeError', message: 'x', stack: 'TypeError: x\n    at here', code: 'E1' }, msg: 'failed' })}\n` +
      `${JSON.stringify({ level: 'debug', time: 'T', pid: 1, worker: 4, msg: 'detail' })}\n` +
      'not json\n';
    relayLines(target, lines);
    expect(out.map(({ time: _time, ...rest }) => rest)).toEqual([
      { level: 50, worker: 4, conn: '4.1', err: { type: 'TypeError', message: 'x', stack: 'TypeError: x\n    at here', code: 'E1' }, msg: 'failed' },
      { level: 20, worker: 4, msg: 'detail' },
      { level: 40, line: 'not json', msg: 'a worker log line is not JSON' },
    ]);
  });
});
