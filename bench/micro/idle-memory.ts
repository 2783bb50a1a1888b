/**
 * Where the memory of idle connections goes. Starts Shoal in this process
 * (primary on this thread), opens idle WebSocket connections from a child
 * process in steps, and after each step reports the process's RSS and, from
 * heap snapshots of every thread (each taken after a full GC), the live heap;
 * between steps it prints the growth per connection and the object kinds
 * that grew most.
 *
 * Run: npx node bench/micro/idle-memory.ts [--workers 1] [--connections 1000,5000] [--top 20]
 *      npx node bench/micro/idle-memory.ts --no-snapshots     (RSS only)
 *
 * RSS includes what V8 keeps after a burst (young generation pages, old
 * generation slack); the heap snapshots count live objects only. Taking
 * snapshots costs memory itself, so RSS is printed only with --no-snapshots.
 * The snapshots are summarized after the server has stopped, so that the
 * summaries do not show up in the primary's heap.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { BroadcastChannel } from 'node:worker_threads';
import { createServer } from '../../src/server/server.ts';
import { DIAGNOSTICS_CHANNEL, type SnapshotReply, type SnapshotRequest } from './idle-memory-app.ts';

const SELF = fileURLToPath(import.meta.url);

/** Client mode: `--client PORT N1 N2 ...` opens connections up to N1, prints "open N1", waits for a line, and so on. */
async function runClient(port: number, targets: number[]): Promise<void> {
  const request = Buffer.from(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    'latin1',
  );
  const sockets: ReturnType<typeof connect>[] = [];
  const openOne = () =>
    new Promise<void>((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(request));
      socket.once('data', (chunk: Buffer) => {
        if (chunk.toString('latin1', 0, 12) !== 'HTTP/1.1 101') reject(new Error(`not upgraded: ${chunk.toString('latin1', 0, 40)}`));
        else resolve();
      });
      socket.on('error', reject);
      sockets.push(socket);
    });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line === 'quit') break;
    const target = targets.shift();
    if (target === undefined) break;
    while (sockets.length < target) {
      const batch = Math.min(64, target - sockets.length);
      await Promise.all(Array.from({ length: batch }, openOne));
    }
    process.stdout.write(`open ${sockets.length}\n`);
  }
  for (const socket of sockets) socket.destroy();
  lines.close();
  process.stdin.destroy();
}

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index === -1 ? fallback : (process.argv[index + 1] ?? fallback);
}

/** Self size of the live objects in a heap snapshot, by "type:name" (strings and code lumped). */
function summarize(file: string): { total: number; kinds: Map<string, { bytes: number; count: number }> } {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt, width] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size'), fields.length];
  const kinds = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  const nodes = snapshot.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt] as number] as string;
    let name = snapshot.strings[nodes[i + nameAt] as number] as string;
    if (type.endsWith('string')) name = '(strings)';
    else if (type === 'code') name = '(code)';
    else if (name.length > 50) name = `${name.slice(0, 50)}...`;
    const key = `${type}:${name}`;
    const size = nodes[i + sizeAt] as number;
    total += size;
    const kind = kinds.get(key) ?? { bytes: 0, count: 0 };
    kind.bytes += size;
    kind.count++;
    kinds.set(key, kind);
  }
  return { total, kinds };
}

function rssBytes(): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'latin1'));
  return match === null ? 0 : Number(match[1]) * 1024;
}

interface Step {
  connections: number;
  rss: number;
  /** Per thread ("primary", "worker <id>"): V8's used heap and the snapshot file, summarized at the end. */
  threads: Map<string, { used: number; file: string | null; summary: ReturnType<typeof summarize> | null }>;
}

async function measure(connections: number, workers: number, snapshots: boolean, dir: string, control: BroadcastChannel): Promise<Step> {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const threads: Step['threads'] = new Map();
  const prefix = snapshots ? join(dir, `step${connections}`) : null;
  const replies: SnapshotReply[] = [];
  const done = new Promise<void>((resolve) => {
    control.onmessage = (event: unknown) => {
      const reply = (event as { data: SnapshotRequest | SnapshotReply }).data;
      if (reply.type !== 'snapshot-done') return;
      replies.push(reply);
      if (replies.length === workers) resolve();
    };
  });
  const request: SnapshotRequest = { type: 'snapshot', prefix };
  control.postMessage(request);
  await done;
  const rss = rssBytes();
  for (const reply of replies) threads.set(`worker ${reply.threadId}`, { used: reply.usedHeapBytes, file: reply.file, summary: null });
  const primaryFile = prefix === null ? null : writeHeapSnapshot(`${prefix}-primary.heapsnapshot`);
  threads.set('primary', { used: process.memoryUsage().heapUsed, file: primaryFile, summary: null });
  return { connections, rss, threads };
}

function report(from: Step, to: Step, top: number): void {
  const n = to.connections - from.connections;
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
  const rss = to.threads.get('primary')?.file === null ? `RSS ${kib((to.rss - from.rss) / n)} per connection` : 'RSS: see --no-snapshots';
  console.log(`\n${from.connections} -> ${to.connections} connections: ${rss}`);
  const kinds = new Map<string, number>();
  for (const [thread, after] of to.threads) {
    const before = from.threads.get(thread);
    if (before === undefined) continue;
    if (after.summary === null || before.summary === null) {
      console.log(`  ${thread}: used heap ${kib((after.used - before.used) / n)} per connection (not after a GC)`);
      continue;
    }
    console.log(`  ${thread}: live heap ${kib((after.summary.total - before.summary.total) / n)} per connection`);
    for (const [key, kind] of after.summary.kinds) {
      const grew = kind.bytes - (before.summary.kinds.get(key)?.bytes ?? 0);
      kinds.set(`${thread.split(' ')[0]} ${key}`, (kinds.get(`${thread.split(' ')[0]} ${key}`) ?? 0) + grew);
    }
  }
  if (kinds.size === 0) return;
  console.log(`  largest growth per connection (bytes, thread type:name):`);
  for (const [key, bytes] of [...kinds].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${(bytes / n).toFixed(0).padStart(8)}  ${key}`);
  }
}

async function main(): Promise<void> {
  const workers = Number(flag('--workers', '1'));
  const steps = flag('--connections', '1000,5000').split(',').map(Number);
  const top = Number(flag('--top', '20'));
  const snapshots = !process.argv.includes('--no-snapshots');
  if (!Number.isInteger(workers) || workers < 1 || steps.some((s) => !Number.isInteger(s) || s < 1 || s > 10_000)) {
    throw new Error('--workers N (>= 1) and --connections N1,N2,... (1..10000, ascending)');
  }
  const dir = join(tmpdir(), `shoal-idle-memory-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const server = createServer({ port: 0, workers, app: fileURLToPath(new URL('./idle-memory-app.ts', import.meta.url)), idleTimeoutMs: 0, pingIntervalMs: 0 });
  const { port } = await server.listen();
  const control = new BroadcastChannel(DIAGNOSTICS_CHANNEL);
  const client = spawn(process.execPath, [SELF, '--client', String(port), ...steps.map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const opened = createInterface({ input: client.stdout as NonNullable<typeof client.stdout> })[Symbol.asyncIterator]();
  try {
    console.log(`Shoal, ${workers} worker(s), Node ${process.version}; heap snapshots: ${snapshots ? 'yes' : 'no'}`);
    const measured: Step[] = [await measure(0, workers, snapshots, dir, control)];
    for (const target of steps) {
      client.stdin?.write('next\n');
      const line = await opened.next();
      if (line.done === true) throw new Error('the client stopped');
      measured.push(await measure(target, workers, snapshots, dir, control));
    }
    client.stdin?.write('quit\n');
    await once(client, 'exit');
    control.close();
    await server.close(true);
    for (const step of measured) {
      for (const thread of step.threads.values()) if (thread.file !== null) thread.summary = summarize(thread.file);
    }
    for (let i = 1; i < measured.length; i++) report(measured[i - 1] as Step, measured[i] as Step, top);
  } finally {
    if (client.exitCode === null) client.kill();
    control.close();
    await server.close(true);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--client') {
  await runClient(Number(process.argv[3]), process.argv.slice(4).map(Number));
} else {
  await main();
}
