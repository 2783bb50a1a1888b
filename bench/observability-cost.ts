/**
 * What issue #13's logging and live metrics cost (docs/operations.md, "Cost"):
 * Shoal from this tree with the admin port on, /metrics scraped every second
 * and info-level JSON logging, against Shoal from a tree without them (a
 * worktree of the commit before, given with --base), both with one worker,
 * measured by `shoal bench --target` on 32-byte echo (32 in flight) and rpc,
 * in alternating rounds of one invocation.
 *
 *   git worktree add /tmp/shoal-base <commit> && ln -s "$PWD/node_modules" /tmp/shoal-base/
 *   node bench/observability-cost.ts --base /tmp/shoal-base [--rounds 3] [--duration 5]
 *
 * Prints each round's rates and the median ratio per scenario (on / off).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SCENARIOS = 'echo:size=32:inflight=32,rpc';

const { values } = parseArgs({
  options: { base: { type: 'string' }, rounds: { type: 'string', default: '3' }, duration: { type: 'string', default: '5' } },
});
if (values.base === undefined) {
  process.stderr.write('usage: node bench/observability-cost.ts --base <worktree of the commit to compare with> [--rounds 3] [--duration 5]\n');
  process.exit(2);
}
const baseRoot = path.resolve(values.base);
const rounds = Number(values.rounds);

interface Running {
  child: ChildProcess;
  url: string;
  admin: string | null;
  stderrBytes: () => number;
}

function startServer(root: string, extra: string[]): Promise<Running> {
  const app = path.join(ROOT, 'bench/load/bench-app.ts');
  const child = spawn(process.execPath, [path.join(root, 'bin/shoal.js'), 'serve', '--port', '0', '--workers', '1', '--app', app, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderrBytes = 0;
  child.stderr?.on('data', (chunk: Buffer) => (stderrBytes += chunk.length));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const ws = /listening on (ws:\/\/\S+)/.exec(stdout);
      const wantsAdmin = extra.includes('--admin-port');
      const admin = /admin endpoints on (http:\/\/\S+)/.exec(stdout);
      if (ws !== null && (!wantsAdmin || admin !== null)) resolve({ child, url: ws[1] as string, admin: admin?.[1] ?? null, stderrBytes: () => stderrBytes });
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${stdout}`)));
  });
}

async function stop(server: Running): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/** GET /metrics every second while the run lasts, as a (demanding) Prometheus would. */
function scrapeEverySecond(admin: string): () => number {
  let scrapes = 0;
  const timer = setInterval(() => {
    const req = request(`${admin}metrics`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => scrapes++);
    });
    req.on('error', () => {});
    req.end();
  }, 1000);
  return () => {
    clearInterval(timer);
    return scrapes;
  };
}

interface BenchJson {
  results: { label: string; status: string; rate: { value: number } | null }[];
}

function bench(server: Running, dir: string, name: string): Map<string, number> {
  const file = path.join(dir, `${name}.json`);
  const run = spawnSync(
    process.execPath,
    [path.join(ROOT, 'bin/shoal.js'), 'bench', '--target', server.url, '--server-pid', String(server.child.pid), '--against', 'none', '--scenarios', SCENARIOS, '--duration', values.duration as string, '--json', file, '--quiet'],
    { encoding: 'utf8', timeout: 600_000 },
  );
  if (run.status !== 0) throw new Error(`shoal bench failed (${run.status}): ${run.stderr}`);
  const json = JSON.parse(readFileSync(file, 'utf8')) as BenchJson;
  const rates = new Map<string, number>();
  for (const result of json.results) if (result.status === 'ok' && result.rate !== null) rates.set(result.label, result.rate.value);
  return rates;
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

const dir = mkdtempSync(path.join(tmpdir(), 'shoal-obs-cost-'));
const off: Map<string, number>[] = [];
const on: Map<string, number>[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    const base = await startServer(baseRoot, []);
    try {
      off.push(bench(base, dir, `off-${round}`));
    } finally {
      await stop(base);
    }
    const current = await startServer(ROOT, ['--admin-port', '0', '--log-level', 'info', '--log-format', 'json']);
    const stopScraping = scrapeEverySecond(current.admin as string);
    try {
      on.push(bench(current, dir, `on-${round}`));
    } finally {
      const scrapes = stopScraping();
      await stop(current);
      process.stdout.write(`round ${round}: ${scrapes} scrapes of /metrics, ${current.stderrBytes()} bytes of log\n`);
    }
    for (const [label, rate] of off.at(-1) as Map<string, number>) {
      process.stdout.write(`  ${label}: off ${Math.round(rate)}/s, on ${Math.round(on.at(-1)?.get(label) ?? NaN)}/s\n`);
    }
  }
  process.stdout.write(`\nmedian of ${rounds} alternating rounds, 1 worker, on = admin port + /metrics every 1 s + info JSON logs:\n`);
  for (const label of (off[0] as Map<string, number>).keys()) {
    const offRate = median(off.map((rates) => rates.get(label) ?? NaN));
    const onRate = median(on.map((rates) => rates.get(label) ?? NaN));
    process.stdout.write(`  ${label}: off ${Math.round(offRate)}/s, on ${Math.round(onRate)}/s, on/off ${(onRate / offRate).toFixed(3)}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
