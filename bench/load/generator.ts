/**
 * The load generator's main-thread side: splits one scenario run over the
 * generator threads, waits until all are connected, gives them one shared
 * schedule (warm-up, measured window), and merges their results. Bounded by
 * a watchdog: threads that do not report in time are terminated and the run
 * fails.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { mergeHistograms } from './histogram.ts';
import type { LatencySummary } from './histogram.ts';
import type { ConnectTarget } from './bench-connection.ts';
import { epochNow } from './epoch-clock.ts';
import type { ErrorCounts, FromThread, SocketScenarioKind, ThreadResult, ThreadSetup, ToThread } from './messages.ts';

/** Delay between the last `ready` and the start of sending, so every thread starts together. */
const START_DELAY_MS = 50;
/** Slack for drain and close after the window, on top of the threads' own bounded timeouts. */
const FINISH_SLACK_MS = 15_000;
/** A generator thread busier than this share of the window is considered saturated. */
/** .ts in the repository, .js in the published build (the worker entry has the same extension as this file). */
const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export const SATURATION_THRESHOLD = 0.9;

/** One scenario run, as the main thread describes it. */
export interface LoadRunSpec {
  kind: SocketScenarioKind;
  target: ConnectTarget;
  /** Broadcast scenarios: where publishers connect (another node), or null for `target`. */
  publisherTarget: ConnectTarget | null;
  /** Broadcast scenarios: publications per second over all threads, paced; 0 = closed loop. */
  publishRate: number;
  threads: number;
  /** Connections (echo, rpc, idle) or concurrent handshake loops (connect). */
  connections: number;
  subscribers: number;
  publishers: number;
  inflight: number;
  payloadBytes: number;
  warmupMs: number;
  durationMs: number;
  maxMessages: number;
  timeoutMs: number;
  connectConcurrency: number;
  /** Longest the connection phase may take before the run fails. */
  setupTimeoutMs: number;
}

/** Callbacks at the run's milestones (server sampling, progress line). */
export interface LoadRunHooks {
  /** All threads connected; the schedule is sent when this resolves. */
  afterReady?(open: number): Promise<void> | void;
  /** Called at the start and end of the measured window. */
  onWindowStart?(): void;
  onWindowEnd?(): void;
  /** Completed messages so far (warm-up included), about twice a second. */
  onProgress?(completed: number, phase: 'setup' | 'warmup' | 'measure' | 'drain'): void;
}

/** Generator CPU over the window, as a fraction of one core: per generator thread, and the whole process. */
export interface GeneratorCpu {
  perThread: number[];
  max: number;
  /** The whole process: the generator threads, this thread and V8's helper threads (GC, compilers). */
  process: number;
  /**
   * A generator thread at SATURATION_THRESHOLD, or the whole process at that share of the CPUs it may run on
   * (`os.availableParallelism()`, which follows the affinity: one CPU when pinned to one): V8's helper threads
   * share those CPUs with the generator threads.
   */
  saturated: boolean;
}

/** The merged result of one run. */
export interface LoadRunOutcome {
  messages: number;
  bytes: number;
  secondary: number;
  windowMs: number;
  latency: LatencySummary;
  errors: ErrorCounts;
  errorSamples: string[];
  openAtReady: number;
  openAtEnd: number;
  generatorCpu: GeneratorCpu;
  hitMessageCap: boolean;
}

/** Split `total` into `parts` near-equal integers (the first ones get the remainder). */
export function share(total: number, parts: number, index: number): number {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}

/**
 * Run one scenario on `spec.threads` generator threads. Rejects when a thread
 * fails or the watchdog fires; `signal` aborts the run (threads are terminated).
 */
export async function runLoad(spec: LoadRunSpec, hooks: LoadRunHooks = {}, signal?: AbortSignal): Promise<LoadRunOutcome> {
  const threads = Math.max(1, Math.min(spec.threads, 64));
  const workers: Worker[] = [];
  const completed = new Array<number>(threads).fill(0);
  let phase: 'setup' | 'warmup' | 'measure' | 'drain' = 'setup';
  let readyCount = 0;
  let openAtReady = 0;
  const results: ThreadResult[] = [];
  let timers: NodeJS.Timeout[] = [];

  const outcome = new Promise<LoadRunOutcome>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    const watchdog = (ms: number, what: string): void => {
      timers.push(setTimeout(() => fail(new Error(`load generator: ${what} did not finish within ${Math.round(ms / 1000)} s`)), ms));
    };
    signal?.addEventListener('abort', () => fail(new Error('aborted')), { once: true });
    watchdog(spec.setupTimeoutMs, 'connection setup');

    // The window hooks run once each, in order. The generator threads watch
    // the same clock and may report their results before this thread's
    // end-of-window timer fires; resolving then runs the missing hooks first,
    // so the caller's server sample is always taken.
    let windowStarted = false;
    let windowEnded = false;
    // The whole process's CPU over the window (the threads' own figures leave out V8's helper threads).
    let processCpuAtStart: NodeJS.CpuUsage = { user: 0, system: 0 };
    let windowStartedAt = 0;
    let processShare = 0;
    const startWindow = (): void => {
      if (windowStarted) return;
      windowStarted = true;
      phase = 'measure';
      processCpuAtStart = process.cpuUsage();
      windowStartedAt = performance.now();
      hooks.onWindowStart?.();
    };
    const endWindow = (): void => {
      if (windowEnded) return;
      startWindow();
      windowEnded = true;
      phase = 'drain';
      const used = process.cpuUsage(processCpuAtStart);
      const elapsedMs = performance.now() - windowStartedAt;
      processShare = elapsedMs > 0 ? (used.user + used.system) / 1000 / elapsedMs : 0;
      hooks.onWindowEnd?.();
    };

    const startSchedule = async (): Promise<void> => {
      await hooks.afterReady?.(openAtReady);
      if (settled) return;
      for (const timer of timers) clearTimeout(timer);
      timers = [];
      const startAt = epochNow() + START_DELAY_MS;
      const measureAt = startAt + spec.warmupMs;
      const endAt = measureAt + spec.durationMs;
      const schedule: ToThread = { type: 'run', startAt, measureAt, endAt };
      for (const worker of workers) worker.postMessage(schedule);
      phase = 'warmup';
      timers.push(setTimeout(startWindow, measureAt - epochNow()));
      timers.push(setTimeout(endWindow, endAt - epochNow()));
      watchdog(endAt - epochNow() + FINISH_SLACK_MS, 'the run');
    };

    for (let i = 0; i < threads; i++) {
      const setup: ThreadSetup = {
        threadIndex: i,
        threadCount: threads,
        kind: spec.kind,
        target: spec.target,
        publisherTarget: spec.publisherTarget,
        publishRate: share(spec.publishRate, threads, i),
        connections: share(spec.connections, threads, i),
        subscribers: share(spec.subscribers, threads, i),
        publishers: share(spec.publishers, threads, i),
        inflight: spec.inflight,
        payloadBytes: spec.payloadBytes,
        maxMessages: share(spec.maxMessages, threads, i),
        timeoutMs: spec.timeoutMs,
        connectConcurrency: Math.max(1, share(spec.connectConcurrency, threads, i)),
      };
      const worker = new Worker(new URL(`./generator-worker${EXTENSION}`, import.meta.url), { workerData: setup });
      workers.push(worker);
      worker.on('message', (message: FromThread) => {
        switch (message.type) {
          case 'ready':
            readyCount++;
            openAtReady += message.open;
            if (readyCount === threads) startSchedule().catch((error: Error) => fail(error));
            break;
          case 'progress':
            completed[message.threadIndex] = message.messages;
            hooks.onProgress?.(completed.reduce((a, b) => a + b, 0), phase);
            break;
          case 'result':
            results.push(message);
            if (results.length === threads && !settled) {
              endWindow();
              settled = true;
              resolve(mergeResults(results, openAtReady, processShare, os.availableParallelism()));
            }
            break;
          case 'fatal':
            fail(new Error(`generator thread ${message.threadIndex} failed: ${message.message}`));
            break;
        }
      });
      worker.on('error', (error) => fail(new Error(`generator thread ${i} crashed: ${error.message}`)));
      worker.on('exit', (code) => {
        if (results.every((r) => r.threadIndex !== i)) fail(new Error(`generator thread ${i} exited (code ${code}) before reporting`));
      });
    }
  });

  try {
    return await outcome;
  } finally {
    for (const timer of timers) clearTimeout(timer);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/**
 * Whether the generator measured itself: its busiest thread at SATURATION_THRESHOLD of a core, or its whole process
 * (V8's GC and compiler threads, which share its CPUs, included) at that share of the `cores` it may run on.
 */
export function generatorSaturated(threadMax: number, processCores: number, cores: number): boolean {
  return threadMax >= SATURATION_THRESHOLD || processCores >= SATURATION_THRESHOLD * Math.max(1, cores);
}

function mergeResults(results: ThreadResult[], openAtReady: number, processShare: number, generatorCores: number): LoadRunOutcome {
  const errors: ErrorCounts = { handshakeFailures: 0, unexpectedCloses: 0, protocolErrors: 0, timeouts: 0 };
  const errorSamples: string[] = [];
  let messages = 0;
  let bytes = 0;
  let secondary = 0;
  let openAtEnd = 0;
  let windowMs = 0;
  let hitMessageCap = false;
  const perThread: number[] = [];
  for (const result of results.sort((a, b) => a.threadIndex - b.threadIndex)) {
    messages += result.messages;
    bytes += result.bytes;
    secondary += result.secondary;
    openAtEnd += result.openAtEnd;
    windowMs = Math.max(windowMs, result.windowMs);
    hitMessageCap ||= result.hitMessageCap;
    errors.handshakeFailures += result.errors.handshakeFailures;
    errors.unexpectedCloses += result.errors.unexpectedCloses;
    errors.protocolErrors += result.errors.protocolErrors;
    errors.timeouts += result.errors.timeouts;
    for (const sample of result.errorSamples) if (errorSamples.length < 8 && !errorSamples.includes(sample)) errorSamples.push(sample);
    perThread.push(result.windowMs > 0 ? (result.cpuUserUs + result.cpuSystemUs) / 1000 / result.windowMs : 0);
  }
  const max = Math.max(0, ...perThread);
  return {
    messages,
    bytes,
    secondary,
    windowMs,
    latency: mergeHistograms(results.map((result) => result.histogram)),
    errors,
    errorSamples,
    openAtReady,
    openAtEnd,
    generatorCpu: { perThread, max, process: processShare, saturated: generatorSaturated(max, processShare, generatorCores) },
    hitMessageCap,
  };
}
