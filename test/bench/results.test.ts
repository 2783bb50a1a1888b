import { describe, expect, it } from 'vitest';
import { TLS_LABEL_SUFFIX, computeRatios, computeScaling, computeTlsCost } from '../../bench/load/results.ts';
import type { ScenarioResult, TargetReport } from '../../bench/load/results.ts';

function target(id: string, kind: TargetReport['kind'], status: TargetReport['status'] = 'ok'): TargetReport {
  return { id, name: id, kind, workers: kind === 'shoal' ? 1 : null, tls: false, status, reason: null, description: null, url: null };
}

function result(targetId: string, label: string, rate: number, extra: ScenarioResult['extra'] = {}, status: ScenarioResult['status'] = 'ok'): ScenarioResult {
  return {
    target: targetId,
    scenario: label.startsWith('idle') ? 'idle' : 'echo',
    label,
    status,
    reason: null,
    params: { connections: 1, inflight: 1, payloadBytes: 1, subscribers: 0, publishers: 0, concurrency: 0 },
    windowSec: 1,
    rate: { value: rate, unit: label.startsWith('idle') ? 'connections' : 'messages/s' },
    bytesPerSec: 0,
    latencyOf: 'round trip',
    latencyUs: { count: 1, mean: 1, p50: 1, p90: 1, p99: 1, p99_9: 1, max: 1 },
    errors: { handshakeFailures: 0, unexpectedCloses: 0, protocolErrors: 0, timeouts: 0, total: 0 },
    errorSamples: [],
    server: { cpuCores: null, cpuPrimaryCores: null, cpuWorkersCores: null, rssBytes: null, rssPeakBytes: null },
    generator: { threads: 1, cpuMax: 0, cpuProcess: 0, saturated: false, hitMessageCap: false },
    extra,
  };
}

describe('ratios against peers from the same run', () => {
  const targets = [target('shoal-w1', 'shoal'), target('shoal-w2', 'shoal'), target('ws', 'peer'), target('bun', 'peer')];

  it('divides each Shoal rate by each peer rate (> 1 = Shoal better)', () => {
    const ratios = computeRatios(targets, [result('shoal-w1', 'echo', 300), result('shoal-w2', 'echo', 600), result('ws', 'echo', 200), result('bun', 'echo', 600)]);
    expect(ratios.map((r) => [r.target, r.peer, r.ratio])).toEqual([
      ['shoal-w1', 'ws', 1.5],
      ['shoal-w1', 'bun', 0.5],
      ['shoal-w2', 'ws', 3],
      ['shoal-w2', 'bun', 1],
    ]);
  });
  it('compares idle memory the other way round: peer bytes / Shoal bytes', () => {
    const ratios = computeRatios(targets.slice(0, 3), [
      result('shoal-w1', 'idle', 10, { bytesPerConnection: 2000 }),
      result('ws', 'idle', 10, { bytesPerConnection: 5000 }),
    ]);
    expect(ratios).toEqual([{ label: 'idle', target: 'shoal-w1', peer: 'ws', metric: 'bytesPerConnection', targetValue: 2000, peerValue: 5000, ratio: 2.5 }]);
  });
  it('leaves out failed, skipped and zero results', () => {
    expect(
      computeRatios(targets, [
        result('shoal-w1', 'echo', 300),
        result('ws', 'echo', 0),
        result('bun', 'echo', 0, {}, 'skipped'),
        result('shoal-w2', 'echo', 100, {}, 'failed'),
      ]),
    ).toEqual([]);
  });
});

describe('TLS cost (--tls)', () => {
  const tls = (plan: TargetReport): TargetReport => ({ ...plan, id: `${plan.id}-tls`, name: `${plan.name} tls`, tls: true });
  const targets = [target('shoal-w1', 'shoal'), tls(target('shoal-w1', 'shoal')), target('ws', 'peer'), tls(target('ws', 'peer'))];
  const over = (label: string): string => `${label}${TLS_LABEL_SUFFIX}`;

  it('divides each TLS rate by the same target\'s plain rate, scenario by scenario', () => {
    const costs = computeTlsCost(targets, [
      result('shoal-w1', 'echo', 400),
      result('shoal-w1-tls', over('echo'), 100),
      result('ws', 'echo', 200),
      result('ws-tls', over('echo'), 150),
    ]);
    expect(costs.map((c) => [c.target, c.plainTarget, c.label, c.ratio])).toEqual([
      ['shoal-w1-tls', 'shoal-w1', 'echo', 0.25],
      ['ws-tls', 'ws', 'echo', 0.75],
    ]);
  });

  it('leaves out pairs where either side failed or measured nothing', () => {
    expect(
      computeTlsCost(targets, [
        result('shoal-w1', 'echo', 0),
        result('shoal-w1-tls', over('echo'), 100),
        result('ws', 'echo', 200),
        result('ws-tls', over('echo'), 150, {}, 'failed'),
      ]),
    ).toEqual([]);
  });

  it('never compares a TLS target with a plain peer', () => {
    const ratios = computeRatios(targets, [result('shoal-w1-tls', over('echo'), 100), result('ws', 'echo', 200), result('ws-tls', over('echo'), 50)]);
    expect(ratios.map((r) => [r.target, r.peer, r.ratio])).toEqual([['shoal-w1-tls', 'ws-tls', 2]]);
  });
});

describe('worker scaling of the Shoal sweep', () => {
  const sweep = (workers: number): TargetReport => ({ ...target(`shoal-w${workers}`, 'shoal'), workers });
  const withCpu = (r: ScenarioResult, total: number, primary: number, workers: number): ScenarioResult => ({
    ...r,
    server: { cpuCores: total, cpuPrimaryCores: primary, cpuWorkersCores: workers, rssBytes: null, rssPeakBytes: null },
  });

  it('gives (rate at N) / (N x rate at 1), the primary\'s CPU share and CPU per operation by thread role', () => {
    const points = computeScaling(
      [sweep(1), sweep(2), sweep(4), target('ws', 'peer')],
      [
        withCpu(result('shoal-w1', 'echo', 100_000), 1, 0.1, 0.85),
        withCpu(result('shoal-w2', 'echo', 180_000), 1.8, 0.2, 1.5),
        result('shoal-w4', 'echo', 200_000),
        withCpu(result('ws', 'echo', 50_000), 1, 1, 0),
      ],
    );
    expect(points.map((p) => [p.target, p.efficiency])).toEqual([
      ['shoal-w1', 1],
      ['shoal-w2', 0.9],
      ['shoal-w4', 0.5],
    ]);
    const [one, two, four] = points;
    expect(one.primaryCpuShare).toBeCloseTo(0.1);
    expect(one.primaryUsPerOp).toBeCloseTo(1);
    expect(one.workersUsPerOp).toBeCloseTo(8.5);
    expect(two.primaryCpuShare).toBeCloseTo(0.2 / 1.8);
    expect(two.workersUsPerOp).toBeCloseTo(1.5 / 180_000 * 1e6);
    // No per-thread CPU (an external target, or no /proc): unknown, not zero.
    expect([four.primaryCpuShare, four.primaryUsPerOp, four.workersUsPerOp]).toEqual([null, null, null]);
  });

  it('has no efficiency without a 1-worker result, and leaves out idle, failed and zero results', () => {
    const points = computeScaling(
      [sweep(1), sweep(2), sweep(4)],
      [
        result('shoal-w1', 'echo', 0, {}, 'failed'),
        result('shoal-w2', 'echo', 100),
        result('shoal-w4', 'echo', 0),
        result('shoal-w1', 'idle', 100),
      ],
    );
    expect(points.map((p) => [p.target, p.efficiency])).toEqual([['shoal-w2', null]]);
  });
});
