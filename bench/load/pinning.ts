/**
 * `--pin`: put the server and the generator on separate cores with taskset,
 * so that they do not steal each other's CPU. The plan is a pure function;
 * applying it runs taskset on this process (all threads; generator threads
 * created later inherit the mask).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
 * Split the CPUs this process may use (`cpus`, their ids): the generator gets
 * the last ones (one per generator thread, at most half), the server the rest.
 */
export function planPinning(requested: boolean, cpus: readonly number[], generatorThreads: number, hasTaskset: boolean): PinningPlan {
  if (!requested) return unpinned('not pinned (server and generator share all cores; use --pin to separate them)');
  if (!hasTaskset) return unpinned('not pinned: --pin needs taskset (util-linux), which is not installed');
  if (cpus.length < 2) return unpinned(`not pinned: --pin needs at least 2 cores, this process may use ${cpus.length}`);
  const generatorCount = Math.max(1, Math.min(generatorThreads, Math.floor(cpus.length / 2)));
  const serverCpus = cpus.slice(0, cpus.length - generatorCount);
  const generatorCpus = cpus.slice(cpus.length - generatorCount);
  return {
    enabled: true,
    serverCpus,
    generatorCpus,
    serverPrefix: ['taskset', '-c', serverCpus.join(',')],
    description: `pinned with taskset: server on CPU ${serverCpus.join(',')}, generator on CPU ${generatorCpus.join(',')}`,
  };
}

/** Parse a kernel CPU list such as "0-3,8,10-11" into ids. */
export function parseCpuList(text: string): number[] {
  const ids: number[] = [];
  for (const part of text.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (match === null) continue;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    for (let id = first; id <= last; id++) ids.push(id);
  }
  return ids;
}

/** The CPUs this process may run on (Cpus_allowed_list of /proc/self/status), or 0..n-1 when unreadable. */
export function allowedCpus(fallbackCount: number): number[] {
  try {
    const match = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    const ids = match === null ? [] : parseCpuList(match[1]);
    if (ids.length > 0) return ids;
  } catch {
    // Not Linux: fall through.
  }
  return Array.from({ length: fallbackCount }, (_, i) => i);
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
