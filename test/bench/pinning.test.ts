import { describe, expect, it } from 'vitest';
import { allowedCpus, parseCpuList, planPinning } from '../../bench/load/pinning.ts';

const ids = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('--pin placement', () => {
  it('is off unless asked, and says so', () => {
    expect(planPinning(false, ids(8), 1, true)).toMatchObject({ enabled: false, serverPrefix: [], description: expect.stringMatching(/^not pinned/) });
  });
  it('explains why it cannot pin', () => {
    expect(planPinning(true, ids(8), 1, false).description).toMatch(/needs taskset/);
    expect(planPinning(true, ids(1), 1, true).description).toMatch(/at least 2 cores/);
  });
  it('gives the generator the last cores and the server the rest', () => {
    expect(planPinning(true, ids(2), 1, true)).toMatchObject({ enabled: true, serverCpus: [0], generatorCpus: [1], serverPrefix: ['taskset', '-c', '0'] });
    expect(planPinning(true, ids(8), 2, true)).toMatchObject({ serverCpus: [0, 1, 2, 3, 4, 5], generatorCpus: [6, 7], serverPrefix: ['taskset', '-c', '0,1,2,3,4,5'] });
    expect(planPinning(true, ids(8), 2, true).description).toBe('pinned with taskset: server on CPU 0,1,2,3,4,5, generator on CPU 6,7');
  });
  it('uses the ids of the CPUs this process may run on', () => {
    expect(planPinning(true, [2, 3, 6, 7], 1, true)).toMatchObject({ serverCpus: [2, 3, 6], generatorCpus: [7], serverPrefix: ['taskset', '-c', '2,3,6'] });
  });
  it('parses kernel CPU lists', () => {
    expect(parseCpuList('0-3,8,10-11\n')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList('5')).toEqual([5]);
    expect(allowedCpus(1).length).toBeGreaterThan(0);
  });
  it('never gives the generator more than half of the cores', () => {
    expect(planPinning(true, ids(4), 16, true)).toMatchObject({ serverCpus: [0, 1], generatorCpus: [2, 3] });
  });
});
