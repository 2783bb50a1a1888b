/**
 * The bare Node peer (bench/peers/node-server.ts, `shoal bench --against
 * node`): it runs connect, echo (small and over 64 KiB, the 8-byte length)
 * and idle without errors through the harness, is skipped with its reason in
 * the other scenarios, and its `--net` variant answers a handshake, an echo,
 * a ping and a close by hand. No timing thresholds.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadResultSchema, validateJson } from '../../bench/load/json-schema.ts';
import { parseBenchArgs } from '../../bench/load/options.ts';
import type { BenchReport } from '../../bench/load/results.ts';
import { resultLabels } from '../../bench/load/suite.ts';
import { benchRunner } from '../helpers/bench-run.ts';

const PEER = fileURLToPath(new URL('../../bench/peers/node-server.ts', import.meta.url));
const SCENARIOS = 'connect:concurrency=4,echo:connections=4:inflight=4,echo:size=70000:connections=2:inflight=1,idle:connections=10,rpc:connections=2:inflight=2';
const ARGS = ['--spawn', '--workers', '1', '--against', 'node', '--scenarios', SCENARIOS, '--duration', '1', '--warmup', '0.3'];

const bench = benchRunner('shoal-node-peer-');

describe('shoal bench --against node', () => {
  let report: BenchReport;
  let json: unknown;
  let code: number;

  beforeAll(async () => {
    ({ code, json, report } = await bench.run(ARGS));
  }, 120_000);

  it('parses node as a peer', () => {
    expect(parseBenchArgs(['--against', 'ws,node'], 2).peers).toEqual(['ws', 'node']);
  });

  it('exits with 0 and writes JSON that matches the schema', () => {
    expect(code).toBe(0);
    expect(validateJson(json, loadResultSchema())).toEqual([]);
    expect(report.targets.find((t) => t.id === 'node')?.status).toBe('ok');
  });

  for (const spec of parseBenchArgs(ARGS, 2).scenarios) {
    for (const label of resultLabels(spec)) {
      it(`node, ${label}`, () => {
        const result = report.results.find((r) => r.target === 'node' && r.label === label);
        expect(result).toBeDefined();
        if (spec.name === 'rpc') {
          expect([result?.status, result?.reason]).toEqual(['skipped', 'node peer: runs connect, echo, idle only']);
          return;
        }
        expect([result?.status, result?.reason]).toEqual(['ok', null]);
        expect(result?.errors.total).toBe(0);
        expect(result?.rate?.value).toBeGreaterThan(0);
      });
    }
  }
});

describe('bench/peers/node-server.ts --net', () => {
  it('answers a handshake, echoes a frame, pongs a ping and closes after a close frame', async () => {
    const child = spawn(process.execPath, [PEER, '--port', '0', '--net'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      while (!/listening on ws:\/\/127\.0\.0\.1:(\d+)/.test(out)) await once(child.stdout, 'data');
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
      const closed = once(socket, 'close');
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      const mask = [1, 2, 3, 4];
      const masked = (opcode: number, payload: number[]) => Buffer.from([0x80 | opcode, 0x80 | payload.length, ...mask, ...payload.map((b, i) => b ^ (mask[i & 3] as number))]);
      socket.write(masked(0x2, [7, 8, 9]));
      socket.write(masked(0x9, [5]));
      socket.write(masked(0x8, [0x03, 0xe8]));
      await closed;
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n') + 4;
      expect(text.slice(0, end)).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n[^]*Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
      expect([...received.subarray(end)]).toEqual([0x82, 3, 7, 8, 9, 0x8a, 1, 5, 0x88, 2, 0x03, 0xe8]);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }, 30_000);
});
