/**
 * `ctx.log` in a `cpu: true` method (a CPU pool thread, workers/cpu-worker.ts)
 * goes the way of every other line of the server: at the server's
 * `--log-level`, in its `--log-format`, or to a programmatic `logger` given
 * to createServer, never as JSON on stderr past them. The thread posts each
 * line to its connection worker, which sends them on its lane to the
 * primary, the one writer. The thread writes its lines in order, so once the
 * warn line (the last) is out, any earlier line would be too.
 */
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startShoal, type ShoalProcess } from '../helpers/shoal-process.ts';
import { until } from '../helpers/until.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { EnvelopeClient, MSGPACK_PROTOCOL } from './shoal-helpers.ts';

const APP = fileURLToPath(new URL('./apps/cpu-log-app.ts', import.meta.url));

let node: ShoalProcess | null = null;
let server: TestServer | null = null;
let client: EnvelopeClient | null = null;

afterEach(async () => {
  client?.close();
  client = null;
  await node?.stop();
  node = null;
  await server?.close();
  server = null;
});

/** The parsed JSON lines of `output` that carry `marker`. */
function jsonLinesWith(output: string, marker: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes(marker))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Runs `shoal serve` at `level` in `format`, has the CPU thread log every level with `marker`, and returns the output once its warn line is out. */
async function logFromCpuThread(level: string, format: 'json' | 'pretty', marker: string): Promise<string> {
  node = await startShoal(['--app', APP, '--workers', '1', '--log-level', level, '--log-format', format]);
  client = await EnvelopeClient.open(`ws://127.0.0.1:${node.port}/`, MSGPACK_PROTOCOL);
  expect(await client.call(1, 'logEveryLevel', marker)).toEqual([2, 1, 'logged']);
  const started = node;
  await until(() => started.output().includes('cpu warn line'), 'the warn line');
  return started.output();
}

describe('ctx.log in a cpu: true method', () => {
  it('writes only what the server logLevel lets through (warn)', async () => {
    const lines = jsonLinesWith(await logFromCpuThread('warn', 'json', 'marker-at-warn'), 'marker-at-warn');
    expect(lines.map((line) => [line.level, line.msg])).toEqual([['warn', 'cpu warn line']]);
    expect(lines[0]).toMatchObject({ marker: 'marker-at-warn', conn: expect.any(String) });
  }, 60_000);

  it('writes debug lines when the server logs at debug', async () => {
    const lines = jsonLinesWith(await logFromCpuThread('debug', 'json', 'marker-at-debug'), 'marker-at-debug');
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      ['debug', 'cpu debug line'],
      ['info', 'cpu info line'],
      ['warn', 'cpu warn line'],
    ]);
  }, 60_000);

  it('is written in the server --log-format (pretty), not as JSON', async () => {
    const output = await logFromCpuThread('info', 'pretty', 'marker-pretty');
    // pino-pretty with PRETTY_OPTIONS: `[HH:MM:ss.l] LEVEL: [w<worker> <conn>] msg`, fields on the lines below.
    expect(output.split('\n').find((line) => line.includes('cpu warn line'))).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: \[w\d+ \S+\] cpu warn line$/);
    expect(output).toContain('cpu info line');
    expect(output).not.toContain('cpu debug line');
    expect(jsonLinesWith(output, 'marker-pretty')).toEqual([]);
  }, 60_000);

  it('keeps a line logged just before the handler times out and its thread is terminated', async () => {
    node = await startShoal(['--app', APP, '--workers', '1', '--log-format', 'json']);
    client = await EnvelopeClient.open(`ws://127.0.0.1:${node.port}/`, MSGPACK_PROTOCOL);
    // The pool's thread starts and loads the app on its first task, inside that task's time: a first task that only
    // logs, so that the timed one starts at once (the timeout leaves room for a loaded machine's scheduling).
    expect(await client.call(1, 'logEveryLevel', 'marker-warm-up')).toEqual([2, 1, 'logged']);
    expect(await client.call(2, 'logThenSpin', 'marker-timeout')).toEqual([3, 2, { code: 'TIMEOUT', message: 'method "logThenSpin" did not answer within 2000 ms' }]);
    const started = node;
    await until(() => started.output().includes('cpu line before the timeout'), 'the line logged before the timeout');
    const lines = jsonLinesWith(started.output(), 'marker-timeout');
    expect(lines.map((line) => [line.level, line.msg])).toEqual([['warn', 'cpu line before the timeout']]);
    // The worker and its connection go on after the terminated thread.
    expect(await client.call(3, 'logEveryLevel', 'marker-after-timeout')).toEqual([2, 3, 'logged']);
  }, 60_000);

  it('reaches a programmatic logger, at its level, with the connection', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    server = await startServer({ app: APP, workers: 1, logger });
    client = await EnvelopeClient.open(`${server.origin}/`, MSGPACK_PROTOCOL);
    expect(await client.call(1, 'logEveryLevel', 'marker-to-logger')).toEqual([2, 1, 'logged']);
    const marked = (): Record<string, unknown>[] => lines.filter((line) => line.marker === 'marker-to-logger');
    await until(() => marked().some((line) => line.msg === 'cpu warn line'), 'the warn line in the logger');
    // pino's numeric levels: debug 20, info 30, warn 40.
    expect(marked().map((line) => [line.level, line.msg])).toEqual([
      [20, 'cpu debug line'],
      [30, 'cpu info line'],
      [40, 'cpu warn line'],
    ]);
    expect(marked()[0]).toMatchObject({ conn: expect.any(String), worker: expect.any(Number) });
  }, 60_000);
});
