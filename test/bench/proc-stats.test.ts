import { describe, expect, it } from 'vitest';
import { ProcessSampler, parseStatCpuMs, parseStatusRssBytes, readCpuMs, readOpenFileLimit, readRssBytes } from '../../bench/load/proc-stats.ts';

describe('/proc parsing (proc(5))', () => {
  it('reads utime + stime from stat, even with spaces and parens in the command name', () => {
    const stat = '1234 (node (main) x) S 1 1234 1234 0 -1 4194304 500 0 0 0 250 50 0 0 20 0 11 0 100 1000000 2000 18446744073709551615';
    expect(parseStatCpuMs(stat)).toBe(3000);
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
  it('returns null for a process that does not exist', () => {
    expect(readRssBytes(2 ** 30)).toBeNull();
    expect(readCpuMs(2 ** 30)).toBeNull();
  });
  it('samples CPU and peak RSS over a window', async () => {
    const sampler = new ProcessSampler(process.pid, 10);
    sampler.start();
    const until = performance.now() + 100;
    while (performance.now() < until) Math.sqrt(Math.random());
    const sample = sampler.stop();
    expect(sample.cpu).toBeGreaterThan(0);
    expect(sample.rssPeakBytes).toBeGreaterThan(0);
    expect(sample.rssBytes).toBeGreaterThan(0);
  });
});
