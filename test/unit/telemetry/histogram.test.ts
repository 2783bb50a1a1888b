import { describe, expect, it } from 'vitest';
import { HistogramFamily, HistogramTotals, type HistogramDelta } from '../../../src/telemetry/histogram.ts';

const definition = { name: 'x_seconds', help: 'x', labelNames: ['method'], buckets: [0.1, 1] };

describe('HistogramFamily', () => {
  it('counts each value in the first bucket whose bound is >= it (le), and drains deltas', () => {
    const family = new HistogramFamily(definition);
    const add = family.series('add');
    for (const value of [0, 0.1, 0.2, 1, 5]) add.observe(value);
    family.series('idle');
    const deltas: HistogramDelta[] = [];
    family.drain(deltas);
    expect(deltas).toEqual([{ name: 'x_seconds', labels: ['add'], counts: [2, 2, 1], sum: 6.3, total: 5 }]);
    add.skip();
    const skipped: HistogramDelta[] = [];
    family.drain(skipped);
    expect(skipped).toEqual([{ name: 'x_seconds', labels: ['add'], counts: [0, 0, 0], sum: 0, total: 1 }]);
    expect(family.series('add')).toBe(add);
  });
});

describe('HistogramTotals', () => {
  it('adds the deltas of several workers per label set', () => {
    const totals = new HistogramTotals();
    totals.add({ name: 'x_seconds', labels: ['add'], counts: [1, 0, 0], sum: 0.05, total: 1 });
    totals.add({ name: 'x_seconds', labels: ['add'], counts: [0, 2, 1], sum: 3, total: 9 });
    totals.add({ name: 'x_seconds', labels: ['sub'], counts: [1, 0, 0], sum: 0.01, total: 1 });
    expect([...totals.series('x_seconds')]).toEqual([
      { labels: ['add'], counts: [1, 2, 1], sum: 3.05, count: 4, total: 10 },
      { labels: ['sub'], counts: [1, 0, 0], sum: 0.01, count: 1, total: 1 },
    ]);
    expect([...totals.series('y')]).toEqual([]);
  });
});
