/**
 * Smoke test of the pub/sub benchmarks of issue #11: `raw-broadcast` (raw
 * connections) against Shoal and the ws, Bun and uWS peers, and
 * `cross-node` (a redis-server and two nodes) against Shoal and Socket.IO
 * with its Redis adapter, each for about a second with small numbers.
 * Checks that the numbers are there, that errors are counted as zero, and
 * that deliveries per server CPU-second and their ratios are reported. A
 * peer that cannot run on this machine must be reported as skipped with its
 * reason (never silently dropped); no timing thresholds.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadResultSchema, validateJson } from '../../bench/load/json-schema.ts';
import type { BenchReport, ScenarioResult } from '../../bench/load/results.ts';
import { benchRunner, type BenchRun } from '../helpers/bench-run.ts';

const bench = benchRunner('shoal-bench-pubsub-');
const runBench = (args: string[]): Promise<BenchRun> => bench.run([...args, '--duration', '1', '--warmup', '0.3']);

/** The numbers every measured fan-out result must carry. */
function expectMeasuredFanOut(result: ScenarioResult, subscribers: number): void {
  expect([result.status, result.reason]).toEqual(['ok', null]);
  expect(result.errors).toEqual({ handshakeFailures: 0, unexpectedCloses: 0, protocolErrors: 0, timeouts: 0, total: 0 });
  expect(result.rate.unit).toBe('deliveries/s');
  expect(result.rate.value).toBeGreaterThan(0);
  expect(result.latencyOf).toBe('publish to delivery');
  expect(result.latencyUs.count).toBeGreaterThan(0);
  expect(result.latencyUs.p99).toBeGreaterThanOrEqual(result.latencyUs.p50);
  expect(result.server.cpuCores).toBeGreaterThan(0);
  expect(result.extra.subscribersReady).toBe(subscribers);
  expect(result.extra.publishesPerSec).toBeGreaterThan(0);
  expect(result.extra.deliveryRatio).toBeGreaterThan(0);
  expect(result.extra.deliveriesPerCpuSecond).toBeCloseTo(result.rate.value / result.server.cpuCores!, 3);
}

describe('shoal bench raw-broadcast against Shoal, ws, Bun and uWS', () => {
  let run: { code: number; report: BenchReport; json: unknown };

  beforeAll(async () => {
    run = await runBench(['--workers', '1', '--against', 'ws,bun,uws', '--scenarios', 'raw-broadcast:subscribers=4:publishers=1:inflight=2']);
  }, 180_000);

  it('exits with 0 and writes JSON that matches the schema', () => {
    expect(run.code).toBe(0);
    expect(validateJson(run.json, loadResultSchema())).toEqual([]);
  });

  it('Shoal and the ws peer deliver raw publications to every subscriber, with no errors', () => {
    for (const target of ['shoal-w1', 'ws']) expectMeasuredFanOut(run.report.results.find((r) => r.target === target)!, 4);
  });

  it('Bun and uWS either deliver the same way or are skipped with the reason', () => {
    for (const target of ['bun', 'uws']) {
      const report = run.report.targets.find((t) => t.id === target)!;
      const result = run.report.results.find((r) => r.target === target)!;
      if (report.status === 'ok') expectMeasuredFanOut(result, 4);
      else expect([report.status, result.status, result.reason]).toEqual(['skipped', 'skipped', expect.stringContaining(`${target} peer`)]);
    }
  });

  it('gives the ratio of deliveries per server CPU-second for every peer measured', () => {
    const measured = run.report.targets.filter((t) => t.kind === 'peer' && t.status === 'ok').map((t) => t.id);
    const perCpu = run.report.ratios.filter((r) => r.metric === 'ratePerCpuSecond');
    expect(perCpu.map((r) => r.peer).sort()).toEqual([...measured].sort());
    for (const ratio of perCpu) expect(ratio.ratio).toBeGreaterThan(0);
  });
});

it('raw-broadcast with rate=N paces the publications at N per second in all, whatever the answers', async () => {
  const { code, report } = await runBench(['--workers', '1', '--against', 'none', '--scenarios', 'raw-broadcast:subscribers=4:publishers=2:rate=200']);
  expect(code).toBe(0);
  const [result] = report.results;
  expect(result.label).toBe('raw-broadcast 2 pub -> 4 sub, paced at 200 pub/s');
  expectMeasuredFanOut(result, 4);
  expect(result.extra.targetPublishesPerSec).toBe(200);
  // Never more than asked: at most what fell due over the warm-up and the window (0.3 s + 1 s) sent in the window.
  expect(result.extra.publishesPerSec).toBeLessThanOrEqual(200 * 1.5);
}, 180_000);

describe('shoal bench cross-node against Shoal and Socket.IO on one redis-server', () => {
  let run: { code: number; report: BenchReport; json: unknown };

  beforeAll(async () => {
    run = await runBench(['--workers', '1', '--scenarios', 'cross-node:subscribers=4:publishers=1:inflight=2']);
  }, 180_000);

  it('exits with 0, compares with socketio alone, and writes JSON that matches the schema', () => {
    expect(run.code).toBe(0);
    // redis-server is a system dependency of the tests (scripts/system-deps.sh); a missing one shows here with the reason.
    expect(run.report.targets.map((t) => [t.id, t.status, t.reason])).toEqual([
      ['shoal-w1', 'ok', null],
      ['socketio', 'ok', null],
    ]);
    expect(validateJson(run.json, loadResultSchema())).toEqual([]);
  });

  for (const target of ['shoal-w1', 'socketio']) {
    it(`${target}: both runs deliver across nodes with no errors; Redis CPU and the pace are reported`, () => {
      const [max, half] = run.report.results.filter((r) => r.target === target);
      expect(max.label).toBe('cross-node 1 pub (node A) -> 4 sub (node B) x2');
      expect(half.label).toBe(`${max.label}: at half the maximum rate`);
      for (const result of [max, half]) {
        expectMeasuredFanOut(result, 4);
        expect(result.extra.cluster).toMatch(/^2 nodes of .* on redis-server /);
        expect(typeof result.extra.redisCpuCores).toBe('number');
      }
      expect(half.extra.targetPublishesPerSec).toBe(Math.round(max.rate.value / 4 / 2));
    });
  }

  it('gives Shoal/Socket.IO ratios of rate and of deliveries per server CPU-second for both runs', () => {
    expect(run.report.ratios.map((r) => [r.metric, r.peer]).sort()).toEqual([
      ['rate', 'socketio'],
      ['rate', 'socketio'],
      ['ratePerCpuSecond', 'socketio'],
      ['ratePerCpuSecond', 'socketio'],
    ]);
  });
});

it('cross-node skips targets without a cluster mode, with the reason', async () => {
  // An external target is never contacted for cross-node (its nodes must be started by the harness).
  const { code, report } = await runBench(['--target', 'ws://127.0.0.1:9/', '--against', 'ws', '--scenarios', 'cross-node:subscribers=2:publishers=1']);
  expect(code).toBe(0);
  expect(report.results.filter((r) => r.target === 'target').map((r) => [r.status, r.reason])).toEqual([
    ['skipped', 'cross-node: needs nodes the harness starts itself (not --target)'],
    ['skipped', 'cross-node: needs nodes the harness starts itself (not --target)'],
  ]);
  const ws = report.results.filter((r) => r.target === 'ws');
  expect(ws.map((r) => [r.status, r.reason])).toEqual([
    ['skipped', 'cross-node: ws has no cluster mode (a single-process server with no broker)'],
    ['skipped', 'cross-node: ws has no cluster mode (a single-process server with no broker)'],
  ]);
  expect(report.targets.find((t) => t.id === 'ws')).toMatchObject({ status: 'skipped', reason: 'cross-node: ws has no cluster mode (a single-process server with no broker)' });
}, 180_000);
