/**
 * Bounded queues in both directions: a full mailbox stops reading the
 * socket (nothing lost, order kept); replies piling up stop reading too; a
 * client that does not read what the server pushes is closed as a slow
 * consumer while everyone else is served.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Opcode } from '../../src/protocol/constants.ts';
import { clientFrame, RawClient } from '../helpers/raw-socket.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';

describe('mailbox backpressure (slow async handler)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ app: fixtureApp('slow-app.ts'), workers: 1, mailboxSize: 8 });
  });
  afterAll(() => server.close());

  it('delivers 200 quickly sent messages in order, none lost, pausing reads while the mailbox is full', async () => {
    const ws = new WebSocket(`${server.origin}/`);
    await once(ws, 'open');
    const received: string[] = [];
    const all = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        received.push(data.toString());
        if (received.length === 200) resolve();
      }),
    );
    for (let i = 0; i < 200; i++) ws.send(`message ${i}`);
    await all;
    expect(received).toEqual(Array.from({ length: 200 }, (_, i) => `message ${i}`));
    ws.close();
    const stats = await server.waitForEnd((s) => s.messagesIn === 200);
    expect(stats.messagesOut).toBe(200);
    expect(stats.mailboxPauses).toBeGreaterThan(0);
    expect(server.server.stats?.mailboxPauses).toBeGreaterThan(0);
  });
});

describe('send buffer', () => {
  const LIMIT = 1024 * 1024;
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ app: fixtureApp('commands-app.ts'), workers: 1, maxBackpressureBytes: LIMIT, closeTimeoutMs: 300 });
  });
  afterAll(() => server.close());

  it('stops reading a client that does not read its echoes, then delivers everything once it reads', async () => {
    const client = await RawClient.open(server.port);
    client.socket.pause();
    const frames = 128;
    const payload = Buffer.alloc(64 * 1024, 0x63);
    for (let i = 0; i < frames; i++) {
      payload.writeUInt32BE(i, 0);
      client.write(clientFrame(Opcode.BINARY, payload));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.socket.resume();
    await client.waitFor(() => client.events().length === frames, 10_000);
    const order = client.events().map((event) => event.data.readUInt32BE(0));
    expect(order).toEqual(Array.from({ length: frames }, (_, i) => i));
    client.write(clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8])));
    const stats = await server.waitForEnd((s) => s.messagesIn === frames);
    expect(stats.writePauses).toBeGreaterThan(0);
    expect(stats.slowConsumer).toBe(false);
    expect(stats.messagesOut).toBe(frames);
  });

  it('closes a client that never reads what the server pushes (1008), destroys it after the close timeout, and keeps serving others', async () => {
    const slowBefore = server.server.stats?.slowConsumers ?? 0;
    const reader = new WebSocket(`${server.origin}/`);
    await once(reader, 'open');
    const readerGot: number[] = [];
    const readerDone = new Promise<void>((resolve) =>
      reader.on('message', (data: Buffer) => {
        readerGot.push(data.length);
        if (readerGot.length === 100) resolve();
      }),
    );
    reader.send('stream 100 16384');

    const stalled = await RawClient.open(server.port);
    stalled.socket.pause();
    stalled.write(clientFrame(Opcode.TEXT, 'stream 5000 65536'));
    const stats = await server.waitForEnd((s) => s.slowConsumer);
    expect(stats.closeCode).toBe(1008);
    expect(stats.closeReason).toBe(`slow consumer: send buffer over ${LIMIT} bytes`);
    expect(stats.closeTimedOut).toBe(true);
    expect(server.server.stats?.slowConsumers).toBe(slowBefore + 1);
    // The server destroyed the socket: a client that reads again finds it closed.
    stalled.socket.resume();
    await stalled.closed;

    await readerDone;
    expect(readerGot.every((length) => length === 16384)).toBe(true);
    reader.send('still served');
    const [echo] = (await once(reader, 'message')) as [Buffer];
    expect(echo.toString()).toBe('still served');
    reader.close();
  });
});
