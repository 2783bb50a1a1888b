/**
 * The pool: connections spread over every worker, and a failure stays where
 * it happened — a throwing handler closes its own connection (1011), a dying
 * worker loses only its own connections and is replaced.
 */
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { ask, workerOf } from '../helpers/commands-app-client.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
const open: WebSocket[] = [];

beforeAll(async () => {
  server = await startServer({ app: fixtureApp('commands-app.ts'), workers: 2 });
});
afterEach(async () => {
  for (const ws of open.splice(0)) ws.terminate();
  // Start every test from empty workers, so balancing is predictable.
  await vi.waitFor(() => expect(server.server.stats?.active).toBe(0), { timeout: 5000 });
});
afterAll(() => server.close());

async function connect(): Promise<WebSocket> {
  const ws = new WebSocket(`${server.origin}/`);
  open.push(ws);
  await once(ws, 'open');
  return ws;
}

function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

/** Opens connections until there is one on each of two different workers (a replacement worker may still be starting). */
async function onTwoWorkers(): Promise<[{ ws: WebSocket; worker: number }, { ws: WebSocket; worker: number }]> {
  const seen = new Map<number, WebSocket>();
  const deadline = Date.now() + 10_000;
  while (seen.size < 2 && Date.now() < deadline) {
    const ws = await connect();
    const worker = await workerOf(ws);
    // Duplicates stay open: the pool sends each new connection to the worker with the fewest.
    if (!seen.has(worker)) seen.set(worker, ws);
    else await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const [a, b] = [...seen.entries()];
  if (a === undefined || b === undefined) throw new Error('connections did not reach two workers');
  return [
    { worker: a[0], ws: a[1] },
    { worker: b[0], ws: b[1] },
  ];
}

describe('balancing', () => {
  it('spreads simultaneous connections over all workers', async () => {
    const sockets = await Promise.all(Array.from({ length: 8 }, () => connect()));
    const workers = await Promise.all(sockets.map((ws) => workerOf(ws)));
    const counts = new Map<number, number>();
    for (const worker of workers) counts.set(worker, (counts.get(worker) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([...server.server.workerIds].sort());
    for (const ws of sockets) ws.close();
  });

  it('keeps per-connection state apart', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    await ask(a, 'x');
    await ask(a, 'y');
    expect(await ask(a, 'count')).toBe('count 3');
    expect(await ask(b, 'count')).toBe('count 1');
    a.close();
    b.close();
  });
});

describe('handler failures', () => {
  it.each(['throw', 'reject', 'shoal-send'])('"%s" closes that connection with 1011 and leaves its worker serving', async (command) => {
    const victim = await connect();
    const worker = await workerOf(victim);
    let sibling: WebSocket | undefined;
    for (let i = 0; i < 20 && sibling === undefined; i++) {
      const ws = await connect();
      if ((await workerOf(ws)) === worker) sibling = ws;
    }
    expect(sibling).toBeDefined();
    const closing = closeOf(victim);
    victim.send(command);
    expect(await closing).toEqual({ code: 1011, reason: 'internal error' });
    expect(await ask(sibling as WebSocket, 'alive?')).toBe('alive?');
  });
});

describe('worker crash recovery', () => {
  it.each(['crash', 'exit'])('"%s" drops the dying worker\'s connections; the other worker and new connections keep working', async (command) => {
    const [victim, survivor] = await onTwoWorkers();
    const lostBefore = server.server.stats?.lostToWorkerExit ?? 0;
    const closing = closeOf(victim.ws);
    victim.ws.send(command);
    expect((await closing).code).toBe(1006);
    expect(await ask(survivor.ws, 'still up')).toBe('still up');

    await vi.waitFor(
      () => {
        expect(server.server.workerIds).not.toContain(victim.worker);
        expect(server.server.workerIds).toHaveLength(2);
      },
      { timeout: 5000 },
    );
    expect(server.server.stats?.lostToWorkerExit).toBeGreaterThan(lostBefore);

    const fresh = await Promise.all(Array.from({ length: 4 }, () => connect()));
    const answers = await Promise.all(fresh.map((ws, i) => ask(ws, `new ${i}`)));
    expect(answers).toEqual(['new 0', 'new 1', 'new 2', 'new 3']);
    const freshWorkers = new Set(await Promise.all(fresh.map((ws) => workerOf(ws))));
    expect(freshWorkers.has(victim.worker)).toBe(false);

    // The replacement takes connections once it has started.
    const [replacement] = server.server.workerIds.filter((id) => id !== survivor.worker);
    await vi.waitFor(
      async () => {
        const ws = await connect();
        expect(await workerOf(ws)).toBe(replacement);
      },
      { timeout: 10_000, interval: 50 },
    );
  });
});
