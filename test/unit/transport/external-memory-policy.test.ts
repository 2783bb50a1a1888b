import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { shouldApplyExternalMemoryPolicy, shouldRaiseInitialOldSpace } from '../../../src/transport/external-memory-policy.ts';

const CHILD = fileURLToPath(new URL('../../fixtures/heap/external-churn.ts', import.meta.url));

function churn(mode: 'apply' | 'default'): { applied: boolean; major: number; minor: number } {
  const run = spawnSync(process.execPath, [CHILD, mode], { encoding: 'utf8', timeout: 120_000 });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout.trim()) as { applied: boolean; major: number; minor: number };
}

describe('external memory policy', () => {
  it('is applied on the V8 of Node 24 only, and not over a flag given on the command line', () => {
    expect(shouldApplyExternalMemoryPolicy('13.6.233.17-node.53', [])).toBe(true);
    expect(shouldApplyExternalMemoryPolicy('13.6.233.17-node.53', ['--no-external-memory-accounted-in-global-limit'])).toBe(false);
    expect(shouldApplyExternalMemoryPolicy('13.6.233.17-node.53', ['--external_memory_accounted_in_global_limit'])).toBe(false);
    expect(shouldApplyExternalMemoryPolicy('12.4.254.21', [])).toBe(false);
    expect(shouldApplyExternalMemoryPolicy('14.1.0', [])).toBe(false);
  });

  it("raises the workers' initial old-space limit unless the command line sizes the heap's start", () => {
    expect(shouldRaiseInitialOldSpace([])).toBe(true);
    expect(shouldRaiseInitialOldSpace(['--max-old-space-size=512'])).toBe(true);
    expect(shouldRaiseInitialOldSpace(['--initial-old-space-size=64'])).toBe(false);
    expect(shouldRaiseInitialOldSpace(['--initial_heap_size=64'])).toBe(false);
  });

  it.runIf(shouldApplyExternalMemoryPolicy(process.versions.v8, process.execArgv))(
    "frees a worker's short-lived buffers without full collections",
    () => {
      // 3.2 GB of 16 KiB buffers that die at once: V8's default runs a full
      // mark-compact every ~64 MB of them; with the policy the scavenges free them.
      const before = churn('default');
      const after = churn('apply');
      expect(before.applied).toBe(false);
      expect(after.applied).toBe(true);
      expect(before.major).toBeGreaterThanOrEqual(10);
      // 43-45 full collections without the policy, 2-3 with it (start-up included).
      expect(after.major).toBeLessThan(before.major / 5);
      expect(after.minor).toBeGreaterThan(0);
    },
    240_000,
  );
});
