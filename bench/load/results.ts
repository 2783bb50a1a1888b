/**
 * The result model of a bench run, exactly as written to JSON
 * (docs/bench-result.schema.json describes the same shape), and the ratios
 * between Shoal and each peer measured in the same run.
 */
import type { LatencySummary } from './histogram.ts';
import type { ErrorCounts } from './messages.ts';
import { FAN_OUT_SCENARIOS } from './options.ts';
import type { ScenarioName, ScenarioParams } from './options.ts';

/** The JSON document's format tag; bump the number on incompatible changes. */
export const RESULT_FORMAT = 'shoal-bench/1';

export type RateUnit = 'messages/s' | 'deliveries/s' | 'handshakes/s' | 'requests/s' | 'connections';

/** A server as it was measured (or why it was not). */
export interface TargetReport {
  id: string;
  name: string;
  kind: 'shoal' | 'peer' | 'external';
  workers: number | null;
  /** Served over TLS (--tls); its id is its plain twin's id + "-tls". */
  tls: boolean;
  status: 'ok' | 'skipped' | 'failed';
  /** Why it was skipped or failed; null when ok. */
  reason: string | null;
  /** What ran, e.g. "Bun 1.4.5 built-in server, single process". */
  description: string | null;
  url: string | null;
}

/** Error counters plus their sum. */
export interface ErrorReport extends ErrorCounts {
  total: number;
}

/** One scenario against one target. */
export interface ScenarioResult {
  target: string;
  scenario: ScenarioName;
  label: string;
  status: 'ok' | 'skipped' | 'failed';
  reason: string | null;
  params: ScenarioParams;
  /** Length of the measured window, seconds. */
  windowSec: number;
  /** The scenario's main rate (idle: connections held). */
  rate: { value: number; unit: RateUnit };
  /** Payload bytes received per second. */
  bytesPerSec: number;
  /** What the latency measures, e.g. "round trip". */
  latencyOf: string;
  latencyUs: LatencySummary;
  errors: ErrorReport;
  errorSamples: string[];
  server: {
    /** CPU over the window in cores (1.5 = one and a half cores busy); null when unknown. */
    cpuCores: number | null;
    /** Of cpuCores: the main thread (Shoal's primary); null when unknown. */
    cpuPrimaryCores: number | null;
    /** Of cpuCores: Node worker threads (Shoal's workers); null when unknown. */
    cpuWorkersCores: number | null;
    rssBytes: number | null;
    rssPeakBytes: number | null;
  };
  generator: {
    threads: number;
    /** The busiest generator thread's CPU share of one core over the window. */
    cpuMax: number;
    /** The generator's whole process (its threads, V8's GC and compiler threads) in cores over the window. */
    cpuProcess: number;
    /** cpuMax at 0.9, or cpuProcess at 0.9 of the CPUs the process may run on: the result measures the client. */
    saturated: boolean;
    hitMessageCap: boolean;
  };
  /** Scenario-specific numbers (see docs/bench-json-schema.md). */
  extra: Record<string, number | string | Record<string, number> | null>;
}

/** Shoal against one peer, same scenario, same run. */
export interface Ratio {
  label: string;
  target: string;
  peer: string;
  /** rate; bytesPerConnection (idle); ratePerCpuSecond (fan-out scenarios: deliveries per server CPU-second). */
  metric: 'rate' | 'bytesPerConnection' | 'ratePerCpuSecond';
  targetValue: number;
  peerValue: number;
  /** > 1 means Shoal did better: rate / peer rate (also per CPU-second), or peer bytes / Shoal bytes for memory. */
  ratio: number;
}

/** What a TLS target's labels end with (its rows get their own tables, beside the peers' TLS rows). */
export const TLS_LABEL_SUFFIX = ' over TLS';

/** One target's rate over TLS divided by its rate without TLS, same scenario, same run (--tls). */
export interface TlsCost {
  /** The scenario's label without TLS_LABEL_SUFFIX. */
  label: string;
  /** The TLS target ("shoal-w1-tls") and its plain twin ("shoal-w1"). */
  target: string;
  plainTarget: string;
  plainRate: number;
  tlsRate: number;
  /** tlsRate / plainRate: 0.6 = TLS costs 40% of the rate. */
  ratio: number;
}

/**
 * One Shoal worker count in one scenario, for the worker sweep: how its rate
 * compares with the rate at one worker, and where the server's CPU went.
 */
export interface ScalingPoint {
  label: string;
  target: string;
  workers: number;
  rate: number;
  /** (rate at N) / (N x rate at 1); null without a 1-worker result for the scenario. */
  efficiency: number | null;
  /** The primary thread's share of the server's CPU; null when unknown. */
  primaryCpuShare: number | null;
  /** CPU per operation (message, handshake, request) in the primary and in all workers together, microseconds. */
  primaryUsPerOp: number | null;
  workersUsPerOp: number | null;
}

/** The whole JSON document. */
export interface BenchReport {
  format: typeof RESULT_FORMAT;
  startedAt: string;
  finishedAt: string;
  argv: string[];
  environment: {
    node: string;
    platform: string;
    arch: string;
    cpus: number;
    cpuModel: string;
    totalMemoryBytes: number;
    generatorThreads: number;
    pinning: { enabled: boolean; description: string };
    warmupSec: number;
    durationSec: number;
  };
  targets: TargetReport[];
  results: ScenarioResult[];
  ratios: Ratio[];
  /** --tls only (empty otherwise): each TLS target against itself without TLS. */
  tlsCost: TlsCost[];
  /** Shoal's worker sweep, per scenario (idle excluded). */
  scaling: ScalingPoint[];
  warnings: string[];
}

/** Ratios of every Shoal (or external) target against every peer, per scenario with results on both sides. */
export function computeRatios(targets: readonly TargetReport[], results: readonly ScenarioResult[]): Ratio[] {
  const ratios: Ratio[] = [];
  const subjects = targets.filter((t) => t.kind !== 'peer');
  const peers = targets.filter((t) => t.kind === 'peer');
  const byKey = new Map(results.map((r) => [`${r.target}\u0000${r.label}`, r]));
  const labels = [...new Set(results.map((r) => r.label))];
  for (const label of labels) {
    for (const subject of subjects) {
      const mine = byKey.get(`${subject.id}\u0000${label}`);
      if (mine === undefined || mine.status !== 'ok') continue;
      for (const peer of peers) {
        const theirs = byKey.get(`${peer.id}\u0000${label}`);
        if (theirs === undefined || theirs.status !== 'ok') continue;
        if (mine.scenario === 'idle') {
          const a = mine.extra.bytesPerConnection;
          const b = theirs.extra.bytesPerConnection;
          if (typeof a === 'number' && typeof b === 'number' && a > 0 && b > 0) {
            ratios.push({ label, target: subject.id, peer: peer.id, metric: 'bytesPerConnection', targetValue: a, peerValue: b, ratio: b / a });
          }
        } else if (mine.rate.value > 0 && theirs.rate.value > 0) {
          ratios.push({
            label,
            target: subject.id,
            peer: peer.id,
            metric: 'rate',
            targetValue: mine.rate.value,
            peerValue: theirs.rate.value,
            ratio: mine.rate.value / theirs.rate.value,
          });
          const a = mine.extra.deliveriesPerCpuSecond;
          const b = theirs.extra.deliveriesPerCpuSecond;
          if (FAN_OUT_SCENARIOS.includes(mine.scenario) && typeof a === 'number' && typeof b === 'number' && a > 0 && b > 0) {
            ratios.push({ label, target: subject.id, peer: peer.id, metric: 'ratePerCpuSecond', targetValue: a, peerValue: b, ratio: a / b });
          }
        }
      }
    }
  }
  return ratios;
}

/** TLS rate / plain rate for every TLS target whose plain twin measured the same scenario with a non-zero rate. */
export function computeTlsCost(targets: readonly TargetReport[], results: readonly ScenarioResult[]): TlsCost[] {
  const costs: TlsCost[] = [];
  const byKey = new Map(results.map((r) => [`${r.target}\u0000${r.label}`, r]));
  for (const target of targets) {
    if (!target.tls || !target.id.endsWith('-tls')) continue;
    const plainTarget = target.id.slice(0, -'-tls'.length);
    for (const secure of results) {
      if (secure.target !== target.id || secure.status !== 'ok' || !secure.label.endsWith(TLS_LABEL_SUFFIX)) continue;
      const label = secure.label.slice(0, -TLS_LABEL_SUFFIX.length);
      const plain = byKey.get(`${plainTarget}\u0000${label}`);
      if (plain === undefined || plain.status !== 'ok' || plain.rate.value <= 0 || secure.rate.value <= 0) continue;
      costs.push({ label, target: target.id, plainTarget, plainRate: plain.rate.value, tlsRate: secure.rate.value, ratio: secure.rate.value / plain.rate.value });
    }
  }
  return costs;
}

/**
 * Worker scaling of every Shoal target, per scenario with a rate: efficiency
 * against the 1-worker run of the same scenario, and the CPU per operation
 * in the primary and in the workers (from the per-thread CPU of the window).
 */
export function computeScaling(targets: readonly TargetReport[], results: readonly ScenarioResult[]): ScalingPoint[] {
  const workersOf = new Map(targets.filter((t) => t.kind === 'shoal' && t.workers !== null).map((t) => [t.id, t.workers as number]));
  const points: ScalingPoint[] = [];
  const labels = [...new Set(results.map((r) => r.label))];
  for (const label of labels) {
    const mine = results.filter((r) => r.label === label && r.status === 'ok' && r.scenario !== 'idle' && workersOf.has(r.target) && r.rate.value > 0);
    const single = mine.find((r) => workersOf.get(r.target) === 1);
    for (const r of mine) {
      const workers = workersOf.get(r.target) as number;
      const { cpuCores, cpuPrimaryCores, cpuWorkersCores } = r.server;
      points.push({
        label,
        target: r.target,
        workers,
        rate: r.rate.value,
        efficiency: single === undefined ? null : r.rate.value / (workers * single.rate.value),
        primaryCpuShare: cpuCores !== null && cpuCores > 0 && cpuPrimaryCores !== null ? cpuPrimaryCores / cpuCores : null,
        primaryUsPerOp: cpuPrimaryCores === null ? null : (cpuPrimaryCores / r.rate.value) * 1e6,
        workersUsPerOp: cpuWorkersCores === null ? null : (cpuWorkersCores / r.rate.value) * 1e6,
      });
    }
  }
  return points;
}
