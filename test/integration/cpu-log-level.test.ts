/**
 * `ctx.log` in a `cpu: true` method (a CPU pool thread, workers/cpu-worker.ts)
 * honours the server's `--log-level`: `shoal serve` at `warn` writes the
 * handler's warn line only, at `debug` all three (debug, info, warn). The
 * thread writes its lines in order, so once the warn line (the last) is out,
 * any earlier line would be too.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startShoal, type ShoalProcess } from '../helpers/shoal-process.ts';
import { EnvelopeClient, MSGPACK_PROTOCOL } from './shoal-helpers.ts';

const APP = fileURLToPath(new URL('./apps/cpu-log-app.ts', import.meta.url));

let node: ShoalProcess | null = null;
let client: EnvelopeClient | null = null;

afterEach(async () => {
  client?.close();
  client = null;
  await node?.stop();
  node = null;
});

/** The parsed JSON lines of the node's output that carry `marker`. */
function linesWith(output: string, marker: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes(marker))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function logFromCpuThread(level: string, marker: string): Promise<Record<string, unknown>[]> {
  node = await startShoal(['--app', APP, '--workers', '1', '--log-level', level, '--log-format', 'json']);
  client = await EnvelopeClient.open(`ws://127.0.0.1:${node.port}/`, MSGPACK_PROTOCOL);
  expect(await client.call(1, 'logEveryLevel', marker)).toEqual([2, 1, 'logged']);
  const started = node;
  await eventually('the warn line', () => linesWith(started.output(), marker).some((line) => line.msg === 'cpu warn line'));
  return linesWith(started.output(), marker);
}

describe('ctx.log in a cpu: true method', () => {
  it('writes only what the server logLevel lets through (warn)', async () => {
    const lines = await logFromCpuThread('warn', 'marker-at-warn');
    expect(lines.map((line) => [line.level, line.msg])).toEqual([['warn', 'cpu warn line']]);
    expect(lines[0]).toMatchObject({ marker: 'marker-at-warn', conn: expect.any(String) });
  }, 60_000);

  it('writes debug lines when the server logs at debug', async () => {
    const lines = await logFromCpuThread('debug', 'marker-at-debug');
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      ['debug', 'cpu debug line'],
      ['info', 'cpu info line'],
      ['warn', 'cpu warn line'],
    ]);
  }, 60_000);
});
