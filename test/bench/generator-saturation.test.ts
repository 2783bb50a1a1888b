/**
 * When a bench result measures the client: bench/load/generator.ts
 * `generatorSaturated`. A pinned generator whose threads are each under the
 * threshold can still fill its one CPU with V8's GC and compiler threads
 * (a 1 MiB echo: 63-75 % for the thread, 92-107 % for the process).
 */
import { describe, expect, it } from 'vitest';
import { SATURATION_THRESHOLD, generatorSaturated } from '../../bench/load/generator.ts';

describe('generatorSaturated', () => {
  it('flags a generator thread at the threshold', () => {
    expect(generatorSaturated(SATURATION_THRESHOLD, 0.95, 2)).toBe(true);
    expect(generatorSaturated(SATURATION_THRESHOLD - 0.01, 0.95, 2)).toBe(false);
  });

  it("flags a process whose helper threads fill the CPUs it may run on, though no generator thread is at the threshold", () => {
    expect(generatorSaturated(0.7, 1.0, 1)).toBe(true);
    expect(generatorSaturated(0.7, 0.85, 1)).toBe(false);
    // The same process on two CPUs has room left.
    expect(generatorSaturated(0.7, 1.0, 2)).toBe(false);
    expect(generatorSaturated(0.7, 1.85, 2)).toBe(true);
  });
});
