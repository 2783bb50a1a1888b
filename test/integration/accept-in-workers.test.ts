/**
 * `acceptInWorkers` (Linux): the workers listen on the server's port with
 * SO_REUSEPORT and accept connections themselves. Connections are served
 * and counted as usual, the connection limit answers 503 from the worker,
 * a graceful shutdown still closes open connections with 1001 and then
 * refuses new ones, when a worker dies the others keep the port and its
 * replacement listens again, and TLS in the workers works the same.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { testCertificates } from '../helpers/certificates.ts';
import { ask, workerOf } from '../helpers/commands-app-client.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';
import { resolveServerOptions } from '../../src/server/options.ts';

const servers: TestServer[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const server of servers.splice(0)) await server.close();
});

async function start(options: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer({ app: fixtureApp('commands-app.ts'), acceptInWorkers: true, ...options });
  servers.push(server);
  return server;
}

async function connect(server: TestServer): Promise<WebSocket> {
  const ws = new WebSocket(`${server.origin}/`);
  sockets.push(ws);
  await once(ws, 'open');
  return ws;
}

/** The raw HTTP answer to an upgrade request, read until the server closes. */
async function rawUpgrade(port: number): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  await once(socket, 'close');
  return text;
}

describe.runIf(process.platform === 'linux')('acceptInWorkers', () => {
  it('serves connections accepted by the workers and counts them in the primary', async () => {
    const server = await start({ workers: 2 });
    const clients = await Promise.all(Array.from({ length: 12 }, () => connect(server)));
    const answers = await Promise.all(clients.map((ws, i) => ask(ws, `hello ${i}`)));
    expect(answers).toEqual(clients.map((_, i) => `hello ${i}`));
    const workers = new Set(await Promise.all(clients.map((ws) => workerOf(ws))));
    for (const worker of workers) expect(server.server.workerIds).toContain(worker);
    await vi.waitFor(() => expect(server.server.stats?.active).toBe(12), { timeout: 5000 });
    for (const ws of clients) ws.close(1000);
    await vi.waitFor(() => expect(server.ended).toHaveLength(12), { timeout: 5000 });
    expect(server.ended.every((stats) => stats.handshakeStatus === 101 && stats.closeCode === 1000 && stats.wasClean)).toBe(true);
    expect(server.server.stats).toMatchObject({ accepted: 12, active: 0, completed: 12, rejected: 0 });
  });

  it('answers 503 over the connection limit, from the worker', async () => {
    const server = await start({ workers: 1, maxConnectionsPerWorker: 2 });
    await connect(server);
    await connect(server);
    const answer = await rawUpgrade(server.port);
    expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(answer).toContain('server is at its connection limit');
    await vi.waitFor(() => expect(server.server.stats).toMatchObject({ accepted: 3, active: 2, rejected: 1, rejectedConnectionLimit: 1 }), { timeout: 5000 });
  });

  it('closes open connections with 1001 at shutdown, then refuses new ones', async () => {
    const server = await start({ workers: 2 });
    const ws = await connect(server);
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    const stopping = server.server.close();
    expect(await closed).toBe(1001);
    await stopping;
    servers.splice(servers.indexOf(server), 1);
    const refused = net.connect(server.port, '127.0.0.1');
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
  });

  it('serves wss:// the same (TLS in the worker that accepted)', async () => {
    const certs = testCertificates();
    try {
      const { cert, key } = certs.make('localhost');
      const server = await start({ workers: 2, tlsCert: cert, tlsKey: key });
      const ws = new WebSocket(`wss://localhost:${server.port}/`, { ca: readFileSync(cert, 'utf8') });
      sockets.push(ws);
      await once(ws, 'open');
      expect(await ask(ws, 'over tls')).toBe('over tls');
    } finally {
      certs.remove();
    }
  });

  it('is a boolean option', () => {
    expect(resolveServerOptions({ workers: 1 }).acceptInWorkers).toBe(false);
    expect(() => resolveServerOptions({ workers: 1, acceptInWorkers: 'yes' as unknown as boolean })).toThrow(/acceptInWorkers must be true or false/);
  });

  it('keeps accepting when a worker dies, and its replacement listens again', async () => {
    const server = await start({ workers: 2 });
    const victim = await connect(server);
    const victimWorker = await workerOf(victim);
    const gone = new Promise<number>((resolve) => victim.once('close', (code: number) => resolve(code)));
    victim.send('exit');
    expect(await gone).toBe(1006);
    await vi.waitFor(
      () => {
        expect(server.server.workerIds).not.toContain(victimWorker);
        expect(server.server.workerIds).toHaveLength(2);
      },
      { timeout: 10_000 },
    );
    // Every new connection is served, and one of them lands on the replacement (the kernel spreads them).
    const [replacement] = server.server.workerIds.filter((id) => !(id === victimWorker));
    const seen = new Set<number>();
    await vi.waitFor(
      async () => {
        const ws = await connect(server);
        seen.add(await workerOf(ws));
        expect(seen.size).toBe(2);
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(seen.has(victimWorker)).toBe(false);
    expect(replacement).toBeDefined();
    expect(server.server.stats?.lostToWorkerExit).toBe(1);
  });
});
