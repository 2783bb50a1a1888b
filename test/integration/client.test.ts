/**
 * The typed client (src/client) over loopback with Node's built-in
 * WebSocket, against real Shoal servers with 2 workers: requests, events,
 * subscriptions, both codecs, its errors, and reconnecting with
 * resubscription after a server restart.
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createServer, type ShoalServer } from '../../src/server/server.ts';
import { ShoalClient, ShoalError, backoffDelay, type ClientStatus } from '../../src/client/index.ts';
import { JSON_PROTOCOL, MSGPACK_PROTOCOL } from '../../src/codec/envelope.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import type { TestSchema } from './apps/shoal-test-app.ts';
import { until } from '../helpers/until.ts';

const TEST_APP = fileURLToPath(new URL('./apps/shoal-test-app.ts', import.meta.url));

let server: TestServer;
const clients: ShoalClient<any>[] = [];

beforeAll(async () => {
  server = await startServer({ app: TEST_APP, workers: 2 });
});
afterAll(async () => {
  for (const client of clients) client.close();
  await server.close();
});

function track<C extends ShoalClient<any>>(client: C): C {
  clients.push(client);
  return client;
}

async function rejection(promise: Promise<unknown>): Promise<ShoalError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ShoalError);
    return error as ShoalError;
  }
  throw new Error('expected a rejection');
}

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe.each([
  ['msgpack', MSGPACK_PROTOCOL],
  ['JSON', JSON_PROTOCOL],
])('typed client on %s', (_name, protocol) => {
  it('negotiates the protocol, calls methods, receives events', async () => {
    const client = track(new ShoalClient<TestSchema>(`${server.origin}/`, { protocols: [protocol] }));
    const welcome = new Promise((resolve) => client.on('welcome', resolve));
    await client.connect();
    expect(client.protocol).toBe(protocol);
    expect(client.state).toBe('open');
    const { address } = (await welcome) as { address: string };
    expect(await client.request('whoami', null)).toBe(address);
    expect(await client.request('add', { a: 20, b: 22 })).toBe(42);
    expect(await client.request('count', null)).toBe(1);
    expect(await client.request('count', null)).toBe(2);
    const noted = new Promise((resolve) => client.on('noted', resolve));
    client.emit('note', { x: [1, 2] });
    expect(await noted).toEqual({ x: [1, 2] });
  });

  it('subscribes and receives publications from a client on any worker', async () => {
    const subscriber = track(new ShoalClient<TestSchema>(`${server.origin}/`, { protocols: [protocol] }));
    const publisher = track(new ShoalClient<TestSchema>(`${server.origin}/`));
    await Promise.all([subscriber.connect(), publisher.connect()]);
    const received: unknown[] = [];
    const subscription = await subscriber.subscribe(`client-${protocol}`, (data) => received.push(data));
    for (let i = 0; i < 5; i++) await publisher.request('publish', { topic: `client-${protocol}`, data: i });
    await publisher.request('publish', { topic: `client-${protocol}`, data: 'end' });
    while (received.at(-1) !== 'end') await new Promise((resolve) => setTimeout(resolve, 5));
    expect(received).toEqual([0, 1, 2, 3, 4, 'end']);
    await subscription.unsubscribe();
    expect(await publisher.request('publish', { topic: `client-${protocol}`, data: 'after' })).toBe(0);
  });
});

describe('client errors', () => {
  it("rejects with the server's code and message", async () => {
    const client = track(new ShoalClient(`${server.origin}/`));
    const unknown = await rejection(client.request('nope', null));
    expect([unknown.code, unknown.message]).toEqual(['UNKNOWN_METHOD', 'unknown method "nope"']);
    const refused = await rejection(client.request('refuse', null));
    expect([refused.code, refused.data]).toEqual(['NOT_ALLOWED', { why: 'test' }]);
    const forbidden = await rejection(client.subscribe('forbidden:x', () => {}));
    expect(forbidden.code).toBe('FORBIDDEN');
  });

  it('times out a request on the client side with REQUEST_TIMEOUT and ignores the late reply', async () => {
    const client = track(new ShoalClient<TestSchema>(`${server.origin}/`));
    await client.connect();
    const error = await rejection(client.request('never', null, { timeoutMs: 50 }));
    expect(error.code).toBe('REQUEST_TIMEOUT');
    // The server's TIMEOUT reply (after 300 ms) finds no pending request; the client stays usable.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await client.request('add', { a: 1, b: 2 })).toBe(3);
  });

  it('fails with NO_SUBPROTOCOL against a server that does not speak the protocol', async () => {
    const echo = await startServer({ app: 'echo', workers: 1 });
    try {
      const client = new ShoalClient(`${echo.origin}/`);
      const error = await rejection(client.connect());
      expect(error.code).toBe('NO_SUBPROTOCOL');
      expect(error.message).toContain('does not speak the Shoal protocol');
      expect(client.state).toBe('closed');
    } finally {
      await echo.close();
    }
  });

  it('fails with CONNECT_FAILED when nothing listens', async () => {
    const client = new ShoalClient(`ws://127.0.0.1:${await freePort()}/`);
    expect((await rejection(client.connect())).code).toBe('CONNECT_FAILED');
  });

  it('throws NOT_CONNECTED for an event sent before the connection is open', () => {
    const client = new ShoalClient<TestSchema>(`${server.origin}/`);
    expect(() => client.emit('note', 1)).toThrow(ShoalError);
    client.close();
  });

  it('fails pending requests with CLOSED on close()', async () => {
    const client = new ShoalClient<TestSchema>(`${server.origin}/`);
    await client.connect();
    const pending = client.request('never', null);
    client.close();
    expect((await rejection(pending)).code).toBe('CLOSED');
    expect(client.state).toBe('closed');
  });

  it('fails the connection (4007 for 1007) and does not reconnect when the server sends a non-envelope', async () => {
    const fake = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => MSGPACK_PROTOCOL });
    await new Promise((resolve) => fake.once('listening', resolve));
    const closed = new Promise<[number, string]>((resolve) => {
      fake.on('connection', (ws) => {
        ws.on('close', (code, reason) => resolve([code, reason.toString()]));
        ws.send(Buffer.from([0x93, 0x09, 0x00, 0x00]));
      });
    });
    const statuses: ClientStatus['type'][] = [];
    const client = new ShoalClient(`ws://127.0.0.1:${(fake.address() as AddressInfo).port}/`, { reconnect: { initialDelayMs: 10 } });
    client.onStatus((status) => statuses.push(status.type));
    await client.connect();
    expect(await closed).toEqual([4007, 'message type 9 is not accepted from a server']);
    expect(client.state).toBe('closed');
    expect(statuses).toEqual(['open', 'error', 'close', 'closed']);
    await new Promise((resolve) => fake.close(resolve));
  });
});

describe('reconnect (spec §9)', () => {
  it('after a server restart: pending requests fail with CONNECTION_LOST, then it reconnects and resubscribes', { timeout: 30_000 }, async () => {
    const start = (port: number): Promise<ShoalServer> => {
      const instance = createServer({ host: '127.0.0.1', port, workers: 2, app: TEST_APP, drainTimeoutMs: 500, closeTimeoutMs: 500 });
      return instance.listen().then(() => instance);
    };
    // The restarted server must get the same port back. A port from the
    // ephemeral range (port 0) could be handed to another test file's server
    // in between, so pick one below it (32768-60999 here) and retry on a clash.
    let first: ShoalServer | null = null;
    for (let attempt = 0; first === null; attempt++) {
      try {
        first = await start(20_000 + Math.floor(Math.random() * 10_000));
      } catch (error) {
        if (attempt >= 20 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      }
    }
    const port = (first.address as { port: number }).port;
    let second: ShoalServer | null = null;
    const client = new ShoalClient<TestSchema>(`ws://127.0.0.1:${port}/`, { reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    try {
      const statuses: ClientStatus[] = [];
      client.onStatus((status) => statuses.push(status));
      await client.connect();
      const received: unknown[] = [];
      await client.subscribe('restart', (data) => received.push(data));

      const lost = rejection(client.request('never', null, { timeoutMs: 10_000 }));
      await first.close();
      first = null;
      expect((await lost).code).toBe('CONNECTION_LOST');
      expect(statuses.some((status) => status.type === 'reconnecting')).toBe(true);

      second = await start(port);
      await until(() => statuses.some((status) => status.type === 'open' && status.reconnected), 'the client reconnected');
      expect(client.state).toBe('open');

      // The resubscription is a $subscribe the client sent on open; a request after it is answered after it.
      expect(await client.request('add', { a: 1, b: 1 })).toBe(2);
      const publisher = new ShoalClient<TestSchema>(`ws://127.0.0.1:${port}/`);
      await publisher.connect();
      expect(await publisher.request('publish', { topic: 'restart', data: 'welcome back' })).toBeGreaterThanOrEqual(0);
      await until(() => received.length > 0, 'the publication arrived');
      expect(received).toEqual(['welcome back']);
      publisher.close();
    } finally {
      client.close();
      await first?.close();
      await second?.close();
    }
  });
});

describe('backoffDelay', () => {
  const options = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, maxAttempts: Infinity };

  it('grows exponentially up to the cap, with half of it random', () => {
    expect([0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, options, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, options, () => 0.999999))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});
