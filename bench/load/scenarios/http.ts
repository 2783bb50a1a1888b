/**
 * The keep-alive floods of the `http` scenario, driven by autocannon on the
 * main thread: the app's `http` handler on the server's own port (`GET /`,
 * which must answer 200 with the expected body) and the admin health
 * endpoint (200). (The rejected upgrade flood runs on the generator threads,
 * see reject.ts for why.)
 */
import autocannon from 'autocannon';
import type { LatencySummary } from '../histogram.ts';
import type { ErrorCounts } from '../messages.ts';
import { SATURATION_THRESHOLD } from '../generator.ts';
import type { GeneratorCpu } from '../generator.ts';

/** One autocannon run. */
export interface HttpFloodSpec {
  url: string;
  headers: Record<string, string>;
  expectStatus: number;
  /** When set, an answer with another body is a protocol error. */
  expectBody?: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
  maxRequests: number;
  timeoutMs: number;
}

/** What an http run produced, in the generator's terms. */
export interface HttpFloodOutcome {
  requests: number;
  bytes: number;
  windowMs: number;
  latency: LatencySummary;
  /** protocolErrors: answers with another status or body than expected; unexpectedCloses: connection errors; timeouts. */
  errors: ErrorCounts;
  errorSamples: string[];
  statusCounts: Record<string, number>;
  generatorCpu: GeneratorCpu;
}

/**
 * Run autocannon: a warm-up run, then the measured run (bounded by duration
 * and by maxRequests). `onWindowStart`/`onWindowEnd` bracket the measured run.
 */
export async function runHttpFlood(
  spec: HttpFloodSpec,
  hooks: { onWindowStart?(): void; onWindowEnd?(): void } = {},
): Promise<HttpFloodOutcome> {
  const common = {
    url: spec.url,
    connections: spec.connections,
    headers: spec.headers,
    timeout: Math.max(1, Math.round(spec.timeoutMs / 1000)),
    maxOverallRequests: Math.max(spec.connections, spec.maxRequests),
    ...(spec.expectBody === undefined ? {} : { expectBody: spec.expectBody }),
  };
  if (spec.warmupMs > 0) await autocannon({ ...common, duration: spec.warmupMs / 1000 });
  hooks.onWindowStart?.();
  const cpuAtStart = process.threadCpuUsage();
  const startedAt = performance.now();
  const result = await autocannon({ ...common, duration: spec.durationMs / 1000 });
  const windowMs = performance.now() - startedAt;
  const cpu = process.threadCpuUsage(cpuAtStart);
  hooks.onWindowEnd?.();

  const statusCounts: Record<string, number> = {};
  let unexpected = 0;
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) {
    statusCounts[status] = Number(count);
    if (Number(status) !== spec.expectStatus) unexpected += Number(count);
  }
  const requests = result.requests.total;
  const errorSamples: string[] = [];
  if (unexpected > 0) errorSamples.push(`protocol: ${unexpected} answers were not ${spec.expectStatus} (${JSON.stringify(statusCounts)})`);
  // A wrong status usually brings a wrong body too: count each answer once.
  const mismatches = Math.max(0, (result.mismatches ?? 0) - unexpected);
  if (mismatches > 0) errorSamples.push(`protocol: ${mismatches} answers had another body than ${JSON.stringify(spec.expectBody)}`);
  if (result.errors > 0) errorSamples.push(`unexpectedClose: ${result.errors} connection errors (timeouts included: ${result.timeouts})`);
  const cpuShare = windowMs > 0 ? (cpu.user + cpu.system) / 1000 / windowMs : 0;
  // autocannon's histograms are in milliseconds (integer resolution); reported in microseconds like the rest.
  const us = (ms: number): number => Math.round(ms * 1000);
  return {
    requests,
    bytes: result.throughput.total,
    windowMs,
    latency: {
      count: requests,
      mean: us(result.latency.average),
      p50: us(result.latency.p50),
      p90: us(result.latency.p90),
      p99: us(result.latency.p99),
      p99_9: us(result.latency.p99_9),
      max: us(result.latency.max),
    },
    errors: {
      handshakeFailures: 0,
      unexpectedCloses: Math.max(0, result.errors - result.timeouts),
      protocolErrors: unexpected + mismatches,
      timeouts: result.timeouts,
    },
    errorSamples,
    statusCounts,
    generatorCpu: { perThread: [cpuShare], max: cpuShare, process: cpuShare, saturated: cpuShare >= SATURATION_THRESHOLD },
  };
}
