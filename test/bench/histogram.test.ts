import { describe, expect, it } from 'vitest';
import { createLatencyHistogram, encodeHistogram, mergeHistograms, recordLatencyUs, MAX_TRACKED_US } from '../../bench/load/histogram.ts';
import { share } from '../../bench/load/generator.ts';

describe('latency histograms', () => {
  it('merges per-thread histograms into one set of percentiles', () => {
    const a = createLatencyHistogram();
    const b = createLatencyHistogram();
    for (let us = 1; us <= 500; us++) recordLatencyUs(a, us);
    for (let us = 501; us <= 1000; us++) recordLatencyUs(b, us);
    const merged = mergeHistograms([encodeHistogram(a), encodeHistogram(b)]);
    expect(merged.count).toBe(1000);
    expect(merged.p50).toBe(500);
    expect(merged.p90).toBe(900);
    expect(merged.p99).toBe(990);
    expect(merged.max).toBe(1000);
  });
  it('clamps values to 1 us .. 60 s', () => {
    const h = createLatencyHistogram();
    recordLatencyUs(h, 0.2);
    recordLatencyUs(h, 1e12);
    const summary = mergeHistograms([encodeHistogram(h)]);
    expect(summary.count).toBe(2);
    expect(summary.p50).toBe(1);
    expect(summary.max).toBeGreaterThanOrEqual(MAX_TRACKED_US);
  });
  it('summarises nothing as zeros', () => {
    expect(mergeHistograms([])).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p99_9: 0, max: 0 });
  });
});

describe('splitting work over generator threads', () => {
  it('hands out the remainder to the first threads and loses nothing', () => {
    expect([0, 1, 2].map((i) => share(10, 3, i))).toEqual([4, 3, 3]);
    expect([0, 1, 2, 3].map((i) => share(2, 4, i))).toEqual([1, 1, 0, 0]);
  });
});
