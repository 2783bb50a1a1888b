/**
 * A server process's CPU time and memory, read from Linux's /proc. Every
 * reader returns null where /proc is missing (other systems), so the report
 * shows "n/a" instead of failing.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every mainstream Linux build). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time of a whole process (all threads), milliseconds; null when unreadable. */
export function readCpuMs(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  return parseStatCpuMs(stat);
}

/** utime + stime (fields 14 and 15 of proc(5) stat) in ms; the command name may contain spaces, so fields count from its ')'. */
export function parseStatCpuMs(stat: string): number | null {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ", field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** CPU time of a process's threads by role, milliseconds. */
export interface ThreadCpuMs {
  /** The main thread (Shoal's primary; all of a single-threaded server's JavaScript). */
  primary: number;
  /** Node worker threads (Shoal's connection and CPU workers), named "WorkerThread" by Node 22 and later. */
  workers: number;
  /** Every other thread: V8's garbage collector and compiler helpers, libuv's pool. */
  other: number;
}

/**
 * CPU time of each thread of `pid` (/proc/<pid>/task/<tid>/stat), summed by
 * role; null when unreadable. A thread that exits between two readings takes
 * its time with it.
 */
export function readThreadCpuMs(pid: number): ThreadCpuMs | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const cpu: ThreadCpuMs = { primary: 0, workers: 0, other: 0 };
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
    } catch {
      continue; // the thread has exited
    }
    const ms = parseStatCpuMs(stat);
    if (ms === null) continue;
    if (tid === String(pid)) cpu.primary += ms;
    else if (threadName(stat) === 'WorkerThread') cpu.workers += ms;
    else cpu.other += ms;
  }
  return cpu;
}

/** The command name of a proc(5) stat line (a thread's name), between the first '(' and the last ')'. */
export function threadName(stat: string): string {
  return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
}

/** Resident set size (VmRSS) in bytes; null when unreadable. */
export function readRssBytes(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  return parseStatusRssBytes(status);
}

/** The VmRSS line of proc(5) status ("VmRSS:   123456 kB") in bytes. */
export function parseStatusRssBytes(status: string): number | null {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match === null ? null : Number(match[1]) * 1024;
}

/** The soft limit on open files of a process ("self" or a pid) from /proc/<pid>/limits, or null. */
export function readOpenFileLimit(pid: string = 'self'): number | null {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'latin1'));
    return match === null ? null : Number(match[1]);
  } catch {
    return null;
  }
}

/** What a ProcessSampler measured over its window; CPU in cores (1.5 = one and a half cores busy). */
export interface ProcessSample {
  cpu: number | null;
  /** Of `cpu`: the main thread's, and the worker threads'. */
  cpuPrimary: number | null;
  cpuWorkers: number | null;
  rssPeakBytes: number | null;
  rssBytes: number | null;
}

/**
 * Samples one process over a measured window: CPU share (of one core) between
 * start() and stop(), in all and by thread role, and the largest RSS seen
 * (sampled every `intervalMs`).
 */
export class ProcessSampler {
  readonly pid: number;
  private cpuAtStart: number | null;
  private threadsAtStart: ThreadCpuMs | null;
  private startedAt: number;
  private peakRss: number | null;
  private timer: NodeJS.Timeout | null;
  private readonly intervalMs: number;

  constructor(pid: number, intervalMs: number = 250) {
    this.pid = pid;
    this.cpuAtStart = null;
    this.threadsAtStart = null;
    this.startedAt = 0;
    this.peakRss = null;
    this.timer = null;
    this.intervalMs = intervalMs;
  }

  /** Start the window. Call stop() to end it (it clears the sampling timer). */
  start(): void {
    this.cpuAtStart = readCpuMs(this.pid);
    this.threadsAtStart = readThreadCpuMs(this.pid);
    this.startedAt = performance.now();
    this.peakRss = readRssBytes(this.pid);
    this.timer = setInterval(() => this.sampleRss(), this.intervalMs);
  }

  private sampleRss(): void {
    const rss = readRssBytes(this.pid);
    if (rss !== null && (this.peakRss === null || rss > this.peakRss)) this.peakRss = rss;
  }

  /** End the window: CPU as a fraction of one core (1.5 = one and a half cores), by thread role, peak and current RSS. */
  stop(): ProcessSample {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sampleRss();
    const cpuNow = readCpuMs(this.pid);
    const threadsNow = readThreadCpuMs(this.pid);
    const elapsed = performance.now() - this.startedAt;
    const cpu = cpuNow === null || this.cpuAtStart === null || elapsed <= 0 ? null : (cpuNow - this.cpuAtStart) / elapsed;
    const before = this.threadsAtStart;
    const threads = threadsNow === null || before === null || elapsed <= 0 ? null : threadsNow;
    return {
      cpu,
      cpuPrimary: threads === null || before === null ? null : Math.max(0, threads.primary - before.primary) / elapsed,
      cpuWorkers: threads === null || before === null ? null : Math.max(0, threads.workers - before.workers) / elapsed,
      rssPeakBytes: this.peakRss,
      rssBytes: readRssBytes(this.pid),
    };
  }
}

/**
 * Samples several processes over one window as one server (a cluster's
 * nodes): CPU summed (cores), RSS summed (peak: the sum of each one's peak).
 */
export class ProcessGroupSampler {
  private readonly samplers: ProcessSampler[];

  constructor(pids: readonly number[]) {
    this.samplers = pids.map((pid) => new ProcessSampler(pid));
  }

  start(): void {
    for (const sampler of this.samplers) sampler.start();
  }

  /** Every figure summed over the processes; null for a figure that any process could not give. */
  stop(): ProcessSample {
    const each = this.samplers.map((sampler) => sampler.stop());
    const sum = (values: (number | null)[]): number | null => (values.length === 0 || values.includes(null) ? null : values.reduce<number>((a, b) => a + b!, 0));
    return {
      cpu: sum(each.map((e) => e.cpu)),
      cpuPrimary: sum(each.map((e) => e.cpuPrimary)),
      cpuWorkers: sum(each.map((e) => e.cpuWorkers)),
      rssPeakBytes: sum(each.map((e) => e.rssPeakBytes)),
      rssBytes: sum(each.map((e) => e.rssBytes)),
    };
  }
}
