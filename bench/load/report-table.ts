/**
 * The terminal report: one table per scenario (a row per target), the
 * ratios against each peer measured in the same run, the targets with what
 * ran, and the warnings.
 */
import { FAN_OUT_SCENARIOS } from './options.ts';
import type { BenchReport, Ratio, ScalingPoint, ScenarioResult, TlsCost } from './results.ts';

function pad(text: string, width: number, right: boolean): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** Render rows as aligned columns; columns listed in `rightAligned` are right-aligned. */
export function formatColumns(rows: string[][], rightAligned: ReadonlySet<number>): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => pad(cell, widths[i], rightAligned.has(i))).join('  ').trimEnd()).join('\n');
}

/** 1234567 -> "1,234,567". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes as KiB/MiB/GiB with one decimal. */
export function formatBytes(n: number | null): string {
  if (n === null) return 'n/a';
  const sign = n < 0 ? '-' : '';
  let value = Math.abs(n);
  for (const unit of ['B', 'KiB', 'MiB', 'GiB']) {
    if (value < 1024 || unit === 'GiB') return `${sign}${unit === 'B' ? value.toFixed(0) : value.toFixed(1)} ${unit}`;
    value /= 1024;
  }
  return `${n} B`;
}

function ms(us: number): string {
  return (us / 1000).toFixed(us >= 100_000 ? 0 : 2);
}

function percent(share: number | null): string {
  return share === null ? 'n/a' : `${Math.round(share * 100)}%`;
}

function extraCell(result: ScenarioResult): string {
  const extra = result.extra;
  switch (result.scenario) {
    case 'broadcast':
    case 'raw-broadcast':
    case 'cross-node': {
      const ratio = typeof extra.deliveryRatio === 'number' ? `${(extra.deliveryRatio * 100).toFixed(1)}% delivered` : 'n/a delivered';
      const perCpu = typeof extra.deliveriesPerCpuSecond === 'number' ? formatCount(extra.deliveriesPerCpuSecond) : 'n/a';
      const parts = [`${perCpu} deliveries/CPU-s`, `${formatCount(Number(extra.publishesPerSec ?? 0))} publishes/s`, ratio];
      if (typeof extra.targetPublishesPerSec === 'number') parts.push(`paced at ${formatCount(extra.targetPublishesPerSec)}/s`);
      if ('redisCpuCores' in extra) parts.push(`redis CPU ${percent(typeof extra.redisCpuCores === 'number' ? extra.redisCpuCores : null)}`);
      return parts.join(', ');
    }
    case 'idle':
      return `${typeof extra.bytesPerConnection === 'number' ? formatBytes(extra.bytesPerConnection) : 'n/a'}/conn (RSS ${formatBytes(
        (extra.rssBeforeBytes as number | null) ?? null,
      )} -> ${formatBytes((extra.rssAfterBytes as number | null) ?? null)})`;
    case 'http': {
      const counts = extra.statusCounts as Record<string, number> | undefined;
      if (counts !== undefined) return Object.entries(counts).map(([status, count]) => `${status}: ${formatCount(count)}`).join(', ');
      return `non-${String(extra.expectedStatus)} answers count as errors`;
    }
    default:
      return '';
  }
}

function rateHeader(result: ScenarioResult): string {
  return result.rate.unit === 'connections' ? 'held' : result.rate.unit;
}

/** The table of one scenario label. */
export function formatScenarioTable(report: BenchReport, label: string): string {
  const rows = report.results.filter((r) => r.label === label);
  const first = rows[0];
  const names = new Map(report.targets.map((t) => [t.id, t.name]));
  const header = [
    'target',
    rateHeader(first),
    'MB/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'p99.9 ms',
    'errors',
    'srv CPU',
    'srv RSS',
    'gen CPU',
    FAN_OUT_SCENARIOS.includes(first.scenario) || first.scenario === 'idle' || first.scenario === 'http' ? 'notes' : '',
  ];
  const body: string[][] = [header];
  const notRun: string[] = [];
  const nameWidth = Math.max(6, ...rows.map((r) => (names.get(r.target) ?? r.target).length));
  for (const r of rows) {
    const name = names.get(r.target) ?? r.target;
    if (r.status !== 'ok') {
      notRun.push(`${name.padEnd(nameWidth)}  ${r.status}: ${truncate(r.reason ?? '', 160)}`);
      continue;
    }
    body.push([
      name,
      formatCount(r.rate.value),
      r.bytesPerSec === 0 ? '-' : (r.bytesPerSec / 1e6).toFixed(1),
      ms(r.latencyUs.p50),
      ms(r.latencyUs.p90),
      ms(r.latencyUs.p99),
      ms(r.latencyUs.p99_9),
      formatCount(r.errors.total),
      percent(r.server.cpuCores),
      formatBytes(r.server.rssPeakBytes),
      `${percent(r.generator.cpuMax)}${r.generator.saturated ? '!' : ''}`,
      extraCell(r),
    ]);
  }
  const lines = [`== ${label} (latency: ${first.latencyOf})`];
  if (body.length > 1) lines.push(formatColumns(body, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])));
  lines.push(...notRun);
  const samples = rows.flatMap((r) => r.errorSamples.slice(0, 2).map((sample) => `   ${names.get(r.target) ?? r.target}: ${sample}`));
  if (samples.length > 0) lines.push('   errors seen:', ...samples);
  for (const metric of ['rate', 'bytesPerConnection', 'ratePerCpuSecond'] as const) {
    const ratioLine = formatRatios(report.ratios.filter((ratio) => ratio.label === label && ratio.metric === metric), names);
    if (ratioLine !== '') lines.push(ratioLine);
  }
  const scalingLine = formatScaling(report.scaling.filter((point) => point.label === label), names);
  if (scalingLine !== '') lines.push(scalingLine);
  return lines.join('\n');
}

function formatRatios(ratios: readonly Ratio[], names: Map<string, string>): string {
  if (ratios.length === 0) return '';
  const bySubject = new Map<string, Ratio[]>();
  for (const ratio of ratios) bySubject.set(ratio.target, [...(bySubject.get(ratio.target) ?? []), ratio]);
  const parts = [...bySubject].map(
    ([subject, list]) => `${names.get(subject) ?? subject}: ${list.map((r) => `${r.ratio.toFixed(2)}x ${names.get(r.peer) ?? r.peer}`).join(', ')}`,
  );
  const what = { rate: 'rate / peer rate', bytesPerConnection: "peer memory per connection / Shoal's", ratePerCpuSecond: 'deliveries per server CPU-second / peer\'s' }[ratios[0].metric];
  return `   ratio (${what}; >1 = Shoal better): ${parts.join('; ')}`;
}

function us(value: number | null): string {
  return value === null ? 'n/a' : value.toFixed(value >= 100 ? 0 : 1);
}

/**
 * The worker sweep of one scenario: per Shoal target, its efficiency against
 * one worker, the primary's share of the server's CPU, and CPU per operation
 * in the primary and in the workers.
 */
export function formatScaling(points: readonly ScalingPoint[], names: Map<string, string>): string {
  if (points.length === 0) return '';
  const parts = points.map((p) => {
    const efficiency = p.workers === 1 || p.efficiency === null ? '' : `efficiency ${p.efficiency.toFixed(2)}, `;
    return `${names.get(p.target) ?? p.target}: ${efficiency}primary ${percent(p.primaryCpuShare)} of CPU, us/op primary ${us(p.primaryUsPerOp)} + workers ${us(p.workersUsPerOp)}`;
  });
  return `   workers (efficiency = rate at N / (N x rate at 1)): ${parts.join('; ')}`;
}

function truncate(text: string, length: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > length ? `${oneLine.slice(0, length - 3)}...` : oneLine;
}

/** The --tls section: per scenario, each target's TLS rate / its plain rate. */
export function formatTlsCost(costs: readonly TlsCost[], names: Map<string, string>): string {
  if (costs.length === 0) return '';
  const rows = [['scenario', 'target', 'plain rate', 'TLS rate', 'TLS / plain']];
  for (const cost of costs) {
    rows.push([cost.label, names.get(cost.plainTarget) ?? cost.plainTarget, formatCount(cost.plainRate), formatCount(cost.tlsRate), `${cost.ratio.toFixed(2)}x`]);
  }
  return `== TLS cost (rate over TLS / rate without TLS, same server, same run; 1 = free)\n${formatColumns(rows, new Set([2, 3, 4]))}`;
}

/** The whole terminal report. */
export function formatReport(report: BenchReport): string {
  const labels = [...new Set(report.results.map((r) => r.label))];
  const sections = labels.map((label) => formatScenarioTable(report, label));
  const tlsCost = formatTlsCost(report.tlsCost, new Map(report.targets.map((t) => [t.id, t.name])));
  if (tlsCost !== '') sections.push(tlsCost);
  const nameWidth = Math.max(10, ...report.targets.map((t) => t.name.length));
  const targets = report.targets.map(
    (t) => `  ${t.name.padEnd(nameWidth)} ${t.status === 'ok' ? `${t.description} at ${t.url}` : `${t.status}: ${t.reason}`}`,
  );
  const env = report.environment;
  const footer = [
    'targets (peers are single-process servers; Shoal is one process with N worker threads):',
    ...targets,
    `machine: ${env.cpus} cores (${env.cpuModel}), Node ${env.node}, ${env.generatorThreads} generator thread(s); ${env.pinning.description}`,
    `each scenario: ${env.warmupSec} s warm-up, ${env.durationSec} s measured; CPU 100% = one core; gen CPU ending in ! = generator saturated`,
  ];
  if (report.warnings.length > 0) footer.push('warnings:', ...report.warnings.map((w) => `  - ${w}`));
  return [...sections, footer.join('\n')].join('\n\n');
}
