/**
 * The HTML report: one self-contained file (no scripts, no external assets)
 * with, per scenario, a bar chart of the main rate for every target (Shoal at
 * each worker count beside each peer), a latency-percentile chart on a log
 * scale, and the numbers as a table. Charts are hand-drawn inline SVG.
 */
import { formatBytes, formatCount } from './report-table.ts';
import type { BenchReport, ScenarioResult } from './results.ts';

const COLORS = {
  shoal: ['#1f5fa8', '#2f7dd1', '#5a9be0', '#86b6ea', '#a9cbf0', '#c9def6'],
  ws: '#8c6d1f',
  bun: '#b5533c',
  uws: '#4f7a3a',
  other: '#777777',
};
const PERCENTILES = [
  { key: 'p50', name: 'p50', color: '#9ecae1' },
  { key: 'p90', name: 'p90', color: '#6baed6' },
  { key: 'p99', name: 'p99', color: '#3182bd' },
  { key: 'p99_9', name: 'p99.9', color: '#08519c' },
] as const;

/** Escape text for HTML and SVG. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function colorOf(report: BenchReport, targetId: string): string {
  const target = report.targets.find((t) => t.id === targetId);
  if (target?.kind === 'shoal') {
    const index = report.targets.filter((t) => t.kind === 'shoal').indexOf(target);
    return COLORS.shoal[Math.min(index, COLORS.shoal.length - 1)];
  }
  if (target?.kind === 'peer') return COLORS[target.id as 'ws' | 'bun' | 'uws'] ?? COLORS.other;
  return COLORS.other;
}

interface Bar {
  label: string;
  value: number;
  text: string;
  color: string;
}

/** Horizontal bars, one per item, scaled to the largest value. */
export function svgBars(bars: readonly Bar[], title: string): string {
  const labelWidth = 110;
  const barArea = 380;
  const row = 24;
  const height = bars.length * row + 30;
  const max = Math.max(1e-9, ...bars.map((b) => b.value));
  const parts = [`<text x="0" y="14" class="title">${escapeHtml(title)}</text>`];
  bars.forEach((bar, i) => {
    const y = 24 + i * row;
    const width = bar.value > 0 ? Math.max(1, (bar.value / max) * barArea) : 0;
    parts.push(
      `<text x="${labelWidth - 6}" y="${y + 15}" text-anchor="end">${escapeHtml(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 3}" width="${width.toFixed(1)}" height="16" fill="${bar.color}"/>`,
      `<text x="${(labelWidth + width + 6).toFixed(1)}" y="${y + 15}">${escapeHtml(bar.text)}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="${height}" viewBox="0 0 640 ${height}">${parts.join('')}</svg>`;
}

/** Latency percentiles per target, bars on a log10 scale in milliseconds. */
export function svgLatency(rows: readonly { label: string; latency: ScenarioResult['latencyUs'] }[], title: string): string {
  const labelWidth = 110;
  const barArea = 420;
  const group = PERCENTILES.length * 7 + 10;
  const height = rows.length * group + 60;
  const values = rows.flatMap((r) => PERCENTILES.map((p) => r.latency[p.key])).filter((v) => v > 0);
  const lowExp = Math.floor(Math.log10(Math.max(1, Math.min(...values, 1e9))));
  const highExp = Math.max(lowExp + 1, Math.ceil(Math.log10(Math.max(10, ...values))));
  const x = (us: number): number => labelWidth + ((Math.log10(Math.max(us, 10 ** lowExp)) - lowExp) / (highExp - lowExp)) * barArea;
  const parts = [`<text x="0" y="14" class="title">${escapeHtml(title)}</text>`];
  for (let exp = lowExp; exp <= highExp; exp++) {
    const px = x(10 ** exp).toFixed(1);
    const label = String(10 ** exp / 1000);
    parts.push(`<line x1="${px}" y1="24" x2="${px}" y2="${height - 26}" class="grid"/>`, `<text x="${px}" y="${height - 12}" text-anchor="middle">${label} ms</text>`);
  }
  rows.forEach((row, i) => {
    const y = 26 + i * group;
    parts.push(`<text x="${labelWidth - 6}" y="${y + group / 2}" text-anchor="end">${escapeHtml(row.label)}</text>`);
    PERCENTILES.forEach((p, j) => {
      const value = row.latency[p.key];
      if (value > 0) {
        parts.push(
          `<rect x="${labelWidth}" y="${y + j * 7}" width="${(x(value) - labelWidth).toFixed(1)}" height="6" fill="${p.color}"><title>${escapeHtml(
            `${row.label} ${p.name}: ${(value / 1000).toFixed(3)} ms`,
          )}</title></rect>`,
        );
      }
    });
  });
  const legend = PERCENTILES.map(
    (p, j) => `<rect x="${labelWidth + 300 + j * 55}" y="4" width="10" height="10" fill="${p.color}"/><text x="${labelWidth + 314 + j * 55}" y="13">${p.name}</text>`,
  ).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="${height}" viewBox="0 0 640 ${height}">${parts.join('')}${legend}</svg>`;
}

function tableHtml(report: BenchReport, rows: readonly ScenarioResult[]): string {
  const names = new Map(report.targets.map((t) => [t.id, t.name]));
  const head = ['target', rows[0].rate.unit, 'MB/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'errors', 'server CPU', 'server RSS', 'generator CPU'];
  const body = rows.map((r) => {
    if (r.status !== 'ok') return `<tr><td>${escapeHtml(names.get(r.target) ?? r.target)}</td><td colspan="10" class="skip">${escapeHtml(`${r.status}: ${r.reason}`)}</td></tr>`;
    const cells = [
      formatCount(r.rate.value),
      (r.bytesPerSec / 1e6).toFixed(1),
      ...[r.latencyUs.p50, r.latencyUs.p90, r.latencyUs.p99, r.latencyUs.p99_9].map((us) => (us / 1000).toFixed(2)),
      formatCount(r.errors.total),
      r.server.cpuCores === null ? 'n/a' : `${Math.round(r.server.cpuCores * 100)}%`,
      formatBytes(r.server.rssPeakBytes),
      `${Math.round(r.generator.cpuMax * 100)}%${r.generator.saturated ? ' (saturated)' : ''}`,
    ];
    return `<tr><td>${escapeHtml(names.get(r.target) ?? r.target)}</td>${cells.map((c) => `<td class="num">${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  return `<table><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>${body.join('')}</table>`;
}

function section(report: BenchReport, label: string): string {
  const rows = report.results.filter((r) => r.label === label);
  const ok = rows.filter((r) => r.status === 'ok');
  const names = new Map(report.targets.map((t) => [t.id, t.name]));
  const parts = [`<h2>${escapeHtml(label)}</h2>`];
  if (ok.length > 0) {
    const idle = rows[0].scenario === 'idle';
    const bars: Bar[] = ok.map((r) => {
      const perConn = typeof r.extra.bytesPerConnection === 'number' ? r.extra.bytesPerConnection : 0;
      return {
        label: names.get(r.target) ?? r.target,
        value: idle ? perConn : r.rate.value,
        text: idle ? `${formatBytes(perConn)} / connection` : `${formatCount(r.rate.value)} ${r.rate.unit}`,
        color: colorOf(report, r.target),
      };
    });
    parts.push(
      `<div class="charts">${svgBars(bars, idle ? 'server memory per idle connection (lower is better)' : `${rows[0].rate.unit} by target and worker count (higher is better)`)}`,
      `${svgLatency(ok.map((r) => ({ label: names.get(r.target) ?? r.target, latency: r.latencyUs })), `latency percentiles, ${rows[0].latencyOf} (log scale)`)}</div>`,
    );
  }
  parts.push(tableHtml(report, rows));
  const ratios = report.ratios.filter((r) => r.label === label);
  if (ratios.length > 0) {
    parts.push(
      `<p class="ratios">ratio (&gt;1 = Shoal better): ${ratios
        .map((r) => `${escapeHtml(names.get(r.target) ?? r.target)} vs ${escapeHtml(names.get(r.peer) ?? r.peer)}: <b>${r.ratio.toFixed(2)}x</b>`)
        .join(' &middot; ')}</p>`,
    );
  }
  return `<section>${parts.join('\n')}</section>`;
}

/** The complete HTML document. */
export function renderHtmlReport(report: BenchReport): string {
  const env = report.environment;
  const labels = [...new Set(report.results.map((r) => r.label))];
  const targets = report.targets
    .map((t) => `<li><b>${escapeHtml(t.name)}</b>: ${escapeHtml(t.status === 'ok' ? `${t.description} at ${t.url}` : `${t.status}: ${t.reason}`)}</li>`)
    .join('');
  const names = new Map(report.targets.map((t) => [t.id, t.name]));
  const tlsCost =
    report.tlsCost.length === 0
      ? ''
      : `<h2>TLS cost</h2><p>Rate over TLS / rate without TLS, same server, same run (1 = free).</p><table><tr><th>scenario</th><th>target</th><th>plain rate</th><th>TLS rate</th><th>TLS / plain</th></tr>${report.tlsCost
          .map(
            (c) =>
              `<tr><td>${escapeHtml(c.label)}</td><td>${escapeHtml(names.get(c.plainTarget) ?? c.plainTarget)}</td><td class="num">${Math.round(c.plainRate).toLocaleString('en-US')}</td><td class="num">${Math.round(c.tlsRate).toLocaleString('en-US')}</td><td class="num">${c.ratio.toFixed(2)}x</td></tr>`,
          )
          .join('')}</table>`;
  const warnings = report.warnings.length === 0 ? '' : `<h3>Warnings</h3><ul class="warn">${report.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shoal bench ${escapeHtml(report.startedAt)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
h2{margin-top:2em;border-bottom:1px solid #ddd}
svg{font:11px system-ui,sans-serif;margin:0 1em 1em 0}
svg .title{font-weight:600;font-size:12px}
svg .grid{stroke:#ddd}
.charts{display:flex;flex-wrap:wrap}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ddd;padding:2px 8px}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.skip{color:#888}
.warn li{color:#8a4b00}
</style></head><body>
<h1>shoal bench</h1>
<p>${escapeHtml(report.startedAt)} &ndash; ${escapeHtml(report.finishedAt)}; ${env.cpus} cores (${escapeHtml(env.cpuModel)}), Node ${escapeHtml(env.node)},
${env.generatorThreads} generator thread(s), ${env.warmupSec} s warm-up + ${env.durationSec} s measured per scenario; ${escapeHtml(env.pinning.description)}.</p>
<p>Peers are single-process servers; Shoal is one process with N worker threads. Ratios come from the same run. CPU 100% = one core.</p>
<ul>${targets}</ul>
${warnings}
${labels.map((label) => section(report, label)).join('\n')}
${tlsCost}
</body></html>
`;
}
