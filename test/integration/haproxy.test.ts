/**
 * Shoal behind a real HAProxy (Debian's haproxy, started here in the
 * foreground with a generated configuration on free loopback ports, stopped
 * by its pid): a WebSocket client and an HTTP request go through it, with
 * the client address carried by PROXY protocol v2 (`send-proxy-v2`) on one
 * backend and by X-Forwarded-For (`option forwardfor`, `--trust-proxy`) on
 * the other. docs/deploy.md shows the same configuration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';

let viaProxyProtocol: TestServer;
let viaForwardedFor: TestServer;
let haproxy: ChildProcess;
let dir: string;
let ports: { pp: number; xff: number };

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  viaProxyProtocol = await startServer({ app: fixtureApp('http-app.ts'), workers: 1, proxyProtocol: true });
  viaForwardedFor = await startServer({ app: fixtureApp('http-app.ts'), workers: 1, trustProxy: ['127.0.0.1'] });
  ports = { pp: await freePort(), xff: await freePort() };
  dir = mkdtempSync(join(tmpdir(), 'shoal-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    `global
  log stderr format raw local0 err

defaults
  mode http
  log global
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  # Longer than Shoal's ping interval (30 s): an idle WebSocket is not cut by the proxy.
  timeout tunnel 1h

frontend pp
  bind 127.0.0.1:${ports.pp}
  default_backend shoal_pp

backend shoal_pp
  server shoal 127.0.0.1:${viaProxyProtocol.port} send-proxy-v2

frontend xff
  bind 127.0.0.1:${ports.xff}
  option forwardfor
  default_backend shoal_xff

backend shoal_xff
  server shoal 127.0.0.1:${viaForwardedFor.port}
`,
  );
  haproxy = spawn('/usr/sbin/haproxy', ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  haproxy.stdout?.on('data', (chunk) => (output += chunk));
  haproxy.stderr?.on('data', (chunk) => (output += chunk));
  // Ready when both frontends accept.
  const deadline = Date.now() + 20_000;
  for (const port of [ports.pp, ports.xff]) {
    for (;;) {
      const answered = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (answered) break;
      if (haproxy.exitCode !== null || Date.now() > deadline) throw new Error(`haproxy did not start: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}, 60_000);

afterAll(async () => {
  if (haproxy?.pid !== undefined && haproxy.exitCode === null) {
    const exited = new Promise((resolve) => haproxy.once('exit', resolve));
    process.kill(haproxy.pid, 'SIGTERM');
    await exited;
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  await viaProxyProtocol?.close();
  await viaForwardedFor?.close();
});

/** The client connects from `localAddress` (another loopback address than HAProxy's 127.0.0.1, so the two can be told apart). */
async function whoamiOverWebSocket(port: number, localAddress = '127.0.0.1', headers: Record<string, string> = {}): Promise<{ remoteAddress: string; upgradeRemoteAddress: string }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { localAddress, headers });
  const answer = await new Promise<string>((resolve, reject) => {
    ws.once('open', () => ws.send('whoami'));
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
  });
  ws.close();
  return JSON.parse(answer);
}

describe('behind HAProxy', () => {
  it('send-proxy-v2: WebSocket echo and HTTP through the proxy, the client address from the PROXY header', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${ports.pp}/`);
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send('through haproxy'));
      ws.once('message', (data) => resolve(String(data)));
      ws.once('error', reject);
    });
    ws.close();
    expect(echoed).toBe('through haproxy');
    expect(await whoamiOverWebSocket(ports.pp, '127.0.0.3')).toMatchObject({ remoteAddress: '127.0.0.3', upgradeRemoteAddress: '127.0.0.3' });
    const page = await fetch(`http://127.0.0.1:${ports.pp}/healthz`);
    expect(await page.text()).toBe('ok\n');
    // Every connection HAProxy opened started with a valid header: none was refused.
    expect(viaProxyProtocol.ended.filter((stats) => stats.edgeRefusal !== '')).toEqual([]);
  });

  it('option forwardfor + --trust-proxy: the address HAProxy saw; a forged X-Forwarded-For is not believed', async () => {
    expect(await whoamiOverWebSocket(ports.xff, '127.0.0.2')).toMatchObject({ remoteAddress: '127.0.0.2', upgradeRemoteAddress: '127.0.0.2' });
    // HAProxy appends the peer it saw (127.0.0.2, not trusted): the walk stops there.
    expect(await whoamiOverWebSocket(ports.xff, '127.0.0.2', { 'X-Forwarded-For': '203.0.113.66' })).toMatchObject({ remoteAddress: '127.0.0.2' });
  });
});
