/**
 * Lent messages (`borrowMessages`, docs/app-api.md): the app's messages are
 * views of the worker's read buffer or of a reused message buffer, which
 * the server rewrites once `onMessage` returns. Everything the app sends,
 * publishes or relays from a message in that time must still arrive intact
 * (test/integration/apps/borrowing-app.ts): replies written by reference
 * that the kernel does not take at once (a client that stops reading), the
 * copies that publications and sends to other connections make, the
 * mailbox behind an async handler, permessage-deflate, fragmented messages.
 * Messages are sent back to back by several clients at once, so reads hold
 * many whole messages, parts of large ones and headers cut anywhere, and
 * other connections' reads land in the buffers while replies are pending.
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type TestServer } from '../helpers/server.ts';

const SIZES = [4, 20, 125, 126, 1000, 4096, 5000, 16384, 65536, 70000, 300_000, 7];
const ROUNDS = 4;

let server: TestServer;

/** A server with the borrowing app, one worker, 1 MiB messages; a client that stops reading gets everything at once later: not a slow consumer here. */
function startBorrowingServer(perMessageDeflate: boolean): Promise<TestServer> {
  return startServer({
    app: fileURLToPath(new URL('./apps/borrowing-app.ts', import.meta.url)),
    workers: 1,
    maxMessageBytes: 1024 * 1024,
    maxBackpressureBytes: 64 * 1024 * 1024,
    perMessageDeflate,
  });
}

beforeAll(async () => {
  server = await startBorrowingServer(true);
});
afterAll(() => server.close());

/** Message `n` of `size` bytes (at least 4): n as a 4-byte big-endian integer, then byte i = (n * 31 + i + seed) & 0xff. */
function message(n: number, size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 4; i < size; i++) bytes[i] = (n * 31 + i + seed) & 0xff;
  bytes.writeUInt32BE(n, 0);
  return bytes;
}

/** Every message a sender (seed) sends: `rounds` times each size. */
function plan(seed: number, rounds: number = ROUNDS, sizes: number[] = SIZES): Buffer[] {
  const messages: Buffer[] = [];
  for (let round = 0; round < rounds; round++) for (const size of sizes) messages.push(message(messages.length, size, seed));
  return messages;
}

/** A client without permessage-deflate unless `options` asks for it (the ws client offers it by default). */
async function connect(path: string, options: WebSocket.ClientOptions = {}, on: TestServer = server): Promise<WebSocket> {
  const ws = new WebSocket(`${on.origin}${path}`, { perMessageDeflate: false, ...options });
  await once(ws, 'open');
  return ws;
}

/** Resolves with the first `count` binary messages `ws` receives (rejects on close). */
function receive(ws: WebSocket, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const received: Buffer[] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      received.push(data);
      if (received.length === count) resolve(received);
    });
    ws.on('close', (code) => reject(new Error(`closed with ${code} after ${received.length} of ${count} messages`)));
  });
}

/** Sends `messages`, every third one in fragments when `fragment` (RFC 6455 §5.4). */
function sendAll(ws: WebSocket, messages: Buffer[], fragment: boolean): void {
  messages.forEach((bytes, i) => {
    if (!fragment || i % 3 !== 0 || bytes.length < 8) {
      ws.send(bytes, { binary: true });
      return;
    }
    const cut = [0, Math.floor(bytes.length / 3), Math.floor((2 * bytes.length) / 3), bytes.length];
    for (let part = 0; part < 3; part++) ws.send(bytes.subarray(cut[part], cut[part + 1]), { binary: true, fin: part === 2 });
  });
}

/**
 * Resolves once the server has stopped reading `ws` (its replies are left
 * queued and it waits for them to drain): what the client still has to send
 * stays the same over several polls.
 */
async function untilServerStopsReading(ws: WebSocket): Promise<void> {
  let last = -1;
  let steady = 0;
  for (let poll = 0; poll < 400 && steady < 4; poll++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const buffered = ws.bufferedAmount;
    steady = buffered > 0 && buffered === last ? steady + 1 : 0;
    last = buffered;
  }
  expect(steady, 'the server never stopped reading the stalled client').toBe(4);
}

/** The indexes where `received` differs from `sent` (empty: all intact). */
function damaged(received: Buffer[], sent: Buffer[]): number[] {
  const bad: number[] = [];
  for (let i = 0; i < sent.length; i++) if (!(received[i] as Buffer).equals(sent[i] as Buffer)) bad.push(i);
  return bad;
}

describe('lent messages', () => {
  it('come back intact from echo, publication and relay, also to a client that stops reading for a while', async () => {
    const subs = await Promise.all(
      [0, 1].map(async () => {
        const ws = new WebSocket(`${server.origin}/sub`, { perMessageDeflate: false });
        const ready = new Promise<void>((resolve) => ws.on('message', (data: Buffer, isBinary: boolean) => !isBinary && data.toString() === 'ready' && resolve()));
        await once(ws, 'open');
        await ready;
        return ws;
      }),
    );
    const echoes = await Promise.all([connect('/echo'), connect('/echo'), connect('/echo', { perMessageDeflate: true }), connect('/slow')]);
    const stalled = await connect('/echo');
    const publisher = await connect('/pub');

    // The stalled client stops reading: the server's replies to it fill the
    // socket buffers and are left queued, while the others keep the server reading.
    const stalledSocket = (stalled as unknown as { _socket: import('node:net').Socket })._socket;
    stalledSocket.pause();
    // About 40 MB, more than the kernel's socket buffers on both sides hold,
    // in messages that fit in one read (their replies are written by reference).
    const stalledSent = plan(900, 480, [65536, 16384, 5000]);
    const stalledReplies = receive(stalled, stalledSent.length);
    sendAll(stalled, stalledSent, false);
    await untilServerStopsReading(stalled);

    const sent = echoes.map((_, k) => plan(k + 1));
    const replies = echoes.map((ws, k) => receive(ws, (sent[k] as Buffer[]).length));
    const published = plan(500);
    // Each subscriber gets every message twice: the publication and the direct send, in that order.
    const fanned = subs.map((ws) => receive(ws, published.length * 2));
    echoes.forEach((ws, k) => sendAll(ws, sent[k] as Buffer[], k % 2 === 0));
    sendAll(publisher, published, true);

    const echoed = await Promise.all(replies);
    echoed.forEach((received, k) => expect(damaged(received, sent[k] as Buffer[]), `echo client ${k}`).toEqual([]));
    for (const received of await Promise.all(fanned)) {
      expect(damaged(received.filter((_, i) => i % 2 === 0), published), 'publications').toEqual([]);
      expect(damaged(received.filter((_, i) => i % 2 === 1), published), 'relayed sends').toEqual([]);
    }
    stalledSocket.resume();
    expect(damaged(await stalledReplies, stalledSent), 'stalled client').toEqual([]);
    for (const ws of [...subs, ...echoes, stalled, publisher]) ws.close();
  });
});

describe('a reply written from a message buffer and left queued', () => {
  // A server of its own: the thread's spare message buffers start empty, so a
  // buffer wrongly handed back is the next one taken.
  let own: TestServer;
  beforeAll(async () => {
    own = await startBorrowingServer(false);
  });
  afterAll(() => own.close());

  it('stays intact while other connections assemble messages in the buffers the worker reuses', async () => {
    // 300,000-byte messages never fit in one read (the worker reads at most
    // 256 KiB), so each is assembled in a decoder buffer, and its echo is
    // written from that buffer by reference while the socket has nothing
    // queued. Once the stalled client's socket buffers are full, such a write
    // is left queued: its buffer must not be reused, while the next client's
    // messages are assembled in the worker's spare buffers.
    const stalled = await connect('/echo', {}, own);
    const stalledSocket = (stalled as unknown as { _socket: import('node:net').Socket })._socket;
    stalledSocket.pause();
    const stalledSent = plan(700, 120, [300_000]);
    const stalledReplies = receive(stalled, stalledSent.length);
    sendAll(stalled, stalledSent, false);
    await untilServerStopsReading(stalled);

    const other = await connect('/echo', {}, own);
    const sent = plan(7, 8, [300_000]);
    const replies = receive(other, sent.length);
    sendAll(other, sent, false);
    expect(damaged(await replies, sent), 'other client').toEqual([]);

    stalledSocket.resume();
    expect(damaged(await stalledReplies, stalledSent), 'stalled client').toEqual([]);
    for (const ws of [stalled, other]) ws.close();
  });
});
