/**
 * Heartbeats and deadlines: pings after silence, the idle timeout (close
 * 1001 "idle timeout"), and the close timeout for a peer that never
 * answers our close frame.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Opcode } from '../../src/protocol/constants.ts';
import { clientFrame, RawClient } from '../helpers/raw-socket.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const IDLE_MS = 600;
let server: TestServer;

beforeAll(async () => {
  server = await startServer({ app: 'echo', workers: 1, idleTimeoutMs: IDLE_MS, pingIntervalMs: 150, closeTimeoutMs: 300 });
});
afterAll(() => server.close());

describe('heartbeat', () => {
  it('pings a silent client that answers pongs, and keeps it open past the idle timeout', async () => {
    const ws = new WebSocket(`${server.origin}/`);
    await once(ws, 'open');
    let pings = 0;
    ws.on('ping', () => pings++);
    let closed = false;
    ws.on('close', () => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS * 2.5));
    expect(pings).toBeGreaterThanOrEqual(2);
    expect(closed).toBe(false);
    ws.send('awake');
    const [echo] = (await once(ws, 'message')) as [Buffer];
    expect(echo.toString()).toBe('awake');
    ws.close();
  });
});

describe('idle timeout', () => {
  it('closes a client that sends nothing (not even pongs) with 1001 "idle timeout"', async () => {
    const client = await RawClient.open(server.port);
    const close = await client.closeFrame();
    expect(close).toMatchObject({ code: 1001, reason: 'idle timeout' });
    const types = client.events().map((event) => event.type);
    expect(types[0]).toBe('ping');
    client.write(clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe9])));
    await client.closed;
    const stats = await server.waitForEnd((s) => s.closeCode === 1001);
    expect(stats.wasClean).toBe(true);
  });

  it('destroys the socket when the client never answers the close frame', async () => {
    const client = await RawClient.open(server.port);
    const close = await client.closeFrame();
    expect(close.code).toBe(1001);
    await client.closed;
    const stats = await server.waitForEnd((s) => s.closeTimedOut);
    expect(stats.handshakeStatus).toBe(101);
  });
});
