import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('../../fixtures/heap/loaded-modules.ts', import.meta.url));

function promClientLoaded(mode: 'admin' | 'none'): boolean {
  const run = spawnSync(process.execPath, [CHILD, mode], { encoding: 'utf8', timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  return (JSON.parse(run.stdout.trim()) as { promClient: boolean }).promClient;
}

describe('admin endpoints are loaded on demand', () => {
  it('loads prom-client only when an admin port is set (about 20 MiB of memory at rest)', () => {
    expect(promClientLoaded('none')).toBe(false);
    expect(promClientLoaded('admin')).toBe(true);
  }, 120_000);
});
