/**
 * `shoal bench`: parse the arguments, run the suite, print the tables, write
 * the JSON and HTML reports. Every server it started is stopped before it
 * returns, also on SIGINT/SIGTERM and on errors. Exit codes: 0 done, 1 the
 * harness or Shoal itself failed, 2 usage error, 130 interrupted.
 *
 *   node bin/shoal.js bench [options]      (or: node bench/load/main.ts [options])
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadResultSchema, validateJson } from './json-schema.ts';
import { BenchUsageError, USAGE, parseBenchArgs } from './options.ts';
import type { BenchOptions } from './options.ts';
import { Progress } from './progress.ts';
import { renderHtmlReport } from './report-html.ts';
import { formatReport } from './report-table.ts';
import type { BenchReport } from './results.ts';
import { killAllServersNow, stopAllServers } from './server-process.ts';
import { runSuite } from './suite.ts';
import { FROM_SOURCE, PACKAGE_ROOT } from './targets.ts';

/**
 * Where reports go when no --json/--report path is given: bench/results in the
 * repository (gitignored), ./shoal-bench-results in the current directory when
 * the harness runs from an installed package.
 */
export const DEFAULT_RESULTS_DIR = FROM_SOURCE ? path.join(PACKAGE_ROOT, 'bench/results') : path.resolve('shoal-bench-results');

function timestamp(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}${two(date.getMonth() + 1)}${two(date.getDate())}-${two(date.getHours())}${two(date.getMinutes())}${two(date.getSeconds())}`;
}

function writeFile(file: string, text: string): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, text);
}

function outputPaths(options: BenchOptions, startedAt: Date): { json: string | null; html: string | null } {
  const base = path.join(DEFAULT_RESULTS_DIR, `bench-${timestamp(startedAt)}`);
  return {
    json: options.jsonPath ?? (options.noFiles ? null : `${base}.json`),
    html: options.reportPath ?? (options.noFiles ? null : `${base}.html`),
  };
}

/** Run `shoal bench` with argv (the words after "bench"); resolves with the exit code. */
export async function benchMain(argv: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(argv, os.availableParallelism());
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    process.stderr.write(`shoal bench: ${error.message} (see shoal bench --help)\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  const progress = new Progress(options.quiet ? null : process.stderr, process.stderr.isTTY === true);
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!controller.signal.aborted) progress.note(`${signal}: stopping the run and every server it started`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAllServersNow);
  let report: BenchReport;
  try {
    report = await runSuite(options, argv, { progress, signal: controller.signal });
  } catch (error) {
    process.stderr.write(`shoal bench: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  } finally {
    await stopAllServers();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killAllServersNow);
  }

  process.stdout.write(`\n${formatReport(report)}\n`);
  const problems = validateJson(report, loadResultSchema());
  if (problems.length > 0) {
    process.stderr.write(`shoal bench: internal error: the results do not match docs/bench-result.schema.json:\n  ${problems.slice(0, 10).join('\n  ')}\n`);
    return 1;
  }
  const paths = outputPaths(options, new Date(report.startedAt));
  if (paths.json !== null) {
    writeFile(paths.json, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`JSON:   ${paths.json}\n`);
  }
  if (paths.html !== null) {
    writeFile(paths.html, renderHtmlReport(report));
    process.stdout.write(`report: ${paths.html}\n`);
  }
  if (controller.signal.aborted) return 130;
  const shoalFailed = report.targets.some((t) => t.kind !== 'peer' && t.status === 'failed');
  return shoalFailed ? 1 : 0;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await benchMain(process.argv.slice(2));
}
