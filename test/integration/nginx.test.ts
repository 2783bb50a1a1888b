/**
 * Shoal behind a real nginx (Debian's nginx-light), configured with the
 * `nginx` block of docs/deploy.md itself: the test reads that block from the
 * doc and changes only what must differ here (the upstream's and the
 * listener's addresses, the certificate files made at test time), so the
 * doc cannot drift from what runs. nginx runs in the foreground as the
 * current user, with its pid file and temporary directories in a temporary
 * directory, on a free loopback port with TLS; it is stopped by its pid.
 *
 * Checked through it: the WebSocket upgrade (echo), the client address
 * Shoal sees (X-Forwarded-For with --trust-proxy: the real client's, a
 * forged header not believed), plain HTTP reaching the app's `http` handler
 * on kept-alive upstream connections, and the timeouts: Shoal's pings cross
 * nginx, a client that answers them stays connected past Shoal's idle
 * timeout, and one that does not is closed by Shoal's idle policy (1001),
 * not cut by nginx first.
 *
 * nginx missing is a failure, not a skip: scripts/system-deps.sh installs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { RawClient } from '../helpers/raw-socket.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';

const NGINX = '/usr/sbin/nginx';
const DEPLOY_DOC = fileURLToPath(new URL('../../docs/deploy.md', import.meta.url));
const PING_INTERVAL_MS = 1000;
const IDLE_TIMEOUT_MS = 3000;

let shoal: TestServer;
let certs: TestCertificates;
let pem: { cert: string; key: string };
let ca: Buffer;
let nginx: ChildProcess;
let dir: string;
let port: number;

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: free } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return free;
}

/** The ```nginx block under "## nginx" in docs/deploy.md. */
function nginxBlockOfDeployDoc(markdown: string): string {
  const section = markdown.split(/^## /m).find((part) => part.startsWith('nginx\n'));
  const block = section === undefined ? null : /^```nginx\n([\s\S]*?)^```$/m.exec(section);
  if (block === null) throw new Error('docs/deploy.md has no ```nginx block under "## nginx"');
  return block[1];
}

/** Replaces `from` (which must occur exactly once: a doc that changed shape fails here) with `to`. */
function replaceOnce(text: string, from: string, to: string): string {
  const parts = text.split(from);
  if (parts.length !== 2) throw new Error(`expected exactly one ${JSON.stringify(from)} in the nginx block of docs/deploy.md, found ${parts.length - 1}`);
  return parts.join(to);
}

/** nginx's version as [major, minor, patch]. */
function nginxVersion(): number[] {
  const output = spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).stderr;
  const match = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(output);
  if (match === null) throw new Error(`cannot read nginx's version from ${JSON.stringify(output)}`);
  return match.slice(1).map(Number);
}

/** The whole nginx.conf: the doc's block inside an `http` block whose files all live in `dir`. */
function nginxConfig(block: string): string {
  let site = block;
  site = replaceOnce(site, 'server 10.0.0.5:9001;', `server 127.0.0.1:${shoal.port};`);
  site = replaceOnce(site, '/etc/nginx/fullchain.pem', pem.cert);
  site = replaceOnce(site, '/etc/nginx/privkey.pem', pem.key);
  const [major, minor, patch] = nginxVersion();
  // The doc's `http2 on;` is nginx >= 1.25.1; the doc names the older form, used here on an older nginx.
  const modern = major > 1 || (major === 1 && (minor > 25 || (minor === 25 && patch >= 1)));
  if (!modern) site = replaceOnce(site, 'http2 on;', '');
  site = replaceOnce(site, 'listen 443 ssl;', `listen 127.0.0.1:${port} ssl${modern ? '' : ' http2'};`);
  // As root, nginx's workers would switch to `nobody`; the current user it is.
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};\n` : '';
  return `${user}daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client-body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
${site}
}
`;
}

/** One HTTPS request through nginx (the test CA trusted); resolves with the status and body. */
function get(path: string, options: { method?: string; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', ca, servername: 'localhost', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

beforeAll(async () => {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: the nginx test needs Debian's nginx-light (scripts/system-deps.sh installs it for npm test)`);
  certs = testCertificates();
  pem = certs.make('localhost');
  ca = readFileSync(pem.cert);
  shoal = await startServer({ app: fixtureApp('http-app.ts'), workers: 1, trustProxy: ['127.0.0.1'], pingIntervalMs: PING_INTERVAL_MS, idleTimeoutMs: IDLE_TIMEOUT_MS });
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'shoal-nginx-'));
  const config = join(dir, 'nginx.conf');
  writeFileSync(config, nginxConfig(nginxBlockOfDeployDoc(readFileSync(DEPLOY_DOC, 'utf8'))));
  // -p: the prefix for any relative path; -e: the error log before the configuration is read.
  nginx = spawn(NGINX, ['-p', dir, '-e', 'stderr', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  nginx.stdout?.on('data', (chunk) => (output += chunk));
  nginx.stderr?.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const answered = await get('/healthz').then((reply) => reply.status === 200, () => false);
    if (answered) break;
    if (nginx.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 60_000);

afterAll(async () => {
  if (nginx?.pid !== undefined && nginx.exitCode === null && nginx.signalCode === null) {
    const exited = new Promise((resolve) => nginx.once('exit', resolve));
    // SIGTERM: nginx's fast shutdown; the master stops its worker before it exits.
    process.kill(nginx.pid, 'SIGTERM');
    await exited;
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  certs?.remove();
  await shoal?.close();
});

/** A WebSocket through nginx from `localAddress` (another loopback address than nginx's 127.0.0.1, so the two can be told apart). */
function openWebSocket(localAddress: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/`, [], { ca, localAddress, headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function reply(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
    ws.send(text);
  });
}

describe('behind nginx, configured as in docs/deploy.md', () => {
  it('the WebSocket upgrade passes through; Shoal sees the real client address (X-Forwarded-For, --trust-proxy)', async () => {
    const ws = await openWebSocket('127.0.0.2');
    expect(await reply(ws, 'through nginx')).toBe('through nginx');
    expect(JSON.parse(await reply(ws, 'whoami'))).toMatchObject({ remoteAddress: '127.0.0.2', upgradeRemoteAddress: '127.0.0.2' });
    ws.close();
    // nginx appends the peer it saw to a forged header: the right-most untrusted hop is still the client.
    const forged = await openWebSocket('127.0.0.3', { 'X-Forwarded-For': '203.0.113.66' });
    expect(JSON.parse(await reply(forged, 'whoami'))).toMatchObject({ remoteAddress: '127.0.0.3' });
    forged.close();
  });

  it("plain HTTP reaches the app's http handler, over kept-alive upstream connections", async () => {
    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    const accepted = (): number => shoal.server.stats?.accepted ?? 0;
    const before = accepted();
    for (let i = 0; i < 3; i++) expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get('/echo', { method: 'POST', body: 'a body' })).toEqual({ status: 200, body: 'a body' });
    // `keepalive` in the upstream: the requests reuse nginx's idle connection to Shoal.
    expect(accepted() - before).toBeLessThanOrEqual(1);
    // The handler sees nginx as its peer (it reads forwarding headers itself).
    expect(JSON.parse((await get('/whoami')).body)).toMatchObject({ remoteAddress: '127.0.0.1' });
  });

  it("timeouts: Shoal's pings cross nginx and keep an answering client connected past --idle-timeout", async () => {
    const ws = await openWebSocket('127.0.0.2');
    let pings = 0;
    // ws answers each ping with a pong; nginx's proxy_read_timeout (1h) is far longer than the ping interval.
    await new Promise<void>((resolve) =>
      ws.on('ping', () => {
        if (++pings === Math.ceil(IDLE_TIMEOUT_MS / PING_INTERVAL_MS) + 1) resolve();
      }),
    );
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(await reply(ws, 'still here')).toBe('still here');
    ws.close();
  });

  it('timeouts: a client that answers nothing is closed by Shoal (1001 idle timeout) through nginx, not cut by nginx', async () => {
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const secure = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(secure));
      secure.once('error', reject);
    });
    const client = RawClient.over(socket);
    await client.upgrade('/');
    const close = await client.closeFrame();
    expect(close).toMatchObject({ code: 1001, reason: 'idle timeout' });
    expect(client.events().filter((event) => event.type === 'ping').length).toBeGreaterThanOrEqual(1);
    client.destroy();
  });
});
