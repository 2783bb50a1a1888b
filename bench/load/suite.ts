/**
 * A whole bench run: for each target (Shoal per worker count, or the
 * external server, then each peer) start it, run every scenario against it,
 * stop it; then compute the ratios. Failures are results, not crashes: a
 * scenario that fails is reported as failed with the reason, a peer that
 * cannot start is reported as skipped.
 */
import os from 'node:os';
import { runLoad } from './generator.ts';
import type { LoadRunOutcome, LoadRunSpec } from './generator.ts';
import type { ErrorCounts, SocketScenarioKind } from './messages.ts';
import type { BenchOptions, ScenarioSpec } from './options.ts';
import { allowedCpus, hasTaskset, pinThisProcess, planPinning } from './pinning.ts';
import { ProcessSampler, readOpenFileLimit, readRssBytes, type ProcessSample } from './proc-stats.ts';
import type { Progress } from './progress.ts';
import { RESULT_FORMAT, computeRatios, computeScaling } from './results.ts';
import type { BenchReport, RateUnit, ScenarioResult, TargetReport } from './results.ts';
import { runHttpFlood } from './scenarios/http.ts';
import { EXPECTED_STATUS } from './scenarios/reject.ts';
import type { HttpFloodOutcome } from './scenarios/http.ts';
import { TargetSkipped, planTargets, startTarget } from './targets.ts';
import type { RunningTarget, TargetPlan } from './targets.ts';

/** Pause between scenarios so that the previous one's closes are finished. */
const SETTLE_BETWEEN_MS = 300;
/** Idle: wait this long after the last connection opened before reading the server's memory. */
const IDLE_SETTLE_MS = 1000;
/** File descriptors kept free in the generator besides the idle connections. */
const FD_MARGIN = 256;

/** No measurement (no pid, or the window never started). */
const NO_SAMPLE: ProcessSample = { cpu: null, cpuPrimary: null, cpuWorkers: null, rssPeakBytes: null, rssBytes: null };

/** Where the suite reports as it goes. */
export interface SuiteIo {
  progress: Progress;
  signal: AbortSignal;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function totalErrors(errors: ErrorCounts): number {
  return errors.handshakeFailures + errors.unexpectedCloses + errors.protocolErrors + errors.timeouts;
}

function emptyResult(target: TargetPlan, spec: ScenarioSpec, label: string, status: 'skipped' | 'failed', reason: string): ScenarioResult {
  return {
    target: target.id,
    scenario: spec.name,
    label,
    status,
    reason,
    params: paramsOf(spec),
    windowSec: 0,
    rate: { value: 0, unit: rateUnitOf(spec) },
    bytesPerSec: 0,
    latencyOf: latencyOfScenario(spec),
    latencyUs: { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p99_9: 0, max: 0 },
    errors: { handshakeFailures: 0, unexpectedCloses: 0, protocolErrors: 0, timeouts: 0, total: 0 },
    errorSamples: [],
    server: { cpuCores: null, cpuPrimaryCores: null, cpuWorkersCores: null, rssBytes: null, rssPeakBytes: null },
    generator: { threads: 0, cpuMax: 0, saturated: false, hitMessageCap: false },
    extra: {},
  };
}

function paramsOf(spec: ScenarioSpec): ScenarioResult['params'] {
  return {
    connections: spec.connections,
    inflight: spec.inflight,
    payloadBytes: spec.payloadBytes,
    subscribers: spec.subscribers,
    publishers: spec.publishers,
    concurrency: spec.concurrency,
  };
}

function rateUnitOf(spec: ScenarioSpec): RateUnit {
  switch (spec.name) {
    case 'echo':
    case 'rpc':
      return 'messages/s';
    case 'broadcast':
      return 'deliveries/s';
    case 'connect':
      return 'handshakes/s';
    case 'idle':
      return 'connections';
    case 'http':
      return 'requests/s';
  }
}

function latencyOfScenario(spec: ScenarioSpec): string {
  switch (spec.name) {
    case 'echo':
    case 'rpc':
      return 'round trip';
    case 'broadcast':
      return 'publish to delivery';
    case 'connect':
    case 'idle':
      return 'handshake';
    case 'http':
      return 'HTTP response';
  }
}

/** The labels one scenario spec produces (http runs two floods). */
export function resultLabels(spec: ScenarioSpec): string[] {
  return spec.name === 'http' ? [`${spec.label}: rejected upgrades (400)`, `${spec.label}: health endpoint`] : [spec.label];
}

/** Run everything the options ask for; never throws for a server's misbehaviour (only for aborts). */
export async function runSuite(options: BenchOptions, argv: readonly string[], io: SuiteIo): Promise<BenchReport> {
  const startedAt = new Date();
  const warnings: string[] = [];
  const cpus = os.availableParallelism();
  const cpuIds = allowedCpus(cpus);
  const pinning = planPinning(options.pin, cpuIds, options.threads, options.pin && hasTaskset());
  if (pinning.enabled) {
    const error = pinThisProcess(pinning.generatorCpus);
    if (error !== null) {
      warnings.push(`--pin: ${error}; running unpinned`);
      pinning.enabled = false;
      pinning.serverPrefix = [];
      pinning.description = `not pinned: ${error}`;
    }
  }
  io.progress.note(`placement: ${pinning.description}`);
  if (cpus <= 2) {
    warnings.push(`only ${cpus} cores: server and generator compete for CPU, so absolute numbers are low and noisy; compare the ratios`);
  }

  const targets: TargetReport[] = [];
  const results: ScenarioResult[] = [];
  const plans = planTargets(options.mode, options.workers, options.peers);
  try {
    for (const plan of plans) {
      if (io.signal.aborted) {
        targets.push({ id: plan.id, name: plan.name, kind: plan.kind, workers: plan.workers, status: 'skipped', reason: 'the run was interrupted', description: null, url: null });
        continue;
      }
      const report: TargetReport = { id: plan.id, name: plan.name, kind: plan.kind, workers: plan.workers, status: 'ok', reason: null, description: null, url: null };
      targets.push(report);
      io.progress.note(`starting ${plan.name}`);
      let target: RunningTarget;
      try {
        target = await startTarget(plan, { pinPrefix: pinning.serverPrefix }, options.target === null ? null : { endpoint: options.target, pid: options.serverPid });
      } catch (error) {
        const skipped = error instanceof TargetSkipped;
        report.status = skipped ? 'skipped' : 'failed';
        report.reason = (error as Error).message;
        io.progress.note(`${plan.name}: ${skipped ? 'skipped' : 'FAILED'}: ${report.reason}`);
        for (const spec of options.scenarios) {
          for (const label of resultLabels(spec)) results.push(emptyResult(plan, spec, label, report.status, `${plan.name} ${report.status}: ${report.reason}`));
        }
        continue;
      }
      report.description = target.description;
      report.url = `ws://${target.endpoint.host.includes(':') ? `[${target.endpoint.host}]` : target.endpoint.host}:${target.endpoint.port}${target.endpoint.path}`;
      io.progress.note(`${plan.name}: ${target.description} at ${report.url}`);
      try {
        for (const spec of options.scenarios) {
          if (io.signal.aborted) break;
          for (const result of await runScenario(plan, target, spec, options, io)) {
            results.push(result);
            if (result.generator.saturated) {
              warnings.push(
                `${plan.name}, ${result.label}: a generator thread was ${Math.round(result.generator.cpuMax * 100)}% busy; ` +
                  'this result measures the client, not the server (use --threads, or --pin on a machine with more cores)',
              );
            }
            if (result.generator.hitMessageCap) warnings.push(`${plan.name}, ${result.label}: stopped at --max-messages before the window ended`);
          }
          await sleep(SETTLE_BETWEEN_MS);
        }
      } finally {
        await target.stop();
      }
    }
  } finally {
    if (pinning.enabled) pinThisProcess(cpuIds);
  }
  return {
    format: RESULT_FORMAT,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    argv: [...argv],
    environment: {
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      cpus,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      totalMemoryBytes: os.totalmem(),
      generatorThreads: options.threads,
      pinning: { enabled: pinning.enabled, description: pinning.description },
      warmupSec: options.warmupMs / 1000,
      durationSec: options.durationMs / 1000,
    },
    targets,
    results,
    ratios: computeRatios(targets, results),
    scaling: computeScaling(targets, results),
    warnings,
  };
}

async function runScenario(plan: TargetPlan, target: RunningTarget, spec: ScenarioSpec, options: BenchOptions, io: SuiteIo): Promise<ScenarioResult[]> {
  const labels = resultLabels(spec);
  if (!target.isAlive()) {
    const reason = `the server is no longer running; its last output: ${target.output().split('\n').slice(-5).join(' | ')}`;
    return labels.map((label) => emptyResult(plan, spec, label, 'failed', reason));
  }
  if (spec.name === 'http') {
    const rejected = await runSocketScenario(plan, target, spec, labels[0], 'reject', options, io);
    if (io.signal.aborted) return [rejected];
    await sleep(SETTLE_BETWEEN_MS);
    return [rejected, await runHealthScenario(plan, target, spec, labels[1], options, io)];
  }
  if (spec.name === 'idle') {
    const reason = idleFdProblem(spec.connections, target.pid);
    if (reason !== null) return [emptyResult(plan, spec, labels[0], 'skipped', reason)];
  }
  return [await runSocketScenario(plan, target, spec, labels[0], spec.name, options, io)];
}

async function runSocketScenario(
  plan: TargetPlan,
  target: RunningTarget,
  spec: ScenarioSpec,
  label: string,
  kind: SocketScenarioKind,
  options: BenchOptions,
  io: SuiteIo,
): Promise<ScenarioResult> {
  const sampler = target.pid === null ? null : new ProcessSampler(target.pid);
  let server: ProcessSample = NO_SAMPLE;
  const idle = { rssBefore: null as number | null, rssAfter: null as number | null };
  if (kind === 'idle' && target.pid !== null) idle.rssBefore = readRssBytes(target.pid);
  const loops = kind === 'connect' ? spec.concurrency : spec.connections;
  const runSpec: LoadRunSpec = {
    kind,
    target: { ...target.endpoint, protocols: [] },
    threads: options.threads,
    connections: loops,
    subscribers: spec.subscribers,
    publishers: spec.publishers,
    inflight: spec.inflight,
    payloadBytes: spec.payloadBytes,
    warmupMs: kind === 'idle' ? 0 : options.warmupMs,
    durationMs: options.durationMs,
    maxMessages: options.maxMessages,
    timeoutMs: options.timeoutMs,
    connectConcurrency: kind === 'connect' ? spec.concurrency : 64,
    setupTimeoutMs: Math.max(30_000, options.timeoutMs * 2),
  };
  io.progress.begin(plan.name, label, runSpec.warmupMs, options.durationMs);
  let outcome: LoadRunOutcome;
  try {
    outcome = await runLoad(
      runSpec,
      {
        afterReady: async () => {
          if (kind === 'idle' && target.pid !== null) {
            await sleep(IDLE_SETTLE_MS);
            idle.rssAfter = readRssBytes(target.pid);
          }
        },
        onWindowStart: () => sampler?.start(),
        onWindowEnd: () => {
          if (sampler !== null) server = sampler.stop();
        },
        onProgress: (completed, phase) => io.progress.update(completed, phase),
      },
      io.signal,
    );
  } catch (error) {
    if (sampler !== null) sampler.stop();
    io.progress.end(`${plan.name}, ${label}: FAILED: ${(error as Error).message}`);
    return emptyResult(plan, spec, label, 'failed', (error as Error).message);
  }
  const result = toResult(plan, spec, label, outcome, server, options.threads);
  if (kind === 'broadcast') {
    const windowSec = outcome.windowMs / 1000;
    const publishes = outcome.secondary;
    result.extra = {
      publishesPerSec: windowSec > 0 ? publishes / windowSec : 0,
      deliveryRatio: publishes > 0 ? outcome.messages / (publishes * spec.subscribers) : null,
      subscribersReady: outcome.openAtReady - spec.publishers,
    };
  } else if (kind === 'idle') {
    const held = outcome.openAtReady;
    result.rate = { value: outcome.openAtEnd, unit: 'connections' };
    result.extra = {
      connectionsOpened: held,
      connectionsHeld: outcome.openAtEnd,
      rssBeforeBytes: idle.rssBefore,
      rssAfterBytes: idle.rssAfter,
      bytesPerConnection: idle.rssBefore !== null && idle.rssAfter !== null && held > 0 ? (idle.rssAfter - idle.rssBefore) / held : null,
    };
  } else if (kind === 'reject') {
    result.extra = { expectedStatus: EXPECTED_STATUS };
  } else {
    result.extra = { connectionsOpen: outcome.openAtEnd };
  }
  io.progress.end(summaryLine(plan, result));
  return result;
}

function toResult(
  plan: TargetPlan,
  spec: ScenarioSpec,
  label: string,
  outcome: LoadRunOutcome | HttpFloodOutcome,
  server: ProcessSample,
  threads: number,
): ScenarioResult {
  const windowSec = outcome.windowMs / 1000;
  const count = 'messages' in outcome ? outcome.messages : outcome.requests;
  return {
    target: plan.id,
    scenario: spec.name,
    label,
    status: 'ok',
    reason: null,
    params: paramsOf(spec),
    windowSec,
    rate: { value: windowSec > 0 ? count / windowSec : 0, unit: rateUnitOf(spec) },
    bytesPerSec: windowSec > 0 ? outcome.bytes / windowSec : 0,
    latencyOf: latencyOfScenario(spec),
    latencyUs: outcome.latency,
    errors: { ...outcome.errors, total: totalErrors(outcome.errors) },
    errorSamples: outcome.errorSamples,
    server: { cpuCores: server.cpu, cpuPrimaryCores: server.cpuPrimary, cpuWorkersCores: server.cpuWorkers, rssBytes: server.rssBytes, rssPeakBytes: server.rssPeakBytes },
    generator: {
      threads: 'messages' in outcome ? threads : 1,
      cpuMax: outcome.generatorCpu.max,
      saturated: outcome.generatorCpu.saturated,
      hitMessageCap: 'hitMessageCap' in outcome ? outcome.hitMessageCap : false,
    },
    extra: {},
  };
}

function summaryLine(plan: TargetPlan, result: ScenarioResult): string {
  const rate = Math.round(result.rate.value).toLocaleString('en-US');
  const p99 = (result.latencyUs.p99 / 1000).toFixed(2);
  return `${plan.name}, ${result.label}: ${rate} ${result.rate.unit}, p99 ${p99} ms, ${result.errors.total} errors`;
}

/** Why an idle run with `connections` would run out of file descriptors, or null. */
function idleFdProblem(connections: number, serverPid: number | null): string | null {
  const own = readOpenFileLimit('self');
  if (own !== null && connections + FD_MARGIN > own) {
    return `idle: ${connections} connections need ${connections + FD_MARGIN} open files in the generator; its limit (ulimit -n) is ${own}`;
  }
  const server = serverPid === null ? null : readOpenFileLimit(String(serverPid));
  if (server !== null && connections + FD_MARGIN > server) {
    return `idle: ${connections} connections need ${connections + FD_MARGIN} open files in the server; its limit is ${server}`;
  }
  return null;
}

async function runHealthScenario(
  plan: TargetPlan,
  target: RunningTarget,
  spec: ScenarioSpec,
  label: string,
  options: BenchOptions,
  io: SuiteIo,
): Promise<ScenarioResult> {
  if (target.healthUrl === null) {
    const reason =
      plan.kind === 'peer'
        ? `${plan.name} has no admin endpoints`
        : plan.kind === 'external'
          ? 'an external target has no known admin endpoint'
          : 'this Shoal build has no admin port (shoal serve --help lists no --admin-port)';
    return emptyResult(plan, spec, label, 'skipped', reason);
  }
  const sampler = target.pid === null ? null : new ProcessSampler(target.pid);
  let server: ProcessSample = NO_SAMPLE;
  io.progress.begin(plan.name, label, options.warmupMs, options.durationMs);
  try {
    const outcome = await runHttpFlood(
      {
        url: target.healthUrl,
        headers: {},
        expectStatus: 200,
        connections: spec.connections,
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
        maxRequests: options.maxMessages,
        timeoutMs: options.timeoutMs,
      },
      {
        onWindowStart: () => {
          io.progress.update(0, 'measure');
          sampler?.start();
        },
        onWindowEnd: () => {
          if (sampler !== null) server = sampler.stop();
        },
      },
    );
    const result = toResult(plan, spec, label, outcome, server, 1);
    result.extra = { expectedStatus: 200, statusCounts: outcome.statusCounts, url: target.healthUrl };
    io.progress.end(summaryLine(plan, result));
    return result;
  } catch (error) {
    if (sampler !== null) sampler.stop();
    io.progress.end(`${plan.name}, ${label}: FAILED: ${(error as Error).message}`);
    return emptyResult(plan, spec, label, 'failed', (error as Error).message);
  }
}
