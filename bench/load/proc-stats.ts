/**
 * A server process's CPU time and memory, read from Linux's /proc. Every
 * reader returns null where /proc is missing (other systems), so the report
 * shows "n/a" instead of failing.
 */
import { readFileSync } from 'node:fs';

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

/**
 * Samples one process over a measured window: CPU share (of one core) between
 * start() and stop(), and the largest RSS seen (sampled every `intervalMs`).
 */
export class ProcessSampler {
  readonly pid: number;
  private cpuAtStart: number | null;
  private startedAt: number;
  private peakRss: number | null;
  private timer: NodeJS.Timeout | null;
  private readonly intervalMs: number;

  constructor(pid: number, intervalMs: number = 250) {
    this.pid = pid;
    this.cpuAtStart = null;
    this.startedAt = 0;
    this.peakRss = null;
    this.timer = null;
    this.intervalMs = intervalMs;
  }

  /** Start the window. Call stop() to end it (it clears the sampling timer). */
  start(): void {
    this.cpuAtStart = readCpuMs(this.pid);
    this.startedAt = performance.now();
    this.peakRss = readRssBytes(this.pid);
    this.timer = setInterval(() => this.sampleRss(), this.intervalMs);
  }

  private sampleRss(): void {
    const rss = readRssBytes(this.pid);
    if (rss !== null && (this.peakRss === null || rss > this.peakRss)) this.peakRss = rss;
  }

  /** End the window: CPU as a fraction of one core (1.5 = one and a half cores), peak and current RSS. */
  stop(): { cpu: number | null; rssPeakBytes: number | null; rssBytes: number | null } {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sampleRss();
    const cpuNow = readCpuMs(this.pid);
    const elapsed = performance.now() - this.startedAt;
    const cpu = cpuNow === null || this.cpuAtStart === null || elapsed <= 0 ? null : (cpuNow - this.cpuAtStart) / elapsed;
    return { cpu, rssPeakBytes: this.peakRss, rssBytes: readRssBytes(this.pid) };
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

  /** null for a figure that any process could not give. */
  stop(): { cpu: number | null; rssPeakBytes: number | null; rssBytes: number | null } {
    const each = this.samplers.map((sampler) => sampler.stop());
    const sum = (values: (number | null)[]): number | null => (values.length === 0 || values.includes(null) ? null : values.reduce<number>((a, b) => a + b!, 0));
    return { cpu: sum(each.map((e) => e.cpu)), rssPeakBytes: sum(each.map((e) => e.rssPeakBytes)), rssBytes: sum(each.map((e) => e.rssBytes)) };
  }
}
