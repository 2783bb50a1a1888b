import { describe, expect, it } from 'vitest';
import { TLS_LABEL_SUFFIX, computeRatios, computeTlsCost } from '../../bench/load/results.ts';
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
    server: { cpuCores: null, rssBytes: null, rssPeakBytes: null },
    generator: { threads: 1, cpuMax: 0, saturated: false, hitMessageCap: false },
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
