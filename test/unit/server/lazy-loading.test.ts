import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('../../fixtures/heap/loaded-modules.ts', import.meta.url));

interface Loaded {
  promClient: boolean;
  ioredis: boolean;
}

function loadedPackages(mode: 'admin' | 'broker' | 'none'): Loaded {
  const run = spawnSync(process.execPath, [CHILD, mode], { encoding: 'utf8', timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim()) as Loaded;
}

describe('optional parts are loaded on demand', () => {
  it('loads prom-client only when an admin port is set, ioredis only with a broker (together about 40 MiB of memory at rest)', () => {
    expect(loadedPackages('none')).toEqual({ promClient: false, ioredis: false });
    expect(loadedPackages('admin')).toEqual({ promClient: true, ioredis: false });
    expect(loadedPackages('broker')).toEqual({ promClient: false, ioredis: true });
  }, 180_000);
});
