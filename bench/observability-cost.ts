/**
 * What issue #13's logging and live metrics cost (docs/operations.md, "Cost"):
 * Shoal from this tree with the admin port on, /metrics scraped every second
 * and info-level JSON logging, against Shoal from a tree without them (a
 * worktree of the commit before, given with --base), both with one worker,
 * measured by `shoal bench --target` on 32-byte echo (32 in flight) and rpc,
 * in alternating rounds of one invocation.
 *
 *   git worktree add /tmp/shoal-base <commit> && ln -s "$PWD/node_modules" /tmp/shoal-base/
 *   node bench/observability-cost.ts --base /tmp/shoal-base [--rounds 3] [--duration 5] [--scenarios ...] [--on-args '...']
 *
 * Prints each round's rates and the median ratio per scenario (on / off).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    scenarios: { type: 'string', default: 'echo:size=32:inflight=32,rpc' },
    // `--on-args ''` measures this tree with no admin port and no scraping (the workers' cost alone).
    'on-args': { type: 'string', default: '--admin-port 0 --log-level info --log-format json' },
  },
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
  results: { label: string; status: string; rate: { value: number } | null; server: { cpuCores: number } | null }[];
}

/** A scenario's rate and the server CPU it took per message (microseconds: less sensitive to a busy machine than the rate). */
interface Measure {
  rate: number;
  cpuUsPerMessage: number;
}

/** Runs `shoal bench --target` against `server` (asynchronously: the scraper keeps running meanwhile). */
async function bench(server: Running, dir: string, name: string): Promise<Map<string, Measure>> {
  const file = path.join(dir, `${name}.json`);
  const run = spawn(
    process.execPath,
    [path.join(ROOT, 'bin/shoal.js'), 'bench', '--target', server.url, '--server-pid', String(server.child.pid), '--against', 'none', '--scenarios', values.scenarios as string, '--duration', values.duration as string, '--json', file, '--quiet'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  run.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [status] = (await once(run, 'exit')) as [number | null];
  if (status !== 0) throw new Error(`shoal bench failed (${status}): ${stderr}`);
  const json = JSON.parse(readFileSync(file, 'utf8')) as BenchJson;
  const measures = new Map<string, Measure>();
  for (const result of json.results) {
    if (result.status !== 'ok' || result.rate === null) continue;
    measures.set(result.label, { rate: result.rate.value, cpuUsPerMessage: ((result.server?.cpuCores ?? NaN) / result.rate.value) * 1e6 });
  }
  return measures;
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

const dir = mkdtempSync(path.join(tmpdir(), 'shoal-obs-cost-'));
const off: Map<string, Measure>[] = [];
const on: Map<string, Measure>[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    const base = await startServer(baseRoot, []);
    try {
      off.push(await bench(base, dir, `off-${round}`));
    } finally {
      await stop(base);
    }
    const current = await startServer(ROOT, (values['on-args'] as string).split(' ').filter((arg) => arg !== ''));
    const stopScraping = current.admin === null ? () => 0 : scrapeEverySecond(current.admin);
    try {
      on.push(await bench(current, dir, `on-${round}`));
    } finally {
      const scrapes = stopScraping();
      await stop(current);
      process.stdout.write(`round ${round}: ${scrapes} scrapes of /metrics, ${current.stderrBytes()} bytes of log\n`);
    }
    for (const [label, measure] of off.at(-1) as Map<string, Measure>) {
      const current = on.at(-1)?.get(label);
      process.stdout.write(
        `  ${label}: off ${Math.round(measure.rate)}/s ${measure.cpuUsPerMessage.toFixed(3)} us CPU/msg, on ${Math.round(current?.rate ?? NaN)}/s ${current?.cpuUsPerMessage.toFixed(3)} us CPU/msg\n`,
      );
    }
  }
  process.stdout.write(`\nmedian of ${rounds} alternating rounds, 1 worker, on = admin port + /metrics every 1 s + info JSON logs:\n`);
  for (const label of (off[0] as Map<string, Measure>).keys()) {
    const offRate = median(off.map((m) => m.get(label)?.rate ?? NaN));
    const onRate = median(on.map((m) => m.get(label)?.rate ?? NaN));
    const offCpu = median(off.map((m) => m.get(label)?.cpuUsPerMessage ?? NaN));
    const onCpu = median(on.map((m) => m.get(label)?.cpuUsPerMessage ?? NaN));
    process.stdout.write(
      `  ${label}: rate off ${Math.round(offRate)}/s, on ${Math.round(onRate)}/s (on/off ${(onRate / offRate).toFixed(3)}); ` +
        `server CPU per message off ${offCpu.toFixed(3)} us, on ${onCpu.toFixed(3)} us (on/off ${(onCpu / offCpu).toFixed(3)})\n`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
