import { describe, expect, it } from 'vitest';
import { MAX_SWEEP_MS, MIN_SWEEP_MS, startSweeper, sweepIntervalMs, clock } from '../../../src/transport/heartbeat.ts';

const timings = { handshakeTimeoutMs: 10_000, idleTimeoutMs: 120_000, pingIntervalMs: 30_000, closeTimeoutMs: 5_000 };

describe('sweepIntervalMs', () => {
  it('is a quarter of the shortest enabled deadline', () => {
    expect(sweepIntervalMs({ ...timings, closeTimeoutMs: 2000 })).toBe(500);
  });
  it('ignores deadlines that are turned off (0)', () => {
    expect(sweepIntervalMs({ handshakeTimeoutMs: 2000, idleTimeoutMs: 0, pingIntervalMs: 0, closeTimeoutMs: 3000 })).toBe(500);
  });
  it('stays within its bounds', () => {
    expect(sweepIntervalMs({ ...timings, closeTimeoutMs: 1 })).toBe(MIN_SWEEP_MS);
    expect(sweepIntervalMs({ handshakeTimeoutMs: 1e9, idleTimeoutMs: 1e9, pingIntervalMs: 1e9, closeTimeoutMs: 1e9 })).toBe(MAX_SWEEP_MS);
  });
});

describe('startSweeper', () => {
  it('advances the coarse clock before each sweep and stops when asked', async () => {
    const seen: number[] = [];
    const stop = startSweeper(MIN_SWEEP_MS, (now) => seen.push(now));
    await new Promise((resolve) => setTimeout(resolve, MIN_SWEEP_MS * 6));
    stop();
    const count = seen.length;
    await new Promise((resolve) => setTimeout(resolve, MIN_SWEEP_MS * 4));
    expect(count).toBeGreaterThanOrEqual(2);
    expect(seen.length).toBe(count);
    expect(seen.at(-1)).toBe(clock.now);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
  });
});
