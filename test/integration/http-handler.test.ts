/**
 * HTTP beside WebSocket on one port (issue #10): the app's `http` handler
 * gets every request that is not an upgrade, on keep-alive connections,
 * with bodies, streaming and HEAD; an upgrade after plain requests on the
 * same connection still upgrades; limits and a failing handler cost only
 * their connection.
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFrame, parseResponse, RawClient, upgradeRequest } from '../helpers/raw-socket.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';
import { Opcode } from '../../src/protocol/constants.ts';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function send(port: number, options: { method?: string; path: string; body?: string | Buffer; agent?: Agent; headers?: Record<string, string> }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, agent: options.agent ?? false, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

let shoal: TestServer;
/** The last chunk of a chunked response body. */
const CHUNKED_END = '\r\n0\r\n\r\n';

beforeAll(async () => {
  shoal = await startServer({ app: fixtureApp('http-app.ts'), workers: 2, handshakeTimeoutMs: 1500, maxBodyBytes: 64 * 1024, adminPort: 0 });
});

afterAll(async () => {
  await shoal?.close();
});

describe('an app with an http handler', () => {
  it('answers plain requests and WebSocket upgrades on the same port', async () => {
    const start = shoal.ended.length;
    const health = await send(shoal.port, { path: '/healthz' });
    expect(health).toMatchObject({ status: 200, body: 'ok\n' });
    const ws = new WebSocket(`${shoal.origin}/`);
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send('hello');
      ws.onmessage = (event) => resolve(String(event.data));
      ws.onerror = () => reject(new Error('WebSocket failed'));
    });
    expect(echoed).toBe('hello');
    ws.close();
    // Both connections ended and reported before the next test counts what ended after its start.
    await expect.poll(() => shoal.ended.length - start, { timeout: 10_000 }).toBe(2);
  });

  it('serves 1,000 requests on keep-alive connections', { timeout: 60_000 }, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const before = shoal.ended.length;
    const replies = await Promise.all(Array.from({ length: 1000 }, (_, i) => send(shoal.port, { path: `/healthz?n=${i}`, agent })));
    expect(replies.every((reply) => reply.status === 200 && reply.body === 'ok\n')).toBe(true);
    agent.destroy();
    // Every request was counted on some connection; at most 4 connections carried them.
    await expect.poll(() => shoal.ended.slice(before).reduce((sum, stats) => sum + stats.httpRequests, 0), { timeout: 10_000 }).toBe(1000);
    expect(shoal.ended.slice(before).filter((stats) => stats.httpRequests > 0).length).toBeLessThanOrEqual(4);
  });

  it('reads request bodies, streams responses and answers HEAD without a body', async () => {
    const body = Buffer.alloc(20_000, 7);
    const echo = await send(shoal.port, { method: 'POST', path: '/echo', body });
    expect(echo.status).toBe(200);
    expect(echo.body).toBe(body.toString());
    const streamed = await send(shoal.port, { path: '/stream' });
    expect(streamed.headers['transfer-encoding']).toBe('chunked');
    expect(streamed.body).toBe('part 0\npart 1\npart 2\npart 3\npart 4\nend\n');
    const head = await send(shoal.port, { method: 'HEAD', path: '/healthz' });
    expect(head).toMatchObject({ status: 200, body: '' });
  });

  it('upgrades a keep-alive connection after plain requests on it', async () => {
    const client = await RawClient.connect(shoal.port);
    client.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await client.waitFor(() => client.received.toString('latin1').endsWith(CHUNKED_END));
    client.write('GET /missing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await client.waitFor(() => client.received.toString('latin1').split(CHUNKED_END).length === 3);
    expect(client.received.toString('latin1')).toContain('not found\n');
    client.received = Buffer.alloc(0);
    // The upgrade and a first frame in one write: the frame is pipelined after the head.
    client.write(Buffer.concat([Buffer.from(upgradeRequest('/')), clientFrame(Opcode.TEXT, 'after http')]));
    await client.waitFor(() => client.received.includes('\r\n\r\n'));
    const end = client.received.indexOf('\r\n\r\n') + 4;
    expect(parseResponse(client.received.subarray(0, end).toString('latin1')).status).toBe(101);
    client.received = client.received.subarray(end);
    await client.waitFor(() => client.events().length > 0);
    expect(client.events()[0]).toMatchObject({ type: 'text' });
    expect(client.events()[0].data.toString()).toBe('after http');
    client.write(clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8])));
    await client.closed;
    const stats = await shoal.waitForEnd((s) => s.handshakeStatus === 101 && s.httpRequests === 2);
    expect(stats.closeCode).toBe(1000);
  });

  it('a throwing or rejecting handler gets 500 and a closed connection; the worker lives on', async () => {
    const workers = shoal.server.workerIds;
    for (const path of ['/throw', '/reject']) {
      const client = await RawClient.connect(shoal.port);
      client.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      const response = parseResponse(await client.responseText());
      expect(response.status).toBe(500);
      expect(response.head.toLowerCase()).toContain('connection: close');
      expect(response.body).toContain('internal error in the http handler');
    }
    // Headers already out: the connection is cut, the response is incomplete.
    const cut = await RawClient.connect(shoal.port);
    cut.write('GET /throw-after-headers HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const partial = await cut.responseText();
    expect(partial).toContain('200 OK');
    expect(partial).not.toMatch(/\r\n0\r\n\r\n$/);
    expect(shoal.server.workerIds).toEqual(workers);
    expect(await send(shoal.port, { path: '/healthz' })).toMatchObject({ status: 200 });
    await expect.poll(() => shoal.ended.reduce((sum, stats) => sum + stats.httpHandlerErrors, 0)).toBe(3);
  });

  it('refuses an oversized body with 413, declared or chunked', async () => {
    const declared = await RawClient.connect(shoal.port);
    declared.write('POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n');
    const refused = parseResponse(await declared.responseText());
    expect(refused.status).toBe(413);
    expect(refused.body).toContain('request body over 65536 bytes');

    const chunked = await RawClient.connect(shoal.port);
    chunked.write('POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n');
    const piece = Buffer.alloc(16 * 1024, 0x61);
    for (let i = 0; i < 6 && !chunked.isClosed; i++) chunked.write(Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]));
    const text = await chunked.responseText();
    expect(parseResponse(text).status).toBe(413);
    await expect.poll(() => shoal.ended.filter((stats) => stats.httpRefusalStatus === 413).length).toBe(2);
  });

  it('a body that does not arrive within the handshake timeout gets 408 and the connection closes', { timeout: 20_000 }, async () => {
    const slow = await RawClient.connect(shoal.port);
    slow.write('POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nonly a little');
    const response = parseResponse(await slow.responseText());
    expect(response.status).toBe(408);
    expect(await send(shoal.port, { path: '/healthz' })).toMatchObject({ status: 200 });
  });

  it('a malformed later request on a keep-alive connection gets 400 and costs that connection only', async () => {
    const client = await RawClient.connect(shoal.port);
    client.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await client.waitFor(() => client.received.toString('latin1').endsWith(CHUNKED_END));
    client.write('GET /\x01 HTTP/1.1\r\n\r\n');
    const text = await client.responseText();
    expect(text).toContain('HTTP/1.1 400 Bad Request');
    expect(await send(shoal.port, { path: '/healthz' })).toMatchObject({ status: 200 });
  });

  it('counts requests, handler errors and refusals in the admin stats', async () => {
    const stats = (await (await fetch(new URL('/stats', shoal.server.adminAddress?.url))).json()) as { http: { requests: number; handlerErrors: number; refusals: Record<string, number> } };
    expect(stats.http.requests).toBeGreaterThanOrEqual(1000);
    expect(stats.http.handlerErrors).toBe(3);
    expect(stats.http.refusals['413']).toBe(2);
    const metrics = await (await fetch(new URL('/metrics', shoal.server.adminAddress?.url))).text();
    expect(metrics).toMatch(/^shoal_http_handler_errors_total 3$/m);
  });
});

describe('an app without an http handler', () => {
  it('still answers a plain request with 400 and a missing version with 426', async () => {
    const echo = await startServer({ workers: 1 });
    try {
      const plain = await RawClient.connect(echo.port);
      plain.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      expect(parseResponse(await plain.responseText()).status).toBe(400);
      const old = await RawClient.connect(echo.port);
      old.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      const refused = parseResponse(await old.responseText());
      expect(refused.status).toBe(426);
      expect(refused.head).toContain('Sec-WebSocket-Version: 13');
    } finally {
      await echo.close();
    }
  });
});
