/**
 * The admin HTTP port over loopback: /healthz, /metrics and /stats of a
 * real server, with real WebSocket clients (ws) moving the numbers, raw
 * sockets for bad handshakes and a deaf client holding a shutdown open;
 * then `shoal serve --admin-port` as the bench harness starts it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createServer } from '../../src/server/server.ts';
import { RawClient, upgradeRequest } from '../helpers/raw-socket.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { parseSamples } from '../helpers/prometheus.ts';

const BIN = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url));
const servers: TestServer[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function startWithAdmin(options: Parameters<typeof startServer>[0] = {}): Promise<{ server: TestServer; admin: string }> {
  const server = await startServer({ adminPort: 0, ...options });
  servers.push(server);
  const admin = server.server.adminAddress;
  if (admin === null) throw new Error('no admin address');
  return { server, admin: admin.url.slice(0, -1) };
}

/** An HTTP answer, read whole. */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with node:http (no keep-alive agent), optionally with a body. */
function http(url: string, method = 'GET', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sample lines of a Prometheus exposition: `name{labels}` -> value. */
async function metrics(admin: string): Promise<Map<string, number>> {
  const answer = await http(`${admin}/metrics`);
  expect(answer.status).toBe(200);
  return parseSamples(answer.body);
}

interface StatsBody {
  state: string;
  healthy: boolean;
  stats: Record<string, number>;
  workers: { workerId: number; connections: number }[];
  handshakes: { upgraded: number; abandoned: number; refusals: Record<string, number> };
  closeCodes: Record<string, number>;
}

async function stats(admin: string): Promise<StatsBody> {
  const answer = await http(`${admin}/stats`);
  expect(answer.status).toBe(200);
  expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
  return JSON.parse(answer.body) as StatsBody;
}

async function openClients(origin: string, count: number): Promise<WebSocket[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const ws = new WebSocket(`${origin}/`);
      await once(ws, 'open');
      return ws;
    }),
  );
}

/** Resolves once `ws` has received `count` messages. */
function received(ws: WebSocket, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    ws.on('message', () => {
      if (++seen === count) resolve();
    });
  });
}

/** A raw client that sends `head` and resolves with the status line's code once the server closes. */
async function rawStatus(port: number, head: string): Promise<number> {
  const client = await RawClient.connect(port);
  client.write(head);
  await client.closed;
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(client.received.toString('latin1'))?.[1] ?? 0);
}

describe('admin port', () => {
  it('is off unless adminPort is set', async () => {
    const server = await startServer();
    servers.push(server);
    expect(server.server.adminAddress).toBeNull();
  });

  it('listens on loopback, apart from the WebSocket port', async () => {
    const { server, admin } = await startWithAdmin();
    const address = server.server.adminAddress;
    expect(address?.host).toBe('127.0.0.1');
    expect(address?.port).not.toBe(server.port);
    expect(admin).toBe(`http://127.0.0.1:${address?.port}`);
    // The WebSocket port does not serve the admin paths: a worker refuses the plain GET as a handshake.
    const onWsPort = await http(`http://127.0.0.1:${server.port}/healthz`);
    expect(onWsPort.status).toBe(400);
  });

  it('/healthz answers 200 ok while serving', async () => {
    const { admin } = await startWithAdmin();
    const answer = await http(`${admin}/healthz`);
    expect([answer.status, answer.body, answer.headers['content-type']]).toEqual([200, 'ok\n', 'text/plain; charset=utf-8']);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect((await http(`${admin}/healthz?probe=1`)).status).toBe(200);
    const head = await http(`${admin}/healthz`, 'HEAD');
    expect([head.status, head.body]).toEqual([200, '']);
  });

  it('counts live connections per worker, then finished ones with their messages and close codes', async () => {
    const { server, admin } = await startWithAdmin({ workers: 2 });
    const clients = await openClients(server.origin, 3);

    const live = await stats(admin);
    expect(live.state).toBe('serving');
    expect(live.healthy).toBe(true);
    expect(live.stats.active).toBe(3);
    expect(live.stats.accepted).toBe(3);
    expect(live.workers).toHaveLength(2);
    expect(live.workers.reduce((sum, worker) => sum + worker.connections, 0)).toBe(3);
    expect(new Set(live.workers.map((worker) => worker.workerId))).toEqual(new Set(server.server.workerIds));
    let values = await metrics(admin);
    expect(values.get('shoal_connections_active')).toBe(3);
    expect(values.get('shoal_connections_accepted_total')).toBe(3);
    expect(values.get('shoal_connections_completed_total')).toBe(0);
    expect(values.get('shoal_workers_alive')).toBe(2);
    const perWorker = live.workers.map((worker) => values.get(`shoal_worker_connections_active{worker="${worker.workerId}"}`));
    expect(perWorker).toEqual(live.workers.map((worker) => worker.connections));

    for (const ws of clients) {
      ws.send('hello');
      ws.send(Buffer.from([1, 2, 3]));
    }
    await Promise.all(clients.map((ws) => received(ws, 2)));
    await Promise.all(
      clients.map(async (ws) => {
        ws.close(1000, 'bye');
        await once(ws, 'close');
      }),
    );
    await server.waitForEnd(() => server.ended.length >= 3);

    const done = await stats(admin);
    expect(done.stats.active).toBe(0);
    expect(done.stats.completed).toBe(3);
    expect(done.stats.messagesIn).toBe(6);
    expect(done.stats.messagesOut).toBe(6);
    expect(done.handshakes.upgraded).toBe(3);
    expect(done.closeCodes).toEqual({ '1000': 3 });
    expect(done.workers.reduce((sum, worker) => sum + worker.connections, 0)).toBe(0);
    values = await metrics(admin);
    expect(values.get('shoal_connections_active')).toBe(0);
    expect(values.get('shoal_connections_completed_total')).toBe(3);
    expect(values.get('shoal_upgrades_total')).toBe(3);
    expect(values.get('shoal_closes_total{code="1000"}')).toBe(3);
    expect(values.get('shoal_messages_received_total')).toBe(6);
    expect(values.get('shoal_messages_sent_total')).toBe(6);
    expect(values.get('shoal_received_bytes_total')).toBe(done.stats.bytesIn);
    expect(done.stats.bytesIn).toBeGreaterThan(0);
  });

  it('counts bad handshakes by status and 503s by reason', async () => {
    const { server, admin } = await startWithAdmin({ workers: 1, maxConnections: 1 });
    const noKey = upgradeRequest('/').replace('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n', '');
    expect(await rawStatus(server.port, noKey)).toBe(400);
    await server.waitForEnd((ended) => ended.handshakeStatus === 400);
    expect(await rawStatus(server.port, upgradeRequest('/', { 'Sec-WebSocket-Version': '8' }).replace('Sec-WebSocket-Version: 13\r\n', ''))).toBe(426);
    await server.waitForEnd((ended) => ended.handshakeStatus === 426);

    const [holder] = await openClients(server.origin, 1);
    expect(await rawStatus(server.port, upgradeRequest('/'))).toBe(503);

    const values = await metrics(admin);
    expect(values.get('shoal_handshake_refusals_total{status="400"}')).toBe(1);
    expect(values.get('shoal_handshake_refusals_total{status="426"}')).toBe(1);
    expect(values.get('shoal_connections_rejected_total{reason="connection_limit"}')).toBe(1);
    expect(values.get('shoal_connections_rejected_total{reason="accept_backlog"}')).toBe(0);
    const body = await stats(admin);
    expect(body.handshakes.refusals).toEqual({ '400': 1, '426': 1 });
    expect(body.stats.rejected).toBe(1);
    expect(body.stats.rejectedConnectionLimit).toBe(1);
    holder.close();
  });

  it('/healthz answers 503 while the server drains, then the port closes', async () => {
    const { server, admin } = await startWithAdmin({ workers: 1, drainTimeoutMs: 10_000, closeTimeoutMs: 10_000 });
    // A client that never answers the close frame holds the drain open.
    const deaf = await RawClient.open(server.port);
    const closing = server.server.close();
    await deaf.closeFrame();
    const answer = await http(`${admin}/healthz`);
    expect([answer.status, answer.body]).toEqual([503, 'server is shutting down\n']);
    expect((await metrics(admin)).get('shoal_accepting')).toBe(0);
    expect((await stats(admin)).state).toBe('shutting-down');
    await server.server.close(true);
    await closing;
    await expect(http(`${admin}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('answers 404 off its paths and 405 to other methods, without reading a body', async () => {
    const { admin } = await startWithAdmin();
    const missing = await http(`${admin}/nope`);
    expect([missing.status, missing.body]).toEqual([404, 'not found: the admin port serves /livez, /readyz, /healthz, /metrics, /stats\n']);
    expect((await http(`${admin}/`)).status).toBe(404);
    expect((await http(`${admin}/metrics/extra`)).status).toBe(404);
    const post = await http(`${admin}/metrics`, 'POST', 'x'.repeat(10_000));
    expect([post.status, post.body, post.headers.allow]).toEqual([405, 'method not allowed: /metrics answers GET and HEAD\n', 'GET, HEAD']);
    expect(post.headers.connection).toBe('close');
    for (const method of ['PUT', 'DELETE', 'OPTIONS']) expect((await http(`${admin}/healthz`, method)).status).toBe(405);
  });

  it('refuses request heads over 8 KiB with 431', async () => {
    const { admin } = await startWithAdmin();
    const answer = await new Promise<number>((resolve, reject) => {
      const req = request(`${admin}/healthz`, { agent: false, headers: { 'x-filler': 'a'.repeat(9000) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer).toBe(431);
  });

  it('serves Prometheus text with types, help and process metrics', async () => {
    const { admin } = await startWithAdmin();
    const answer = await http(`${admin}/metrics`);
    expect(answer.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(answer.body).toContain('# TYPE shoal_connections_accepted_total counter');
    expect(answer.body).toContain('# TYPE shoal_connections_active gauge');
    expect(answer.body).toMatch(/^nodejs_eventloop_lag_p99_seconds [\d.e-]+$/m);
    expect(answer.body).toMatch(/^process_resident_memory_bytes \d+$/m);
  });

  it('fails listen() when the admin port is taken, leaving nothing running', async () => {
    const { server } = await startWithAdmin();
    const taken = server.server.adminAddress?.port ?? 0;
    const second = createServer({ host: '127.0.0.1', port: 0, workers: 1, adminPort: taken });
    await expect(second.listen()).rejects.toThrow(/EADDRINUSE/);
    expect(second.address).toBeNull();
  });
});

describe('shoal serve --admin-port', () => {
  it('prints the admin address and serves /healthz as the bench harness calls it', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--workers', '1', '--admin-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /^shoal: admin endpoints on (http:\/\/127\.0\.0\.1:\d+\/) \(healthz, metrics, stats\)$/m.exec(output);
        if (match !== null) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`shoal exited early (${code}): ${output}`)));
    });
    expect(output).toMatch(/^shoal: echo app listening on ws:\/\/127\.0\.0\.1:\d+\/ with 1 worker\n/);
    const answer = await http(`${url}healthz`);
    expect([answer.status, answer.body]).toEqual([200, 'ok\n']);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
  });
});
