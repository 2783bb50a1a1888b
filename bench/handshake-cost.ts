/**
 * What a handshake costs each thread of the server (issue #12, item 2):
 * connection storms (connect, opening handshake, clean close) against Shoal
 * from this tree, optionally Shoal from another tree (--base, a worktree of
 * the commit to compare with) and the bare Node peer (bench/peers/node-server.ts:
 * `http` on node:http's 'upgrade', `net` on a net server parsing the head by hand),
 * in alternating rounds of one invocation. Each round runs `--count`
 * handshakes, `--concurrency` at once, against each server in turn and reads
 * the CPU time of every server thread from /proc before and after: the
 * primary (main thread), the worker threads, the rest (GC and compiler
 * helpers, libuv). CPU time per handshake is far less sensitive to a busy
 * machine than the wall rate, which this also prints.
 *
 *   git worktree add /tmp/shoal-base <commit> && ln -s "$PWD/node_modules" /tmp/shoal-base/
 *   node bench/handshake-cost.ts [--base /tmp/shoal-base] [--workers 1] [--rounds 5] [--count 10000] [--concurrency 256] [--no-node]
 *   node bench/handshake-cost.ts --same-base --shoal-args=--accept-in-workers   # this tree with and without a flag
 *   node bench/handshake-cost.ts --base /tmp/shoal-base --shoal-args=--accept-in-workers   # both trees with the flag
 *   node bench/handshake-cost.ts --base /tmp/shoal-base --rounds 20 --restart-every 1 --no-node   # fresh servers every round
 *
 * One server process keeps its own offset from round to round (its heap's
 * and code's layout, where its threads run): two processes of the same tree
 * differed by up to 3-4 us per handshake in one invocation's medians on the
 * shared 2-core machine. `--restart-every N` starts every server afresh
 * (and warms it up again) after each N rounds, so that a comparison of trees
 * pairs many processes rather than two. Each start is followed by `--warmup`
 * handshakes (default 3,000): after only those the peers' compiler threads
 * were still busy (the `net` server's other threads 11 us per handshake in the
 * first measured round instead of about 1), so give restarted servers more.
 *
 * The client is one lean Node thread (raw sockets, one fixed request, the
 * 101 checked by its Sec-WebSocket-Accept, a masked close frame 1000, done
 * at the TCP close), in this process; the servers are child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    workers: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    count: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '256' },
    'no-node': { type: 'boolean', default: false },
    // Extra `shoal serve` flags for this tree, e.g. '--accept-in-workers'; with --same-base the base is this tree without them,
    // with --base the base tree gets them too (the same server, two versions of the code).
    'shoal-args': { type: 'string', default: '' },
    'same-base': { type: 'boolean', default: false },
    // Stop and start every server after this many rounds (0: the same servers throughout).
    'restart-every': { type: 'string', default: '0' },
    // Handshakes each server gets before it is measured, after every start (default: --count, at most 3000).
    warmup: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const restartEvery = Number(values['restart-every']);
const warmup = values.warmup === undefined ? Math.min(count, 3000) : Number(values.warmup);

interface Server {
  name: string;
  child: ChildProcess;
  port: number;
}

function start(name: string, argv: string[], pattern: RegExp): Promise<Server> {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = pattern.exec(stdout);
      if (match !== null) resolve({ name, child, port: Number(match[1]) });
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}): ${stdout}`)));
  });
}

function startShoal(name: string, root: string, extra: string[] = []): Promise<Server> {
  const app = path.join(ROOT, 'bench/load/bench-app.ts');
  const argv = [path.join(root, 'bin/shoal.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--workers', values.workers as string, '--app', app, ...extra];
  return start(name, argv, /listening on ws:\/\/127\.0\.0\.1:(\d+)/);
}

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/**
 * CPU ms of each thread of `pid` by role: the main thread, worker threads
 * (Node names them WorkerThread), the rest. Read from schedstat (time on the
 * CPU in nanoseconds) rather than stat's 10 ms ticks: the primary's part of a
 * round is a few hundred milliseconds.
 */
function threadCpu(pid: number): { main: number; workers: number; other: number } {
  const cpu = { main: 0, workers: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let name: string;
    let ms: number;
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      ms = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]) / 1e6;
    } catch {
      continue;
    }
    if (tid === String(pid)) cpu.main += ms;
    else if (name === 'WorkerThread') cpu.workers += ms;
    else cpu.other += ms;
  }
  return cpu;
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
// A masked close frame with status 1000 (RFC 6455 §5.5.1), mask 1,2,3,4.
const CLOSE = Buffer.from([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]);

/** `total` connect/handshake/close cycles, `parallel` at once; resolves with the wall time and the failures. */
function storm(port: number, total: number, parallel: number): Promise<{ ms: number; failures: number }> {
  const request = Buffer.from(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    'latin1',
  );
  let started = 0;
  let finished = 0;
  let failures = 0;
  const begin = performance.now();
  return new Promise((resolve) => {
    const next = (): void => {
      if (started === total) {
        if (finished === total) resolve({ ms: performance.now() - begin, failures });
        return;
      }
      started++;
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
      let received = '';
      let upgraded = false;
      let failed = false;
      socket.on('connect', () => socket.write(request));
      socket.on('data', (chunk: Buffer) => {
        if (upgraded) return;
        received += chunk.toString('latin1');
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        upgraded = true;
        if (!received.startsWith('HTTP/1.1 101') || !received.includes(ACCEPT)) {
          failed = true;
          socket.destroy();
          return;
        }
        socket.write(CLOSE);
      });
      socket.on('error', () => (failed = true));
      socket.on('close', () => {
        if (failed || !upgraded) failures++;
        finished++;
        next();
      });
    };
    for (let i = 0; i < parallel; i++) next();
  });
}

interface Sample {
  rate: number;
  main: number;
  workers: number;
  other: number;
  failures: number;
}

async function measure(server: Server): Promise<Sample> {
  const pid = server.child.pid as number;
  const before = threadCpu(pid);
  const { ms, failures } = await storm(server.port, count, concurrency);
  const after = threadCpu(pid);
  const us = (ms: number): number => (ms * 1000) / count;
  return { rate: (count * 1000) / ms, main: us(after.main - before.main), workers: us(after.workers - before.workers), other: us(after.other - before.other), failures };
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

const servers: Server[] = [];
/** Starts every server of the comparison (into `servers`, in a fixed order) and warms each up. */
async function startAll(): Promise<void> {
  const shoalArgs = (values['shoal-args'] as string).split(' ').filter((arg) => arg !== '');
  if (values['same-base']) servers.push(await startShoal('base', ROOT));
  else if (values.base !== undefined) servers.push(await startShoal('base', path.resolve(values.base), shoalArgs));
  servers.push(await startShoal('shoal', ROOT, shoalArgs));
  if (!values['no-node']) {
    const peer = path.join(ROOT, 'bench/peers/node-server.ts');
    const ready = /listening on ws:\/\/127\.0\.0\.1:(\d+)/;
    servers.push(await start('http', [peer], ready), await start('net', [peer, '--net'], ready));
  }
  for (const server of servers) if (warmup > 0) await storm(server.port, warmup, concurrency);
}

async function stopAll(): Promise<void> {
  for (const server of servers.splice(0)) await stop(server);
}

try {
  await startAll();
  const samples = new Map<string, Sample[]>(servers.map((server) => [server.name, []]));
  for (let round = 1; round <= rounds; round++) {
    if (restartEvery > 0 && round > 1 && (round - 1) % restartEvery === 0) {
      await stopAll();
      await startAll();
    }
    const order = round % 2 === 1 ? servers : [...servers].reverse();
    for (const server of order) {
      const sample = await measure(server);
      samples.get(server.name)?.push(sample);
      process.stdout.write(
        `round ${round} ${server.name.padEnd(5)} ${Math.round(sample.rate)}/s  CPU us/handshake: main ${sample.main.toFixed(1)}, workers ${sample.workers.toFixed(1)}, other ${sample.other.toFixed(1)}` +
          `${sample.failures > 0 ? `  FAILURES ${sample.failures}` : ''}\n`,
      );
    }
  }
  const restarts = restartEvery > 0 ? `, servers restarted every ${restartEvery} round${restartEvery === 1 ? '' : 's'}` : '';
  process.stdout.write(`\nmedians of ${rounds} alternating rounds, ${count} handshakes, ${concurrency} at once, shoal --workers ${values.workers}${restarts}:\n`);
  for (const [name, list] of samples) {
    const main = median(list.map((s) => s.main));
    const workers = median(list.map((s) => s.workers));
    const other = median(list.map((s) => s.other));
    process.stdout.write(
      `  ${name.padEnd(5)} ${Math.round(median(list.map((s) => s.rate)))}/s  CPU us/handshake: main ${main.toFixed(1)}, workers ${workers.toFixed(1)}, other ${other.toFixed(1)}, total ${median(list.map((s) => s.main + s.workers + s.other)).toFixed(1)}\n`,
    );
  }
} finally {
  await stopAll();
}
