/**
 * The built-in echo app over real loopback sockets, with the ws package's
 * client, Node's global WebSocket, and a raw socket for pipelining.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Opcode } from '../../src/protocol/constants.ts';
import { clientFrame, RawClient, upgradeRequest } from '../helpers/raw-socket.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const LIMIT = 256 * 1024;
let server: TestServer;

beforeAll(async () => {
  server = await startServer({ app: 'echo', maxMessageBytes: LIMIT });
});
afterAll(() => server.close());

async function openWs(path = '/'): Promise<WebSocket> {
  const ws = new WebSocket(`${server.origin}${path}`);
  await once(ws, 'open');
  return ws;
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary })));
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

const SIZES = [0, 1, 125, 126, 65535, 65536, LIMIT];

describe('echo with the ws client', () => {
  it.each(SIZES)('echoes a %d-byte binary message as binary, byte for byte', async (size) => {
    const ws = await openWs();
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
    ws.send(payload, { binary: true });
    const reply = await nextMessage(ws);
    expect(reply.isBinary).toBe(true);
    expect(reply.data.equals(payload)).toBe(true);
    ws.close();
  });

  it.each(SIZES)('echoes a %d-byte text message as text', async (size) => {
    const ws = await openWs('/echo');
    const text = 'é'.repeat(Math.floor(size / 2)) + 'x'.repeat(size % 2);
    ws.send(text);
    const reply = await nextMessage(ws);
    expect(reply.isBinary).toBe(false);
    expect(reply.data.toString('utf8')).toBe(text);
    ws.close();
  });

  it('echoes many messages in order on one connection', async () => {
    const ws = await openWs();
    const received: string[] = [];
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        received.push(data.toString());
        if (received.length === 500) resolve();
      }),
    );
    for (let i = 0; i < 500; i++) ws.send(`m${i}`);
    await done;
    expect(received).toEqual(Array.from({ length: 500 }, (_, i) => `m${i}`));
    ws.close();
  });

  it('echoes 20,000 pipelined small binary messages intact and in order (several write slabs)', async () => {
    const ws = await openWs();
    const count = 20_000;
    let next = 0;
    let bad = -1;
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        if (bad === -1 && (data.length !== 8 || data.readUInt32BE(0) !== next || data.readUInt32BE(4) !== ~next >>> 0)) bad = next;
        if (++next === count) resolve();
      }),
    );
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(8);
      payload.writeUInt32BE(i, 0);
      payload.writeUInt32BE(~i >>> 0, 4);
      ws.send(payload);
    }
    await done;
    expect(bad).toBe(-1);
    ws.close();
  });

  it('closes with 1009 when a message is over the limit', async () => {
    const ws = await openWs();
    const closing = closed(ws);
    ws.send(Buffer.alloc(LIMIT + 1));
    const { code } = await closing;
    expect(code).toBe(1009);
  });

  it('answers a ping with a pong carrying the same payload', async () => {
    const ws = await openWs();
    ws.ping(Buffer.from('are you there'));
    const [payload] = (await once(ws, 'pong')) as [Buffer];
    expect(payload.toString()).toBe('are you there');
    ws.close();
  });

  it('echoes the client close code (4000 "bye") and records it', async () => {
    const ws = await openWs();
    const closing = closed(ws);
    ws.send('marker-4000');
    await nextMessage(ws);
    ws.close(4000, 'bye');
    expect((await closing).code).toBe(4000);
    const stats = await server.waitForEnd((s) => s.closeCode === 4000);
    expect(stats).toMatchObject({ closeCode: 4000, closeReason: 'bye', wasClean: true, handshakeStatus: 101 });
  });
});

describe('echo with the built-in WebSocket client', () => {
  it('echoes text and binary', async () => {
    const ws = new globalThis.WebSocket(`${server.origin}/`);
    ws.binaryType = 'arraybuffer';
    const messages: (string | ArrayBuffer)[] = [];
    const got = new Promise<void>((resolve) =>
      ws.addEventListener('message', (event) => {
        messages.push(event.data as string | ArrayBuffer);
        if (messages.length === 2) resolve();
      }),
    );
    await new Promise((resolve) => ws.addEventListener('open', resolve, { once: true }));
    ws.send('hello from undici');
    ws.send(new Uint8Array([1, 2, 3, 250]));
    await got;
    expect(messages[0]).toBe('hello from undici');
    expect([...new Uint8Array(messages[1] as ArrayBuffer)]).toEqual([1, 2, 3, 250]);
    const closeEvent = new Promise<CloseEvent>((resolve) => ws.addEventListener('close', resolve as never, { once: true }));
    ws.close(1000, 'done');
    expect((await closeEvent).code).toBe(1000);
  });
});

describe('echo over a raw socket', () => {
  it('decodes frames pipelined in the same packet as the upgrade request', async () => {
    const client = await RawClient.connect(server.port);
    client.write(Buffer.concat([Buffer.from(upgradeRequest('/')), clientFrame(Opcode.TEXT, 'early'), clientFrame(Opcode.BINARY, Buffer.from([9]))]));
    await client.waitFor(() => client.received.includes('\r\n\r\n'));
    const end = client.received.indexOf('\r\n\r\n') + 4;
    expect(client.received.subarray(0, 12).toString()).toBe('HTTP/1.1 101');
    client.received = client.received.subarray(end);
    await client.waitFor(() => client.events().length >= 2);
    expect(client.events().map((e) => [e.type, e.data.toString('hex')])).toEqual([
      ['text', Buffer.from('early').toString('hex')],
      ['binary', '09'],
    ]);
    client.destroy();
  });

  it('refuses a path the echo app does not serve with 404 and the reason', async () => {
    const client = await RawClient.connect(server.port);
    client.write(upgradeRequest('/nope'));
    const text = await client.responseText();
    expect(text).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(text.endsWith('no WebSocket endpoint at /nope')).toBe(true);
  });
});
