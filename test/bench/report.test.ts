import { describe, expect, it } from 'vitest';
import { escapeHtml, renderHtmlReport, svgBars } from '../../bench/load/report-html.ts';
import { formatBytes, formatColumns, formatReport } from '../../bench/load/report-table.ts';
import { RESULT_FORMAT, computeRatios, computeScaling } from '../../bench/load/results.ts';
import type { BenchReport, ScenarioResult, TargetReport } from '../../bench/load/results.ts';

function result(target: string, rate: number, status: ScenarioResult['status'] = 'ok', reason: string | null = null): ScenarioResult {
  return {
    target,
    scenario: 'echo',
    label: 'echo 64 B x16, 50 conn',
    status,
    reason,
    params: { connections: 50, inflight: 16, payloadBytes: 64, subscribers: 0, publishers: 0, concurrency: 0 },
    windowSec: 3,
    rate: { value: rate, unit: 'messages/s' },
    bytesPerSec: rate * 64,
    latencyOf: 'round trip',
    latencyUs: { count: 10, mean: 900, p50: 800, p90: 1500, p99: 2500, p99_9: 9000, max: 9100 },
    errors: { handshakeFailures: 0, unexpectedCloses: 2, protocolErrors: 0, timeouts: 0, total: 2 },
    errorSamples: status === 'ok' && target === 'ws' ? ['unexpectedClose: server closed with 1011 <oops>'] : [],
    server: { cpuCores: 0.75, cpuPrimaryCores: target === 'ws' ? 0.75 : 0.05, cpuWorkersCores: target === 'ws' ? 0 : 0.6, rssBytes: 50 * 2 ** 20, rssPeakBytes: 60 * 2 ** 20 },
    generator: { threads: 1, cpuMax: 0.95, cpuProcess: 1.02, saturated: true, hitMessageCap: false },
    extra: { connectionsOpen: 50 },
  };
}

const targets: TargetReport[] = [
  { id: 'shoal-w1', name: 'shoal w1', kind: 'shoal', workers: 1, tls: false, status: 'ok', reason: null, description: 'Shoal 1 worker', url: 'ws://127.0.0.1:1/' },
  { id: 'ws', name: 'ws', kind: 'peer', workers: null, tls: false, status: 'ok', reason: null, description: 'ws, single process', url: 'ws://127.0.0.1:2/' },
  { id: 'uws', name: 'uws', kind: 'peer', workers: null, tls: false, status: 'skipped', reason: 'no uWebSockets.js build loads', description: null, url: null },
];
const results = [result('shoal-w1', 300_000), result('ws', 100_000), result('uws', 0, 'skipped', 'uws skipped: no uWebSockets.js build loads')];
const report: BenchReport = {
  format: RESULT_FORMAT,
  startedAt: '2025-01-01T00:00:00.000Z',
  finishedAt: '2025-01-01T00:01:00.000Z',
  argv: [],
  environment: {
    node: 'v24.21.0', platform: 'linux', arch: 'x64', cpus: 2, cpuModel: 'Test CPU', totalMemoryBytes: 1, generatorThreads: 1,
    pinning: { enabled: false, description: 'not pinned' }, warmupSec: 1, durationSec: 3,
  },
  targets,
  results,
  ratios: computeRatios(targets, results),
  tlsCost: [],
  scaling: computeScaling(targets, results),
  warnings: ['a generator thread was 95% busy'],
};

describe('terminal report', () => {
  const text = formatReport(report);
  it('has one table per scenario with a row per target', () => {
    expect(text).toContain('== echo 64 B x16, 50 conn (latency: round trip)');
    expect(text).toMatch(/shoal w1\s+300,000\s+19\.2\s+0\.80\s+1\.50\s+2\.50\s+9\.00\s+2\s+75%\s+60\.0 MiB\s+95%!/);
    expect(text).toMatch(/ws\s+100,000/);
  });
  it('shows where Shoal\'s CPU went: the primary\'s share and CPU per message by thread role', () => {
    // 0.05 of 0.75 cores in the primary at 300,000 msg/s: 7%, 0.17 us; workers 0.6 cores: 2.0 us.
    expect(text).toContain('shoal w1: primary 7% of CPU, us/op primary 0.2 + workers 2.0');
  });
  it('shows skipped targets with their reason, error samples, ratios and warnings', () => {
    expect(text).toContain('uws       skipped: uws skipped: no uWebSockets.js build loads');
    expect(text).toContain('ws: unexpectedClose: server closed with 1011 <oops>');
    expect(text).toContain('shoal w1: 3.00x ws');
    expect(text).toContain('  - a generator thread was 95% busy');
  });
  it('aligns columns', () => {
    expect(formatColumns([['a', '1'], ['bbb', '22']], new Set([1]))).toBe('a     1\nbbb  22');
  });
  it('formats sizes', () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(-2048), formatBytes(3 * 2 ** 30), formatBytes(null)]).toEqual(['512 B', '1.5 KiB', '-2.0 KiB', '3.0 GiB', 'n/a']);
  });
});

describe('HTML report', () => {
  const html = renderHtmlReport(report);
  it('is one self-contained document with inline SVG charts and no scripts', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|<link|src=/);
  });
  it('escapes text taken from servers', () => {
    expect(html).not.toContain('<oops>');
    expect(escapeHtml('<a href="x">&</a>')).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
  });
  it('draws bars proportional to the values', () => {
    const svg = svgBars(
      [
        { label: 'a', value: 100, text: '100', color: '#000' },
        { label: 'b', value: 50, text: '50', color: '#000' },
      ],
      't',
    );
    expect([...svg.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]))).toEqual([380, 190]);
  });
  it('lists the ratio and the skipped peer', () => {
    expect(html).toContain('shoal w1 vs ws: <b>3.00x</b>');
    expect(html).toContain('skipped: no uWebSockets.js build loads');
  });
});
