/**
 * A whole bench run: for each target (Shoal per worker count, or the
 * external server, then each peer) start it, run every scenario against it,
 * stop it; then compute the ratios. Failures are results, not crashes: a
 * scenario that fails is reported as failed with the reason, a peer that
 * cannot start is reported as skipped.
 */
import os from 'node:os';
import path from 'node:path';
import { BENCH_TLS_SERVERNAME, makeBenchCertificate } from './bench-certificate.ts';
import type { BenchCertificate } from './bench-certificate.ts';
import { SATURATION_THRESHOLD, runLoad } from './generator.ts';
import type { LoadRunOutcome, LoadRunSpec } from './generator.ts';
import type { ErrorCounts, SocketScenarioKind } from './messages.ts';
import { NODE_PEER_SCENARIOS, type BenchOptions, type LoopbackTarget, type ScenarioParams, type ScenarioSpec } from './options.ts';
import { startCluster } from './cluster-targets.ts';
import type { RunningCluster } from './cluster-targets.ts';
import { allowedCpus, hasTaskset, pinThisProcess, planPinning } from './pinning.ts';
import { ProcessGroupSampler, ProcessSampler, readCpuMs, readOpenFileLimit, readRssBytes, type ProcessSample } from './proc-stats.ts';
import type { Progress } from './progress.ts';
import { RESULT_FORMAT, TLS_LABEL_SUFFIX, computeRatios, computeScaling, computeTlsCost } from './results.ts';
import type { BenchReport, RateUnit, ScenarioResult, TargetReport } from './results.ts';
import { HTTP_BODY } from '../peers/peer-protocol.mjs';
import { runHttpFlood } from './scenarios/http.ts';
import { EXPECTED_STATUS } from './scenarios/reject.ts';
import type { HttpFloodOutcome } from './scenarios/http.ts';
import { TargetSkipped, planTargets, startTarget } from './targets.ts';
import type { RunningTarget, StartContext, TargetPlan } from './targets.ts';

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
    generator: { threads: 0, cpuMax: 0, cpuProcess: 0, saturated: false, hitMessageCap: false },
    extra: {},
  };
}

function paramsOf(spec: ScenarioSpec): ScenarioParams {
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
    case 'raw-broadcast':
    case 'cross-node':
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
    case 'raw-broadcast':
    case 'cross-node':
      return 'publish to delivery';
    case 'connect':
    case 'idle':
      return 'handshake';
    case 'http':
      return 'HTTP response';
  }
}

/**
 * The labels one scenario spec produces: http runs three floods (the health
 * endpoint last), cross-node two runs (the maximum, then half of it); a TLS
 * target's labels end with TLS_LABEL_SUFFIX.
 */
export function resultLabels(spec: ScenarioSpec, tls = false): string[] {
  if (spec.name === 'http') return [`${spec.label}: rejected upgrades (400)`, `${spec.label}: app handler GET /`, `${spec.label}: health endpoint`];
  const labels = spec.name === 'cross-node' ? [spec.label, `${spec.label}: at half the maximum rate`] : [spec.label];
  return tls ? labels.map((label) => `${label}${TLS_LABEL_SUFFIX}`) : labels;
}

/** What one socket scenario run measures: where it connects and whose CPU it reads. */
interface MeasuredServer {
  endpoint: LoopbackTarget;
  /** Where publishers connect (another node), or null for `endpoint`. */
  publisherEndpoint: LoopbackTarget | null;
  /** What the generator trusts and asks for when the server serves TLS; null for ws://. */
  tls: RunningTarget['tls'];
  /** The server's processes (CPU and RSS summed); empty when unknown. */
  pids: readonly number[];
  /** Another process whose CPU is reported on its own (the cross-node scenario's Redis), or null. */
  sidePid: number | null;
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
  const plans = planTargets(options.mode, options.workers, options.peers, options.tls);
  // --tls: one certificate for the whole run, made now and removed at the end (finally below).
  let certificate: BenchCertificate | null = null;
  let certificateError: string | null = null;
  if (options.tls) {
    try {
      certificate = makeBenchCertificate();
      io.progress.note(`TLS: a self-signed ECDSA P-256 certificate for ${BENCH_TLS_SERVERNAME} in ${path.dirname(certificate.certFile)} (removed at the end)`);
    } catch (error) {
      certificateError = (error as Error).message;
      warnings.push(`--tls: ${certificateError}; the TLS targets are skipped`);
    }
  }
  const context: StartContext = { pinPrefix: pinning.serverPrefix, certificate };
  try {
    for (const plan of plans) {
      if (io.signal.aborted) {
        targets.push({ id: plan.id, name: plan.name, kind: plan.kind, workers: plan.workers, tls: plan.tls, status: 'skipped', reason: 'the run was interrupted', description: null, url: null });
        continue;
      }
      const report: TargetReport = { id: plan.id, name: plan.name, kind: plan.kind, workers: plan.workers, tls: plan.tls, status: 'ok', reason: null, description: null, url: null };
      targets.push(report);
      const singleSpecs = options.scenarios.filter((spec) => spec.name !== 'cross-node');
      if (plan.peer === 'socketio') {
        for (const spec of singleSpecs) {
          for (const label of resultLabels(spec, plan.tls)) results.push(emptyResult(plan, spec, label, 'skipped', 'socketio peer: runs the cross-node scenario only'));
        }
      } else if (plan.peer === 'node') {
        for (const spec of singleSpecs) {
          if (NODE_PEER_SCENARIOS.includes(spec.name)) continue;
          for (const label of resultLabels(spec, plan.tls)) results.push(emptyResult(plan, spec, label, 'skipped', `node peer: runs ${NODE_PEER_SCENARIOS.join(', ')} only`));
        }
        const served = singleSpecs.filter((spec) => NODE_PEER_SCENARIOS.includes(spec.name));
        if (served.length > 0) await runSingleServer(plan, report, served, options, io, context, certificateError, results, warnings);
      } else if (singleSpecs.length > 0) {
        await runSingleServer(plan, report, singleSpecs, options, io, context, certificateError, results, warnings);
      }
      for (const spec of options.scenarios) {
        if (spec.name !== 'cross-node' || io.signal.aborted) continue;
        for (const result of await runCrossNode(plan, report, spec, options, io, pinning.serverPrefix)) {
          results.push(result);
          noteGenerator(plan, result, warnings);
        }
        await sleep(SETTLE_BETWEEN_MS);
      }
      // A target that never started (every scenario of it skipped) says why.
      const own = results.filter((r) => r.target === plan.id);
      if (report.status === 'ok' && report.description === null && own.length > 0 && own.every((r) => r.status === 'skipped')) {
        report.status = 'skipped';
        report.reason = [...new Set(own.map((r) => r.reason))].join('; ');
      }
    }
  } finally {
    if (pinning.enabled) pinThisProcess(cpuIds);
    certificate?.remove();
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
    tlsCost: computeTlsCost(targets, results),
    scaling: computeScaling(targets, results),
    warnings,
  };
}

/** CPU share per process below which a server counts as quiet, and the longest wait for it. */
const QUIET_CPU = 0.1;
const QUIET_TIMEOUT_MS = 10_000;
const QUIET_SAMPLE_MS = 200;

/** Wait (at most QUIET_TIMEOUT_MS) until every process uses less than QUIET_CPU of a core over a sample. */
async function waitForQuiet(pids: readonly number[]): Promise<void> {
  const deadline = performance.now() + QUIET_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const before = pids.map((pid) => readCpuMs(pid));
    await sleep(QUIET_SAMPLE_MS);
    const busy = pids.some((pid, i) => {
      const now = readCpuMs(pid);
      return now !== null && before[i] !== null && (now - before[i]!) / QUIET_SAMPLE_MS >= QUIET_CPU;
    });
    if (!busy) return;
  }
}

/** The generator warnings of one result. */
function noteGenerator(plan: TargetPlan, result: ScenarioResult, warnings: string[]): void {
  if (result.generator.saturated) {
    const { cpuMax, cpuProcess } = result.generator;
    const busy =
      cpuMax >= SATURATION_THRESHOLD
        ? `a generator thread was ${Math.round(cpuMax * 100)}% busy`
        : `the generator's process used ${Math.round(cpuProcess * 100)}% of a core, its threads at most ${Math.round(cpuMax * 100)}% (V8's GC and compiler threads share its CPUs)`;
    warnings.push(`${plan.name}, ${result.label}: ${busy}; this result measures the client, not the server (use --threads, or --pin on a machine with more cores)`);
  }
  if (result.generator.hitMessageCap) warnings.push(`${plan.name}, ${result.label}: stopped at --max-messages before the window ended`);
}

/**
 * Start one server for `plan`, run the single-server scenarios against it, stop
 * it. A TLS plan without the run's certificate is skipped with `certificateError`.
 */
async function runSingleServer(
  plan: TargetPlan,
  report: TargetReport,
  specs: readonly ScenarioSpec[],
  options: BenchOptions,
  io: SuiteIo,
  context: StartContext,
  certificateError: string | null,
  results: ScenarioResult[],
  warnings: string[],
): Promise<void> {
  io.progress.note(`starting ${plan.name}`);
  let target: RunningTarget;
  try {
    if (plan.tls && context.certificate === null) throw new TargetSkipped(certificateError ?? 'no TLS certificate');
    target = await startTarget(plan, context, options.target === null ? null : { endpoint: options.target, pid: options.serverPid });
  } catch (error) {
    const skipped = error instanceof TargetSkipped;
    report.status = skipped ? 'skipped' : 'failed';
    report.reason = (error as Error).message;
    io.progress.note(`${plan.name}: ${skipped ? 'skipped' : 'FAILED'}: ${report.reason}`);
    for (const spec of specs) {
      for (const label of resultLabels(spec, plan.tls)) results.push(emptyResult(plan, spec, label, report.status, `${plan.name} ${report.status}: ${report.reason}`));
    }
    return;
  }
  report.description = target.description;
  report.url = `${target.tls === null ? 'ws' : 'wss'}://${target.endpoint.host.includes(':') ? `[${target.endpoint.host}]` : target.endpoint.host}:${target.endpoint.port}${target.endpoint.path}`;
  io.progress.note(`${plan.name}: ${target.description} at ${report.url}`);
  try {
    for (const spec of specs) {
      if (io.signal.aborted) break;
      for (const result of await runScenario(plan, target, spec, options, io)) {
        results.push(result);
        noteGenerator(plan, result, warnings);
      }
      await sleep(SETTLE_BETWEEN_MS);
    }
  } finally {
    await target.stop();
  }
}

async function runScenario(plan: TargetPlan, target: RunningTarget, spec: ScenarioSpec, options: BenchOptions, io: SuiteIo): Promise<ScenarioResult[]> {
  const labels = resultLabels(spec, plan.tls);
  const server: MeasuredServer = { endpoint: target.endpoint, publisherEndpoint: null, tls: target.tls, pids: target.pid === null ? [] : [target.pid], sidePid: null };
  if (!target.isAlive()) {
    const reason = `the server is no longer running; its last output: ${target.output().split('\n').slice(-5).join(' | ')}`;
    return labels.map((label) => emptyResult(plan, spec, label, 'failed', reason));
  }
  if (spec.name === 'http') {
    const rejected = await runSocketScenario(plan, server, spec, labels[0], 'reject', options, io);
    if (io.signal.aborted) return [rejected];
    await sleep(SETTLE_BETWEEN_MS);
    const app = await runAutocannonScenario(plan, target, spec, labels[1], 'app', options, io);
    if (io.signal.aborted) return [rejected, app];
    await sleep(SETTLE_BETWEEN_MS);
    return [rejected, app, await runAutocannonScenario(plan, target, spec, labels[2], 'health', options, io)];
  }
  if (spec.name === 'idle') {
    const reason = idleFdProblem(spec.connections, target.pid);
    if (reason !== null) return [emptyResult(plan, spec, labels[0], 'skipped', reason)];
  }
  const kind: SocketScenarioKind = spec.name === 'cross-node' ? 'broadcast' : spec.name;
  return [await runSocketScenario(plan, server, spec, labels[0], kind, options, io, spec.publishRate)];
}

/**
 * The cross-node scenario for one plan: Redis and two nodes of their own,
 * publishers on node A, subscribers on node B; first as fast as answers
 * come back, then paced at half the publications per second that run
 * reached (where its latency is read). Everything is stopped afterwards.
 */
async function runCrossNode(
  plan: TargetPlan,
  report: TargetReport,
  spec: ScenarioSpec,
  options: BenchOptions,
  io: SuiteIo,
  pinPrefix: readonly string[],
): Promise<ScenarioResult[]> {
  const [maxLabel, halfLabel] = resultLabels(spec, plan.tls);
  io.progress.note(`starting Redis and 2 nodes of ${plan.name}`);
  let cluster: RunningCluster;
  try {
    cluster = await startCluster(plan, { pinPrefix, certificate: null });
  } catch (error) {
    const status = error instanceof TargetSkipped ? 'skipped' : 'failed';
    const reason = (error as Error).message;
    io.progress.note(`${plan.name}, ${spec.label}: ${status}: ${reason}`);
    return [emptyResult(plan, spec, maxLabel, status, reason), emptyResult(plan, spec, halfLabel, status, reason)];
  }
  if (report.description === null) {
    report.description = cluster.description;
    report.url = `ws://${cluster.subscriberEndpoint.host}:${cluster.subscriberEndpoint.port}${cluster.subscriberEndpoint.path}`;
  }
  io.progress.note(`${plan.name}: ${cluster.description}`);
  try {
    const server: MeasuredServer = {
      endpoint: cluster.subscriberEndpoint,
      publisherEndpoint: cluster.publisherEndpoint,
      tls: null,
      pids: cluster.nodePids,
      sidePid: cluster.redisPid,
    };
    const kind: SocketScenarioKind = plan.peer === 'socketio' ? 'socketio-broadcast' : 'broadcast';
    const max = await runSocketScenario(plan, server, spec, maxLabel, kind, options, io);
    max.extra.cluster = cluster.description;
    // The maximum is what node B's subscribers received, in publications per second: node A answers
    // publishers without waiting for node B, so its answered rate overstates what the cluster carries.
    const maxPublishes = max.status === 'ok' ? max.rate.value / spec.subscribers : 0;
    if (!(maxPublishes >= 2)) {
      return [max, emptyResult(plan, spec, halfLabel, 'skipped', `no maximum rate to halve (${max.reason ?? 'no publication was delivered'})`)];
    }
    if (!cluster.isAlive()) return [max, emptyResult(plan, spec, halfLabel, 'failed', `the cluster is no longer running: ${cluster.output()}`)];
    // What node B had queued when the first run's connections closed must not load the second run.
    await waitForQuiet([...cluster.nodePids, cluster.redisPid]);
    const targetRate = Math.round(maxPublishes / 2);
    const half = await runSocketScenario(plan, server, spec, halfLabel, kind, options, io, targetRate);
    half.extra.cluster = cluster.description;
    return [max, half];
  } finally {
    await cluster.stop();
  }
}

async function runSocketScenario(
  plan: TargetPlan,
  target: MeasuredServer,
  spec: ScenarioSpec,
  label: string,
  kind: SocketScenarioKind,
  options: BenchOptions,
  io: SuiteIo,
  publishRate: number = 0,
): Promise<ScenarioResult> {
  const sampler = target.pids.length === 0 ? null : new ProcessGroupSampler(target.pids);
  const sideSampler = target.sidePid === null ? null : new ProcessSampler(target.sidePid);
  let side: number | null = null;
  const pid = target.pids.length === 1 ? target.pids[0] : null;
  let server: ProcessSample = NO_SAMPLE;
  const idle = { rssBefore: null as number | null, rssAfter: null as number | null };
  if (kind === 'idle' && pid !== null) idle.rssBefore = readRssBytes(pid);
  const loops = kind === 'connect' ? spec.concurrency : spec.connections;
  const runSpec: LoadRunSpec = {
    kind,
    target: { ...target.endpoint, protocols: [], tls: target.tls },
    publisherTarget: target.publisherEndpoint === null ? null : { ...target.publisherEndpoint, protocols: [], tls: target.tls },
    publishRate,
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
          if (kind === 'idle' && pid !== null) {
            await sleep(IDLE_SETTLE_MS);
            idle.rssAfter = readRssBytes(pid);
          }
        },
        onWindowStart: () => {
          sampler?.start();
          sideSampler?.start();
        },
        onWindowEnd: () => {
          if (sampler !== null) server = sampler.stop();
          if (sideSampler !== null) side = sideSampler.stop().cpu;
        },
        onProgress: (completed, phase) => io.progress.update(completed, phase),
      },
      io.signal,
    );
  } catch (error) {
    if (sampler !== null) sampler.stop();
    if (sideSampler !== null) sideSampler.stop();
    io.progress.end(`${plan.name}, ${label}: FAILED: ${(error as Error).message}`);
    return emptyResult(plan, spec, label, 'failed', (error as Error).message);
  }
  const result = toResult(plan, spec, label, outcome, server, options.threads);
  if (kind === 'broadcast' || kind === 'raw-broadcast' || kind === 'socketio-broadcast') {
    const windowSec = outcome.windowMs / 1000;
    const publishes = outcome.secondary;
    result.extra = {
      publishesPerSec: windowSec > 0 ? publishes / windowSec : 0,
      deliveryRatio: publishes > 0 ? outcome.messages / (publishes * spec.subscribers) : null,
      subscribersReady: outcome.openAtReady - spec.publishers,
      deliveriesPerCpuSecond: server.cpu !== null && server.cpu > 0 ? result.rate.value / server.cpu : null,
    };
    if (target.sidePid !== null) result.extra.redisCpuCores = side;
    if (publishRate > 0) result.extra.targetPublishesPerSec = publishRate;
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
      cpuProcess: outcome.generatorCpu.process,
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

/**
 * An autocannon flood of the http scenario: `app` is `GET /` on the server's
 * own port (Shoal's bench app `http` handler, the peers' HTTP handlers), which
 * must answer 200 with HTTP_BODY; `health` is the admin health endpoint.
 */
async function runAutocannonScenario(
  plan: TargetPlan,
  target: RunningTarget,
  spec: ScenarioSpec,
  label: string,
  endpoint: 'app' | 'health',
  options: BenchOptions,
  io: SuiteIo,
): Promise<ScenarioResult> {
  const url = endpoint === 'app' ? target.httpUrl : target.healthUrl;
  if (url === null) {
    const reason =
      endpoint === 'app'
        ? 'an external target has no known HTTP route'
        : plan.kind === 'peer'
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
        url,
        headers: {},
        expectStatus: 200,
        expectBody: endpoint === 'app' ? HTTP_BODY : undefined,
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
    result.extra = { expectedStatus: 200, statusCounts: outcome.statusCounts, url };
    io.progress.end(summaryLine(plan, result));
    return result;
  } catch (error) {
    if (sampler !== null) sampler.stop();
    io.progress.end(`${plan.name}, ${label}: FAILED: ${(error as Error).message}`);
    return emptyResult(plan, spec, label, 'failed', (error as Error).message);
  }
}
