import { describe, expect, it } from 'vitest';
import { LogLimiter, OVERFLOW_CAUSE } from '../../../src/telemetry/log-limiter.ts';

describe('LogLimiter', () => {
  it('admits `lines` lines per cause per window and counts the rest', () => {
    const limiter = new LogLimiter<string>(3, 1000);
    const admitted = Array.from({ length: 10 }, (_, i) => limiter.admit('boom', i, 'error'));
    expect(admitted).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(limiter.takeSuppressed(999)).toEqual([]);
    expect(limiter.nextReportAt()).toBe(1000);
    expect(limiter.takeSuppressed(1000)).toEqual([{ cause: 'boom', suppressed: 7, detail: 'error' }]);
    // Taken once; the window is gone.
    expect(limiter.takeSuppressed(5000)).toEqual([]);
    expect(limiter.size).toBe(0);
    expect(limiter.nextReportAt()).toBeNull();
  });

  it('keeps causes apart', () => {
    const limiter = new LogLimiter<string>(1, 100);
    expect(limiter.admit('a', 0, 'warn')).toBe(true);
    expect(limiter.admit('b', 0, 'warn')).toBe(true);
    expect(limiter.admit('a', 1, 'warn')).toBe(false);
    expect(limiter.takeSuppressed(100)).toEqual([{ cause: 'a', suppressed: 1, detail: 'warn' }]);
  });

  it('starts a new window when a line arrives after the old one ended, keeping the old count for the next take', () => {
    const limiter = new LogLimiter<string>(1, 100);
    limiter.admit('a', 0, 'error');
    limiter.admit('a', 10, 'error');
    limiter.admit('a', 20, 'error');
    expect(limiter.admit('a', 150, 'error')).toBe(true);
    expect(limiter.nextReportAt()).toBe(-Infinity);
    expect(limiter.takeSuppressed(150)).toEqual([{ cause: 'a', suppressed: 2, detail: 'error' }]);
    expect(limiter.admit('a', 160, 'error')).toBe(false);
    expect(limiter.takeSuppressed(250)).toEqual([{ cause: 'a', suppressed: 1, detail: 'error' }]);
  });

  it('folds causes past maxCauses into one, so the table stays bounded', () => {
    const limiter = new LogLimiter<string>(1, 1000, 4);
    for (let i = 0; i < 4; i++) expect(limiter.admit(`c${i}`, 0, 'error')).toBe(true);
    expect(limiter.admit('c4', 1, 'error')).toBe(true);
    expect(limiter.admit('c5', 2, 'error')).toBe(false);
    expect(limiter.size).toBe(5);
    expect(limiter.takeSuppressed(1001)).toEqual([{ cause: OVERFLOW_CAUSE, suppressed: 1, detail: 'error' }]);
    // Windows that ended make room again.
    expect(limiter.admit('c6', 2000, 'error')).toBe(true);
    expect(limiter.size).toBe(1);
  });

  it('refuses a limit below one line or a window that is not positive', () => {
    expect(() => new LogLimiter(0, 1000)).toThrow(RangeError);
    expect(() => new LogLimiter(1, 0)).toThrow(RangeError);
  });
});
