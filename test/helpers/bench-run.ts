/**
 * Runs `shoal bench` in the test's process (benchMain), quietly, no report
 * files, with its JSON written to a temp dir of the test file's own that is
 * removed after the file's tests. Call at the top level of a test file.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { benchMain } from '../../bench/load/main.ts';
import type { BenchReport } from '../../bench/load/results.ts';

/** What one run gave: its exit code, its JSON as parsed and as a report. */
export interface BenchRun {
  readonly code: number;
  readonly report: BenchReport;
  readonly json: unknown;
}

export interface BenchRunner {
  /** The temp dir (for the test's own files beside the runs' JSON). */
  readonly dir: string;
  run(args: readonly string[]): Promise<BenchRun>;
}

export function benchRunner(prefix: string): BenchRunner {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let runs = 0;
  return {
    dir,
    async run(args) {
      const file = path.join(dir, `run-${++runs}.json`);
      const code = await benchMain([...args, '--json', file, '--no-files', '--quiet']);
      const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
      return { code, report: json as BenchReport, json };
    },
  };
}
