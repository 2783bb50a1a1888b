/**
 * Refused upgrades over raw sockets: every refusal is an HTTP status with
 * the reason in the body, followed by the server closing the connection.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { RawClient, parseResponse, upgradeRequest } from '../helpers/raw-socket.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ app: 'echo', maxHeadBytes: 1024, handshakeTimeoutMs: 300 });
});
afterAll(() => server.close());

async function exchange(request: string | Buffer) {
  const client = await RawClient.connect(server.port);
  client.write(request);
  return parseResponse(await client.responseText());
}

describe('refused upgrade requests', () => {
  it('answers 400 with the reason when Sec-WebSocket-Key is missing', async () => {
    const response = await exchange(upgradeRequest('/').replace(/Sec-WebSocket-Key: .*\r\n/, ''));
    expect(response.status).toBe(400);
    expect(response.body).toMatch(/Sec-WebSocket-Key/i);
    expect(response.head).toMatch(/Content-Length: \d+/);
  });

  it('answers 400 for bytes that are not HTTP', async () => {
    const response = await exchange('\x16\x03\x01\x00\xa5hello tls\r\n\r\n');
    expect(response.status).toBe(400);
    expect(response.body.length).toBeGreaterThan(0);
  });

  it('answers 405 with Allow: GET for POST', async () => {
    const response = await exchange(upgradeRequest('/').replace(/^GET/, 'POST'));
    expect(response.status).toBe(405);
    expect(response.head).toMatch(/\r\nAllow: GET/);
  });

  it('answers 426 with Sec-WebSocket-Version: 13 for version 8', async () => {
    const response = await exchange(upgradeRequest('/').replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 8'));
    expect(response.status).toBe(426);
    expect(response.head).toMatch(/\r\nSec-WebSocket-Version: 13/);
  });

  it('answers 431 when the head is larger than --max-head-size', async () => {
    const response = await exchange(upgradeRequest('/', { 'X-Filler': 'a'.repeat(2000) }));
    expect(response.status).toBe(431);
    expect(response.body.length).toBeGreaterThan(0);
  });

  it('answers 408 when the head does not arrive within the handshake timeout', async () => {
    const client = await RawClient.connect(server.port);
    client.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const response = parseResponse(await client.responseText());
    expect(response.status).toBe(408);
    expect(response.body).toBe('request head not received within 300 ms');
    const stats = await server.waitForEnd((s) => s.handshakeStatus === 408);
    expect(stats.messagesIn).toBe(0);
  });

  it('answers 408 to a client that sends nothing at all', async () => {
    const client = await RawClient.connect(server.port);
    const response = parseResponse(await client.responseText());
    expect(response.status).toBe(408);
  });

  it('keeps serving valid clients after the refusals', async () => {
    const ws = new WebSocket(`${server.origin}/`);
    await once(ws, 'open');
    ws.send('still here');
    const [data] = (await once(ws, 'message')) as [Buffer];
    expect(data.toString()).toBe('still here');
    ws.close();
  });
});

describe('503 from the primary', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startServer({ app: 'echo', workers: 1, maxConnections: 1 });
  });
  afterAll(() => small.close());

  it('refuses a connection over --max-connections with 503 and the reason, and serves again once one closes', async () => {
    const first = new WebSocket(`${small.origin}/`);
    await once(first, 'open');
    const client = await RawClient.connect(small.port);
    client.write(upgradeRequest('/'));
    const response = parseResponse(await client.responseText());
    expect(response.status).toBe(503);
    expect(response.body).toBe('server is at its connection limit');
    expect(small.server.stats?.rejected).toBe(1);
    first.close();
    await small.waitForEnd();
    const second = new WebSocket(`${small.origin}/`);
    await once(second, 'open');
    second.close();
  });
});

describe('accept backlog', () => {
  let tiny: TestServer;
  beforeAll(async () => {
    tiny = await startServer({ app: 'echo', workers: 1, maxConnectionsPerWorker: 1, acceptBacklog: 1, maxConnections: 10 });
  });
  afterAll(() => tiny.close());

  it('queues a connection while the worker is full, refuses the next with 503, and serves the queued one when a slot frees', async () => {
    const first = new WebSocket(`${tiny.origin}/`);
    await once(first, 'open');
    const queued = new WebSocket(`${tiny.origin}/`);
    let queuedOpen = false;
    queued.on('open', () => (queuedOpen = true));
    await vi.waitFor(() => expect(tiny.server.stats?.active).toBe(2));
    const client = await RawClient.connect(tiny.port);
    client.write(upgradeRequest('/'));
    const response = parseResponse(await client.responseText());
    expect(response.status).toBe(503);
    expect(response.body).toBe('server is busy: accept backlog full');
    expect(queuedOpen).toBe(false);
    first.close();
    await once(queued, 'open');
    queued.send('served after waiting');
    const [echo] = (await once(queued, 'message')) as [Buffer];
    expect(echo.toString()).toBe('served after waiting');
    queued.close();
  });
});
