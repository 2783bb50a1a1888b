/**
 * `ctx.log` lines of a `cpu: true` method (a CPU pool thread) go the way of
 * every other line of the server: to a programmatic `logger` given to
 * createServer, and in the `--log-format` of `shoal serve` (pretty here),
 * never as JSON on stderr past them. The thread posts each line to its
 * connection worker, which sends them on its lane to the primary, the one
 * writer.
 */
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startShoal, type ShoalProcess } from '../helpers/shoal-process.ts';
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

describe('ctx.log in a cpu: true method', () => {
  it('reaches a programmatic logger, at its level, with the connection', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    server = await startServer({ app: APP, workers: 1, logger });
    client = await EnvelopeClient.open(`${server.origin}/`, MSGPACK_PROTOCOL);
    expect(await client.call(1, 'logEveryLevel', 'marker-to-logger')).toEqual([2, 1, 'logged']);
    const marked = (): Record<string, unknown>[] => lines.filter((line) => line.marker === 'marker-to-logger');
    await eventually('the warn line in the logger', () => marked().some((line) => line.msg === 'cpu warn line'));
    // pino's numeric levels: debug 20, info 30, warn 40.
    expect(marked().map((line) => [line.level, line.msg])).toEqual([
      [20, 'cpu debug line'],
      [30, 'cpu info line'],
      [40, 'cpu warn line'],
    ]);
    expect(marked()[0]).toMatchObject({ conn: expect.any(String), worker: expect.any(Number) });
  }, 60_000);

  it('is written in the server --log-format (pretty), not as JSON', async () => {
    node = await startShoal(['--app', APP, '--workers', '1', '--log-level', 'info', '--log-format', 'pretty']);
    client = await EnvelopeClient.open(`ws://127.0.0.1:${node.port}/`, MSGPACK_PROTOCOL);
    expect(await client.call(1, 'logEveryLevel', 'marker-pretty')).toEqual([2, 1, 'logged']);
    const started = node;
    const warnLine = (): string | undefined => started.output().split('\n').find((line) => line.includes('cpu warn line'));
    await eventually('the warn line', () => warnLine() !== undefined);
    // pino-pretty with PRETTY_OPTIONS: `[HH:MM:ss.l] LEVEL: [w<worker> <conn>] msg`, fields on the lines below.
    expect(warnLine()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: \[w\d+ \S+\] cpu warn line$/);
    expect(started.output()).toContain('cpu info line');
    expect(started.output()).not.toContain('cpu debug line');
    expect(started.output().split('\n').filter((line) => line.startsWith('{') && line.includes('marker-pretty'))).toEqual([]);
  }, 60_000);
});
