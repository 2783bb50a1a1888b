/**
 * TLS in the workers (issue #10): wss:// and https:// on one port with a
 * certificate made at test time; Node's WebSocket, the ws client, Python's
 * websockets and Chromium as clients; permessage-deflate over TLS; session
 * resumption across workers; reload under open connections; garbage and
 * plain HTTP on the TLS port cost one connection; bad files at start.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { copyFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/server/server.ts';
import { makeReloadCertificates, testCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);
let certs: TestCertificates;
let first: { cert: string; key: string };
let second: { cert: string; key: string };
/** The files the server is configured with (first's copied; second's copied over them to reload). */
let live: { cert: string; key: string };
let shoal: TestServer;
let wssUrl: string;

beforeAll(async () => {
  certs = testCertificates();
  ({ first, second, live } = makeReloadCertificates(certs));
  shoal = await startServer({ app: fixtureApp('http-app.ts'), workers: 2, tlsCert: live.cert, tlsKey: live.key, perMessageDeflate: true, adminPort: 0 });
  wssUrl = `wss://localhost:${shoal.port}/`;
}, 60_000);

afterAll(async () => {
  await shoal?.close();
  certs?.remove();
});

/** A TLS connection to the server trusting `cert`; resolves once the TLS handshake is done. */
function secureConnect(cert: string, options: { session?: Buffer } = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: shoal.port, servername: 'localhost', ca: readPem(cert), session: options.session, ALPNProtocols: ['http/1.1'] }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function readPem(path: string): string {
  return fs.readFileSync(path, "utf8");
}

/** GET `path` on an open TLS socket (keep-alive) and return the body of the response. */
function getOn(socket: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      const chunkedDone = /transfer-encoding: chunked/i.test(text) && text.endsWith('\r\n0\r\n\r\n');
      if (end !== -1 && ((length !== undefined && text.length >= end + 4 + Number(length)) || chunkedDone)) {
        socket.off('data', onData);
        const body = text.slice(end + 4);
        resolve(chunkedDone ? body.split('\r\n').filter((_, i) => i % 2 === 1).join('') : body);
      }
    };
    socket.on('data', onData);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

function echoOnce(ws: WebSocket, message: string | Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(data as Buffer));
    ws.once('error', reject);
    ws.send(message);
  });
}

async function openWs(cert: string): Promise<WebSocket> {
  const ws = new WebSocket(wssUrl, { ca: fs.readFileSync(cert, 'utf8'), perMessageDeflate: true });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}

describe('wss:// and https:// on one port', () => {
  it('ws client: https request and wss echo with permessage-deflate, ALPN http/1.1', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port: shoal.port, servername: 'localhost', path: '/healthz', ca: fs.readFileSync(first.cert, 'utf8') }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    expect(body).toBe('ok\n');
    const ws = await openWs(first.cert);
    expect(ws.extensions).toContain('permessage-deflate');
    const big = 'compress me '.repeat(5000);
    expect((await echoOnce(ws, big)).toString()).toBe(big);
    ws.close();
    const socket = await secureConnect(first.cert);
    expect(socket.alpnProtocol).toBe('http/1.1');
    socket.destroy();
  });

  it("Node's own WebSocket (a child process trusting the certificate)", async () => {
    const script = `const ws = new WebSocket(${JSON.stringify(wssUrl)}); ws.onopen = () => ws.send('node websocket'); ws.onmessage = (e) => { console.log(String(e.data)); ws.close(); }; ws.onerror = (e) => { console.error('error', e.message); process.exit(1); };`;
    const { stdout } = await run(process.execPath, ['-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: first.cert }, timeout: 30_000 });
    expect(stdout.trim()).toBe('node websocket');
  });

  it("Python's websockets with an SSL context", async () => {
    const script = [
      'import asyncio, ssl, sys, websockets',
      'async def main():',
      '    context = ssl.create_default_context(cafile=sys.argv[2])',
      '    async with websockets.connect(sys.argv[1], ssl=context) as ws:',
      "        await ws.send('python over tls')",
      '        print(await ws.recv())',
      'asyncio.run(main())',
    ].join('\n');
    const { stdout } = await run('/usr/bin/python3', ['-c', script, wssUrl, first.cert], { timeout: 30_000 });
    expect(stdout.trim()).toBe('python over tls');
  });

  it('Chromium loads a page over https:// that opens wss:// on the same port', { timeout: 60_000 }, async () => {
    // A fresh profile, removed afterwards (playwright's persistent context takes it as userDataDir).
    const profile = mkdtempSync(join(tmpdir(), 'shoal-chromium-'));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--ignore-certificate-errors'],
      ignoreHTTPSErrors: true,
    });
    try {
      const page = await browser.newPage();
      await page.goto(`https://localhost:${shoal.port}/page`);
      await page.locator('#result[data-done="1"]').waitFor();
      expect(await page.textContent('#result')).toBe('from the page');
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});

describe('sessions and certificates', () => {
  it('a session ticket from one worker resumes on the other', async () => {
    const a = await secureConnect(first.cert);
    // TLS 1.3: the ticket comes with the server's first write.
    const ticket = new Promise<Buffer>((resolve) => a.once('session', resolve));
    const workerA = JSON.parse(await getOn(a, '/whoami')).worker as number;
    // a stays open: the pool sends the next connection to the other worker (fewest connections).
    const b = await secureConnect(first.cert, { session: await ticket });
    const workerB = JSON.parse(await getOn(b, '/whoami')).worker as number;
    expect(workerB).not.toBe(workerA);
    expect(b.isSessionReused()).toBe(true);
    a.destroy();
    b.destroy();
  });

  it('reload: new connections get the new certificate, open ones go on; a bad file keeps the old one', async () => {
    const open = await openWs(first.cert);
    copyFileSync(second.cert, live.cert);
    copyFileSync(first.key, live.key);
    // The key does not fit the certificate: refused, nothing changes.
    expect(() => shoal.server.reloadTls()).toThrow(/does not fit certificate/);
    const still = await secureConnect(first.cert);
    expect(still.getPeerCertificate().subject.CN).toBe('first');
    still.destroy();
    copyFileSync(second.key, live.key);
    shoal.server.reloadTls();
    await expect
      .poll(async () => {
        const socket = await secureConnect(second.cert).catch(() => null);
        const name = socket?.getPeerCertificate().subject.CN;
        socket?.destroy();
        return name;
      })
      .toBe('second');
    expect((await echoOnce(open, 'still here')).toString()).toBe('still here');
    open.close();
  });
});

describe('bad input on the TLS port', () => {
  it('plain HTTP, a plain WebSocket upgrade and garbage cost one connection each, and are counted', async () => {
    const ws = await openWs(second.cert);
    for (const bytes of ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', '\x16\x03\x01\x00\x05hello garbage']) {
      const socket = tcpConnect(shoal.port, '127.0.0.1');
      socket.on('error', () => {});
      // Read (and drop) what comes back, or the close is never seen.
      socket.resume();
      socket.write(bytes);
      await new Promise((resolve) => socket.once('close', resolve));
    }
    expect((await echoOnce(ws, 'unaffected')).toString()).toBe('unaffected');
    ws.close();
    await expect.poll(() => shoal.ended.filter((stats) => stats.edgeRefusal === 'tls_handshake_failed').length).toBe(3);
    const metrics = await (await fetch(new URL('/metrics', shoal.server.adminAddress?.url))).text();
    expect(metrics).toMatch(/^shoal_edge_refusals_total\{reason="tls_handshake_failed"\} 3$/m);
  });
});

describe('TLS files at start', () => {
  it('missing, not PEM, or mismatched files fail listen() with one line; an encrypted key needs its passphrase', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ tlsCert: join(certs.dir, 'nope.pem'), tlsKey: first.key }, /^cannot read TLS certificate .*nope\.pem: ENOENT$/],
      [{ tlsCert: first.key, tlsKey: first.key }, /holds no PEM certificate/],
      [{ tlsCert: first.cert, tlsKey: second.key }, /^TLS key .* does not fit certificate .*: .*/],
    ];
    for (const [files, message] of cases) {
      const server = createServer({ host: '127.0.0.1', port: 0, workers: 1, ...files });
      const error = await server.listen().then(() => null, (reason: Error) => reason);
      expect(error?.message).toMatch(message);
      expect(error?.message).not.toContain('\n');
      expect(server.workerIds).toEqual([]);
    }
    const locked = certs.make('locked', 'sesame');
    const withoutPassphrase = createServer({ host: '127.0.0.1', port: 0, workers: 1, tlsCert: locked.cert, tlsKey: locked.key });
    await expect(withoutPassphrase.listen()).rejects.toThrow(/does not fit certificate/);
    const passphraseFile = join(certs.dir, 'passphrase');
    fs.writeFileSync(passphraseFile, 'sesame\n');
    const server = createServer({ host: '127.0.0.1', port: 0, workers: 1, tlsCert: locked.cert, tlsKey: locked.key, tlsPassphraseFile: passphraseFile });
    const address = await server.listen();
    expect(address.url).toMatch(/^wss:\/\//);
    await server.close(true);
  });
});
