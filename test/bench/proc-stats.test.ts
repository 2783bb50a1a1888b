import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ProcessSampler, parseStatCpuMs, parseStatusRssBytes, readCpuMs, readOpenFileLimit, readRssBytes, readThreadCpuMs, threadName } from '../../bench/load/proc-stats.ts';

describe('/proc parsing (proc(5))', () => {
  it('reads utime + stime from stat, even with spaces and parens in the command name', () => {
    const stat = '1234 (node (main) x) S 1 1234 1234 0 -1 4194304 500 0 0 0 250 50 0 0 20 0 11 0 100 1000000 2000 18446744073709551615';
    expect(parseStatCpuMs(stat)).toBe(3000);
  });
  it('reads the thread name of a stat line', () => {
    expect(threadName('4321 (WorkerThread) R 1 1234 1234 0 -1 0 0 0 0 0 7 3 0 0 20 0 11 0 100 1 2 3')).toBe('WorkerThread');
    expect(threadName('1234 (node (main) x) S 1')).toBe('node (main) x');
  });
  it('returns null for a truncated stat line', () => {
    expect(parseStatCpuMs('1 (x) S 1 2')).toBeNull();
  });
  it('reads VmRSS in bytes', () => {
    expect(parseStatusRssBytes('Name:\tnode\nVmPeak:\t 999 kB\nVmRSS:\t   2048 kB\nThreads:\t7\n')).toBe(2048 * 1024);
    expect(parseStatusRssBytes('Name:\tkthreadd\n')).toBeNull();
  });
});

describe('reading a live process', () => {
  it('reads this process', () => {
    expect(readRssBytes(process.pid)).toBeGreaterThan(0);
    expect(readCpuMs(process.pid)).toBeGreaterThan(0);
    expect(readOpenFileLimit()).toBeGreaterThan(0);
  });
  it('splits a process\'s CPU by thread role: main thread, Node worker threads, the rest', async () => {
    // A child whose worker thread does a fixed amount of work (CPU time, however
    // busy the machine) while its main thread waits; it prints
    // "spun" when the worker is done and stays alive until killed.
    const code = `const { Worker } = require('node:worker_threads');
      const w = new Worker('let x = 0; for (let i = 0; i < 3e7; i++) x += Math.sqrt(Math.random()); if (x < 0) throw 0; require("node:worker_threads").parentPort.postMessage(1); setInterval(() => {}, 1000);', { eval: true });
      w.once('message', () => console.log('spun'));`;
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(child.stdout, 'data');
      const cpu = readThreadCpuMs(child.pid as number);
      expect(cpu).not.toBeNull();
      expect(cpu!.workers).toBeGreaterThan(cpu!.primary);
      expect(cpu!.workers).toBeGreaterThanOrEqual(50);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  it('returns null for a process that does not exist', () => {
    expect(readThreadCpuMs(2 ** 30)).toBeNull();
    expect(readRssBytes(2 ** 30)).toBeNull();
    expect(readCpuMs(2 ** 30)).toBeNull();
  });
  it('samples CPU and peak RSS over a window', async () => {
    const sampler = new ProcessSampler(process.pid, 10);
    sampler.start();
    // 50 ms of CPU time (not of wall time: on a busy machine 100 ms of wall
    // time could get no tick of CPU), so /proc has something to show.
    const start = process.cpuUsage();
    for (let used = 0; used < 50_000; ) {
      for (let i = 0; i < 1e5; i++) Math.sqrt(Math.random());
      const now = process.cpuUsage(start);
      used = now.user + now.system;
    }
    const sample = sampler.stop();
    expect(sample.cpu).toBeGreaterThan(0);
    expect(sample.cpuPrimary).toBeGreaterThan(0);
    expect(sample.cpuWorkers).not.toBeNull();
    expect(sample.rssPeakBytes).toBeGreaterThan(0);
    expect(sample.rssBytes).toBeGreaterThan(0);
  });
});
