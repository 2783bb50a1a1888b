/**
 * `--pin`: put the server and the generator on separate cores with taskset,
 * so that they do not steal each other's CPU. The plan is a pure function;
 * applying it runs taskset on this process (all threads; generator threads
 * created later inherit the mask).
 */
import { spawnSync } from 'node:child_process';

/** Where things run; `serverPrefix` goes in front of every server command. */
export interface PinningPlan {
  enabled: boolean;
  serverCpus: number[];
  generatorCpus: number[];
  serverPrefix: string[];
  /** One sentence for the report: how they were placed, or why not. */
  description: string;
}

/** No pinning, with the reason. */
function unpinned(description: string): PinningPlan {
  return { enabled: false, serverCpus: [], generatorCpus: [], serverPrefix: [], description };
}

/**
 * Split `cpus` cores: the generator gets the last ones (one per generator
 * thread, at most half of the cores), the server the rest.
 */
export function planPinning(requested: boolean, cpus: number, generatorThreads: number, hasTaskset: boolean): PinningPlan {
  if (!requested) return unpinned('not pinned (server and generator share all cores; use --pin to separate them)');
  if (!hasTaskset) return unpinned('not pinned: --pin needs taskset (util-linux), which is not installed');
  if (cpus < 2) return unpinned(`not pinned: --pin needs at least 2 cores, this machine has ${cpus}`);
  const generatorCount = Math.max(1, Math.min(generatorThreads, Math.floor(cpus / 2)));
  const serverCpus = Array.from({ length: cpus - generatorCount }, (_, i) => i);
  const generatorCpus = Array.from({ length: generatorCount }, (_, i) => cpus - generatorCount + i);
  return {
    enabled: true,
    serverCpus,
    generatorCpus,
    serverPrefix: ['taskset', '-c', serverCpus.join(',')],
    description: `pinned with taskset: server on CPU ${serverCpus.join(',')}, generator on CPU ${generatorCpus.join(',')}`,
  };
}

/** True when the taskset command can run. */
export function hasTaskset(): boolean {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore', timeout: 5000 }).status === 0;
}

/** Pin every thread of this process to `cpus`; returns an error message or null. */
export function pinThisProcess(cpus: readonly number[]): string | null {
  const result = spawnSync('taskset', ['-a', '-p', '-c', cpus.join(','), String(process.pid)], { encoding: 'utf8', timeout: 5000 });
  return result.status === 0 ? null : `taskset failed: ${(result.stderr || result.error?.message || 'unknown error').trim()}`;
}
