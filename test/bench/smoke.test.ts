/**
 * CI smoke test of `shoal bench` (issue #5): every scenario for about a
 * second against a spawned Shoal and against the ws peer, small N. Checks
 * that the numbers are there and non-zero, that the JSON matches
 * docs/bench-result.schema.json, and that misbehaving servers show up as
 * errors of the right kind. No timing thresholds: a benchmark is not a test.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { loadResultSchema, validateJson } from '../../bench/load/json-schema.ts';
import { benchMain } from '../../bench/load/main.ts';
import { parseBenchArgs } from '../../bench/load/options.ts';
import type { BenchReport, ScenarioResult } from '../../bench/load/results.ts';
import { resultLabels } from '../../bench/load/suite.ts';
import { benchRunner } from '../helpers/bench-run.ts';

const SMOKE_SCENARIOS = [
  'idle:connections=20',
  'connect:concurrency=4',
  'echo:connections=4:inflight=4',
  'rpc:connections=4:inflight=4',
  'broadcast:subscribers=4:publishers=1:inflight=2',
  'http:connections=4',
].join(',');
const SMOKE_ARGS = ['--spawn', '--workers', '1', '--against', 'ws', '--scenarios', SMOKE_SCENARIOS, '--duration', '1', '--warmup', '0.3'];

const bench = benchRunner('shoal-bench-smoke-');
const runBench = bench.run;

describe('shoal bench against a spawned Shoal and the ws peer', () => {
  const labels = parseBenchArgs(SMOKE_ARGS, 2).scenarios.flatMap((spec) => resultLabels(spec));
  let run: { code: number; report: BenchReport; json: unknown };

  beforeAll(async () => {
    run = await runBench(SMOKE_ARGS);
  }, 120_000);

  function resultOf(target: string, label: string): ScenarioResult {
    const result = run.report.results.find((r) => r.target === target && r.label === label);
    if (result === undefined) return expect.fail(`no result for ${target} / ${label}`);
    return result;
  }

  it('exits with 0', () => {
    expect(run.code).toBe(0);
  });

  it('writes JSON that matches the documented schema', () => {
    expect(validateJson(run.json, loadResultSchema())).toEqual([]);
  });

  it('the schema check fails for a damaged document', () => {
    const damaged = structuredClone(run.json) as { results: { rate: { value: unknown } }[]; environment: Record<string, unknown> };
    damaged.results[0].rate.value = 'fast';
    delete damaged.environment.cpus;
    const problems = validateJson(damaged, loadResultSchema());
    expect(problems).toContain('$.results[0].rate.value: expected number, got string');
    expect(problems).toContain('$.environment: missing cpus');
  });

  it('measured both targets and says what ran', () => {
    expect(run.report.targets.map((t) => [t.id, t.status])).toEqual([
      ['shoal-w1', 'ok'],
      ['ws', 'ok'],
    ]);
    expect(run.report.targets[0].description).toMatch(/^Shoal 1 worker thread/);
    expect(run.report.targets[1].description).toMatch(/single process/);
  });

  for (const target of ['shoal-w1', 'ws']) {
    for (const label of labels.filter((l) => !l.endsWith('health endpoint'))) {
      it(`${target}, ${label}: numbers present, non-zero, no errors`, () => {
        const result = resultOf(target, label);
        expect([result.status, result.reason]).toEqual(['ok', null]);
        expect(result.errors).toEqual({ handshakeFailures: 0, unexpectedCloses: 0, protocolErrors: 0, timeouts: 0, total: 0 });
        expect(result.windowSec).toBeGreaterThan(0);
        expect(result.rate.value).toBeGreaterThan(0);
        expect(result.latencyUs.count).toBeGreaterThan(0);
        // autocannon's latencies have 1 ms resolution: a loopback answer's p50 may be 0.
        if (!label.endsWith('app handler GET /')) expect(result.latencyUs.p50).toBeGreaterThan(0);
        expect(result.latencyUs.p99_9).toBeGreaterThanOrEqual(result.latencyUs.p50);
        expect(result.server.rssPeakBytes).toBeGreaterThan(0);
        expect(result.server.cpuCores).not.toBeNull();
        if (result.scenario !== 'connect' && result.scenario !== 'idle') expect(result.bytesPerSec).toBeGreaterThan(0);
        if (result.scenario !== 'idle') {
          expect(result.server.cpuCores).toBeGreaterThan(0);
          expect(result.generator.cpuMax).toBeGreaterThan(0);
        }
      });
    }

    it(`${target}: idle reports memory per connection`, () => {
      const idle = resultOf(target, labels[0]);
      expect(idle.extra.connectionsHeld).toBe(20);
      expect(idle.extra.rssBeforeBytes).toBeGreaterThan(0);
      expect(idle.extra.rssAfterBytes).toBeGreaterThan(0);
      expect(typeof idle.extra.bytesPerConnection).toBe('number');
    });

    it(`${target}: broadcast reports publishes and deliveries`, () => {
      const broadcast = run.report.results.find((r) => r.target === target && r.scenario === 'broadcast')!;
      expect(broadcast.extra.publishesPerSec).toBeGreaterThan(0);
      expect(broadcast.extra.deliveryRatio).toBeGreaterThan(0);
      expect(broadcast.extra.subscribersReady).toBe(4);
    });
  }

  it('skips the health endpoint of the ws peer with the reason', () => {
    const health = resultOf('ws', labels[labels.length - 1]);
    expect([health.status, health.reason]).toEqual(['skipped', 'ws has no admin endpoints']);
  });

  it("measures Shoal's health endpoint, or says why it cannot", () => {
    const health = resultOf('shoal-w1', labels[labels.length - 1]);
    if (health.status === 'ok') expect(health.rate.value).toBeGreaterThan(0);
    else expect([health.status, health.reason]).toEqual(['skipped', expect.stringContaining('admin port')]);
  });

  it('gives a Shoal/ws ratio for every scenario both ran with a non-zero result', () => {
    const measured = (r: ScenarioResult): boolean =>
      r.status === 'ok' && (r.scenario === 'idle' ? typeof r.extra.bytesPerConnection === 'number' && r.extra.bytesPerConnection > 0 : r.rate.value > 0);
    const ok = labels.filter((label) => measured(resultOf('shoal-w1', label)) && measured(resultOf('ws', label)));
    expect(ok.length).toBeGreaterThan(0);
    expect(run.report.ratios.filter((r) => r.metric !== 'ratePerCpuSecond').map((r) => r.label).sort()).toEqual([...ok].sort());
    // Fan-out scenarios also compare deliveries per server CPU-second.
    expect(run.report.ratios.filter((r) => r.metric === 'ratePerCpuSecond').map((r) => r.label)).toEqual(ok.filter((label) => label.startsWith('broadcast')));
    for (const ratio of run.report.ratios) {
      expect([ratio.target, ratio.peer]).toEqual(['shoal-w1', 'ws']);
      expect(ratio.ratio).toBeGreaterThan(0);
    }
  });
});

describe('shoal bench counts errors', () => {
  const servers: WebSocketServer[] = [];

  /** A ws server on 127.0.0.1 with `configure` applied; returns its ws:// URL. */
  async function misbehavingServer(options: ConstructorParameters<typeof WebSocketServer>[0], configure: (wss: WebSocketServer) => void): Promise<string> {
    const wss = new WebSocketServer({ ...options, host: '127.0.0.1', port: 0 });
    servers.push(wss);
    configure(wss);
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
  }

  afterAll(async () => {
    for (const wss of servers) {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });

  async function echoAgainst(url: string, extra: string[] = []): Promise<ScenarioResult> {
    const { code, report, json } = await runBench([
      '--target', url, '--against', 'none', '--scenarios', 'echo:connections=3:inflight=2', '--duration', '0.6', '--warmup', '0', ...extra,
    ]);
    expect(code).toBe(0);
    expect(validateJson(json, loadResultSchema())).toEqual([]);
    expect(report.results).toHaveLength(1);
    expect(report.results[0].status).toBe('ok');
    return report.results[0];
  }

  it('a server that closes each connection after the first message: one unexpected close per connection', async () => {
    const url = await misbehavingServer({}, (wss) =>
      wss.on('connection', (socket) => socket.once('message', () => socket.close(1011, 'closing after the first message'))),
    );
    const result = await echoAgainst(url);
    expect(result.errors).toMatchObject({ unexpectedCloses: 3, handshakeFailures: 0, protocolErrors: 0, timeouts: 0, total: 3 });
    expect(result.errorSamples).toContain('unexpectedClose: server closed with 1011 closing after the first message');
    expect(result.rate.value).toBe(0);
  }, 30_000);

  it('a server that drops TCP without a close frame: unexpected closes', async () => {
    const url = await misbehavingServer({}, (wss) => wss.on('connection', (socket) => socket.once('message', () => socket.terminate())));
    const result = await echoAgainst(url);
    expect(result.errors).toMatchObject({ unexpectedCloses: 3, total: 3 });
    expect(result.errorSamples[0]).toMatch(/^unexpectedClose: /);
  }, 30_000);

  it('a server that never answers: timeouts', async () => {
    const url = await misbehavingServer({}, () => {});
    const result = await echoAgainst(url, ['--timeout-ms', '200']);
    expect(result.errors).toMatchObject({ timeouts: 3, unexpectedCloses: 0, total: 3 });
  }, 30_000);

  it('a server that refuses the handshake: handshake failures', async () => {
    const url = await misbehavingServer({ verifyClient: () => false }, () => {});
    const result = await echoAgainst(url);
    expect(result.errors).toMatchObject({ handshakeFailures: 3, total: 3 });
    expect(result.errorSamples).toContain('handshake: server answered 401 Unauthorized');
  }, 30_000);

  it('a server that answers with the wrong payload: protocol errors', async () => {
    const url = await misbehavingServer({}, (wss) => wss.on('connection', (socket) => socket.on('message', () => socket.send('not the echo'))));
    const result = await echoAgainst(url);
    expect(result.errors).toMatchObject({ protocolErrors: 3, total: 3 });
    expect(result.errorSamples[0]).toMatch(/^protocol: echo mismatch: text of 12 bytes/);
  }, 30_000);

  it('refuses a non-loopback target with exit code 2', async () => {
    expect(await benchMain(['--target', 'ws://192.0.2.1:9001/', '--quiet', '--no-files'])).toBe(2);
  });
});
