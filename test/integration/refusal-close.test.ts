/**
 * How a refused upgrade ends. After a complete request head the server closes
 * as soon as its answer is sent (RFC 6455 §4.1: the client must wait for the
 * response before sending more). When it refuses before the head is complete
 * (too large, malformed) it keeps reading until the client closes, so that
 * bytes the client is still sending are not answered with a reset.
 * The clients here are half-open: they never close unless the test says so.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upgradeRequest } from '../helpers/raw-socket.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ app: 'echo', workers: 1, maxHeadBytes: 1024 });
});
afterAll(() => server.close());

interface HalfOpenClient {
  socket: Socket;
  received: () => string;
  ended: Promise<unknown>;
  closed: Promise<unknown>;
  errors: Error[];
}

async function halfOpenClient(): Promise<HalfOpenClient> {
  const socket = connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  const errors: Error[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', (error) => errors.push(error));
  return { socket, received: () => Buffer.concat(chunks).toString('latin1'), ended: once(socket, 'end'), closed: once(socket, 'close'), errors };
}

describe('closing a refused upgrade', () => {
  it('closes right after the response when the head was complete, while the client still holds its side open', async () => {
    const client = await halfOpenClient();
    const endedBefore = server.ended.length;
    client.socket.write(upgradeRequest('/').replace(/Sec-WebSocket-Key: .*\r\n/, ''));
    await client.ended;
    expect(client.received()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const stats = await server.waitForEnd((entry) => server.ended.indexOf(entry) >= endedBefore && entry.handshakeStatus === 400);
    expect(stats.closeTimedOut).toBe(false);
    expect(client.socket.writableEnded).toBe(false);
    client.socket.destroy();
  });

  it('keeps reading after refusing an oversized head, so bytes still in flight get no reset', async () => {
    const client = await halfOpenClient();
    const endedBefore = server.ended.length;
    client.socket.write(`GET / HTTP/1.1\r\nX-Filler: ${'a'.repeat(2000)}`);
    await client.ended;
    expect(client.received()).toMatch(/^HTTP\/1\.1 431 /);
    // The client is still sending its head; the server reads and drops it.
    client.socket.write('b'.repeat(4000));
    client.socket.end('\r\n\r\n');
    const stats = await server.waitForEnd((entry) => server.ended.indexOf(entry) >= endedBefore && entry.handshakeStatus === 431);
    await client.closed;
    expect(stats.closeTimedOut).toBe(false);
    // Everything the client sent was read (a closed socket would have reset the rest).
    expect(stats.bytesIn).toBe(Buffer.byteLength(`GET / HTTP/1.1\r\nX-Filler: ${'a'.repeat(2000)}`) + 4000 + 4);
    expect(client.errors).toEqual([]);
  });
});
