/**
 * permessage-deflate (RFC 7692) in the running server, over loopback: the
 * negotiation in the worker's handshake, compressed echoes both ways with
 * the `ws` client (several offers) and Node's built-in WebSocket, the
 * failures (1007 after inflating, 1009 on a zip bomb, 1002 for RSV1 without
 * the extension), pre-framed publications left uncompressed, `shoal serve
 * --permessage-deflate` as a child process (whose peak memory the zip bomb
 * must not raise), and the deflate conformance table against the live server.
 *
 * Server frames are read from the client socket with the conformance
 * table's independent frame parser and inflater, so RSV1 is visible.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { constants as zlib, deflateRawSync, inflateRawSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeMsgpack, encodeMsgpack } from '../../src/codec/msgpack.ts';
import { Opcode } from '../../src/protocol/constants.ts';
import { encodeFrame } from '../../src/protocol/frame-encoder.ts';
import type { PerMessageDeflateOptions } from '../../src/protocol/permessage-deflate-negotiation.ts';
import { DEFLATE_CASES, DEFLATE_CONFORMANCE_SERVER, deflateOutcomeMismatches, readServerMessages } from '../conformance/deflate-cases.ts';
import { parseServerFrames, type ServerFrame } from '../conformance/frame-cases.ts';
import { seededRandom } from '../helpers/chunkings.ts';
import { clientFrame, parseResponse, RawClient, TEST_MASK, upgradeRequest, type RawResponse } from '../helpers/raw-socket.ts';
import { runLiveCase } from '../helpers/run-live-case.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';
import type { ConnectionStats } from '../../src/transport/messages.ts';
import { MSGPACK_PROTOCOL } from './shoal-helpers.ts';

const KiB = 1024;
const BIN = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url));
const TEST_APP = fileURLToPath(new URL('./apps/shoal-test-app.ts', import.meta.url));
/** The response to ws's and undici's default offer ("permessage-deflate; client_max_window_bits") under the default policy. */
const DEFAULT_POLICY_RESPONSE = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
/** A policy that takes over context both ways when the client allows it (the conformance table's). */
const TAKEOVER_POLICY: Partial<PerMessageDeflateOptions> = DEFLATE_CONFORMANCE_SERVER.perMessageDeflate;

// ---------------------------------------------------------------------------
// Payloads and frames.

/** Chat-like JSON lines: compresses well. */
function compressibleText(length: number, seed: number): string {
  const random = seededRandom(seed);
  let text = '';
  while (text.length < length) text += `{"room":"general","user":"user-${Math.floor(random() * 7)}","text":"hello number ${Math.floor(random() * 1000)}"}\n`;
  return text.slice(0, length);
}

/** Uniform random bytes: deflate cannot shrink them. */
function randomBytes(length: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

/** RFC 7692 §7.2.1 by hand: raw DEFLATE ended by a sync flush, minus the 00 00 ff ff tail. */
function compressPayload(data: Uint8Array): Buffer {
  const output = deflateRawSync(data, { finishFlush: zlib.Z_SYNC_FLUSH });
  return output.subarray(0, output.length - 4);
}

/** A masked client frame with RSV1 set (a compressed message in one frame, RFC 7692 §6). */
function compressedFrame(opcode: number, payload: Uint8Array): Buffer {
  return encodeFrame(opcode, payload, { rsv1: true, mask: TEST_MASK });
}

/**
 * A compressed message that inflates to `mebibytes` MiB of zeros in a few
 * hundred bytes per MiB: `mebibytes` copies of one sync-flushed MiB of
 * zeros (each copy ends on a byte boundary, and its back-references of
 * distance 1 find zeros wherever they start).
 */
function zipBomb(mebibytes: number): Buffer {
  const oneMiB = deflateRawSync(Buffer.alloc(1024 * KiB), { level: 9, finishFlush: zlib.Z_SYNC_FLUSH });
  const copies = Buffer.concat(Array.from({ length: mebibytes }, () => oneMiB));
  return copies.subarray(0, copies.length - 4);
}

/** The data frames (opcodes 1, 2, 0) among server frames. */
const dataFrames = (frames: readonly ServerFrame[]) => frames.filter((frame) => frame.opcode < 0x8);

// ---------------------------------------------------------------------------
// Clients.

/** The Sec-WebSocket-Extensions lines of a response head (there must be at most one). */
function extensionLines(head: string): string[] {
  return [...head.matchAll(/^sec-websocket-extensions:[ \t]*(.*?)[ \t]*$/gim)].map((match) => match[1]);
}

/** A raw client that offers `offer` (null: no extension header); resolves after the 101 head, which it returns. */
async function openRaw(port: number, offer: string | null): Promise<{ client: RawClient; response: RawResponse }> {
  const client = await RawClient.connect(port);
  client.write(upgradeRequest('/', offer === null ? {} : { 'Sec-WebSocket-Extensions': offer }));
  await client.waitFor(() => client.received.includes('\r\n\r\n'));
  const end = client.received.indexOf('\r\n\r\n') + 4;
  const response = parseResponse(client.received.subarray(0, end).toString('latin1'));
  expect(response.status, response.head).toBe(101);
  client.received = client.received.subarray(end);
  return { client, response };
}

interface Received {
  data: Buffer;
  isBinary: boolean;
}

/**
 * A `ws` client that also records the bytes the server sent after the 101
 * (a second 'data' listener on its socket), so tests can see RSV1.
 */
class TappedClient {
  readonly ws: WebSocket;
  /** The Sec-WebSocket-Extensions value of the 101, or null. */
  extensions: string | null;
  readonly closed: Promise<{ code: number; reason: string }>;
  #chunks: Buffer[];
  #inbox: Received[];
  #waiters: ((message: Received) => void)[];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.extensions = null;
    this.#chunks = [];
    this.#inbox = [];
    this.#waiters = [];
    ws.on('upgrade', (response) => {
      this.extensions = response.headers['sec-websocket-extensions'] ?? null;
      response.socket.on('data', (chunk: Buffer) => this.#chunks.push(chunk));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const message = { data, isBinary };
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter(message);
      else this.#inbox.push(message);
    });
    this.closed = new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
  }

  static async open(url: string, perMessageDeflate: WebSocket.PerMessageDeflateOptions | boolean, protocol?: string): Promise<TappedClient> {
    const ws = new WebSocket(url, protocol === undefined ? [] : [protocol], { perMessageDeflate });
    const client = new TappedClient(ws);
    await once(ws, 'open');
    return client;
  }

  /** The next message, or a rejection if the connection closes first. */
  next(): Promise<Received> {
    const queued = this.#inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      this.#waiters.push(resolve);
      this.closed.then(({ code, reason }) => reject(new Error(`closed with ${code} ${reason}`)));
    });
  }

  /** Sends and waits for the echo. */
  async roundTrip(data: string | Buffer, options: { compress?: boolean } = {}): Promise<Received> {
    this.ws.send(data, { binary: typeof data !== 'string', compress: options.compress ?? true });
    return this.next();
  }

  /** Every frame the server sent so far. */
  frames(): ServerFrame[] {
    return parseServerFrames(Buffer.concat(this.#chunks)).frames;
  }

  /** Waits (5 s at most) until the data frames received satisfy `condition`. */
  async waitForFrames(condition: (frames: ServerFrame[]) => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!condition(dataFrames(this.frames()))) {
      if (Date.now() > deadline) throw new Error('frames not received within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async close(): Promise<void> {
    this.ws.close(1000);
    await this.closed;
  }
}

/**
 * Returns a function that resolves with the stats of a connection that
 * finishes from now on (not one finished before this call) and matches.
 */
function laterEnd(server: TestServer): (match: (stats: ConnectionStats) => boolean) => Promise<ConnectionStats> {
  const earlier = new Set(server.ended);
  return (match) => server.waitForEnd((stats) => !earlier.has(stats) && match(stats));
}

// ---------------------------------------------------------------------------

describe('negotiation and echo with the ws client', () => {
  let takeover: TestServer;
  let defaults: TestServer;
  beforeAll(async () => {
    takeover = await startServer({ workers: 1, perMessageDeflate: TAKEOVER_POLICY });
    defaults = await startServer({ workers: 1, perMessageDeflate: true });
  });
  afterAll(async () => {
    await takeover.close();
    await defaults.close();
  });

  const SMALL = 'hello';
  /** Under the 32 KiB window: with context takeover, its repeat is all back-references. */
  const TEXT = compressibleText(16 * KiB, 1);
  const BINARY = Buffer.from(compressibleText(40 * KiB, 2));
  const NOISE = randomBytes(48 * KiB, 3);

  // repeat: how the server's compressed repeat of TEXT compares with the
  // first copy: 'same' without context takeover, 'tiny' with a window that
  // holds all of it, 'smaller' with a 2 KiB window.
  it.each([
    ['the default policy, ws default offer', 'defaults', true, DEFAULT_POLICY_RESPONSE, 'same'],
    ['a takeover policy, ws default offer', 'takeover', true, 'permessage-deflate', 'tiny'],
    ['a takeover policy, server_no_context_takeover', 'takeover', { serverNoContextTakeover: true }, 'permessage-deflate; server_no_context_takeover', 'same'],
    ['a takeover policy, client_max_window_bits=10', 'takeover', { clientMaxWindowBits: 10 }, 'permessage-deflate; client_max_window_bits=10', 'tiny'],
    [
      'a takeover policy, client_no_context_takeover and server_max_window_bits=11',
      'takeover',
      { clientNoContextTakeover: true, serverMaxWindowBits: 11 },
      'permessage-deflate; client_no_context_takeover; server_max_window_bits=11',
      'smaller',
    ],
  ] as const)('%s: the agreed header, then small, large and random messages both ways', async (_label, which, offer, expected, repeat) => {
    const server = which === 'takeover' ? takeover : defaults;
    const ended = laterEnd(server);
    const client = await TappedClient.open(server.origin, offer);
    expect(client.extensions).toBe(expected);
    expect(client.ws.extensions).toContain('permessage-deflate');

    const small = await client.roundTrip(SMALL);
    expect([small.data.toString(), small.isBinary]).toEqual([SMALL, false]);
    for (let i = 0; i < 2; i++) expect((await client.roundTrip(TEXT)).data.toString()).toBe(TEXT);
    const binary = await client.roundTrip(BINARY);
    expect(binary.isBinary).toBe(true);
    expect(binary.data.equals(BINARY)).toBe(true);
    expect((await client.roundTrip(NOISE)).data.equals(NOISE)).toBe(true);

    // Server to client: under the 1 KiB threshold uncompressed; from it compressed (RSV1).
    const frames = dataFrames(client.frames());
    expect(frames.map((frame) => [frame.fin, frame.rsv])).toEqual([[true, 0], [true, 4], [true, 4], [true, 4], [true, 4]]);
    const [, text1, text2, binaryFrame, noiseFrame] = frames.map((frame) => frame.payload.length);
    expect(text1).toBeLessThan(TEXT.length / 4);
    expect(binaryFrame).toBeLessThan(BINARY.length / 4);
    expect(noiseFrame).toBeGreaterThanOrEqual(NOISE.length);
    if (repeat === 'same') expect(text2).toBe(text1);
    else if (repeat === 'tiny') expect(text2).toBeLessThan(text1 / 3);
    else expect(text2).toBeLessThan(text1);

    // Client to server: ws compressed the large messages, so far fewer bytes
    // came in than the messages hold (the noise is sent whole either way).
    await client.close();
    const stats = await ended((s) => s.messagesIn === 5);
    expect(stats.bytesIn).toBeLessThan(NOISE.length + (2 * TEXT.length + BINARY.length) / 2);
    expect(stats.wasClean).toBe(true);
  });

  it('keeps one compression context per connection when two clients interleave on one worker', async () => {
    const [a, b] = await Promise.all([TappedClient.open(takeover.origin, true), TappedClient.open(takeover.origin, true)]);
    for (let i = 0; i < 6; i++) {
      const textA = compressibleText(4 * KiB, 10 + i);
      const textB = compressibleText(3 * KiB, 20 + i);
      const [echoA, echoB] = await Promise.all([a.roundTrip(textA), b.roundTrip(textB)]);
      expect(echoA.data.toString()).toBe(textA);
      expect(echoB.data.toString()).toBe(textB);
    }
    expect(dataFrames(a.frames()).every((frame) => frame.rsv === 4)).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });

  it('inflates messages the client sent compressed in fragments', async () => {
    const client = await TappedClient.open(takeover.origin, { threshold: 0 });
    const parts = ['{"part":1,"text":"', 'fragmented '.repeat(300), '"}'];
    parts.forEach((part, i) => client.ws.send(part, { fin: i === parts.length - 1, compress: true }));
    expect((await client.next()).data.toString()).toBe(parts.join(''));
    await client.close();
  });
});

describe('what is compressed', () => {
  let servers: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.map((server) => server.close()));
    servers = [];
  });
  async function serve(options: Parameters<typeof startServer>[0]): Promise<TestServer> {
    const server = await startServer({ workers: 1, ...options });
    servers.push(server);
    return server;
  }

  it('compresses short binary replies from a threshold under 126 bytes (the small-frame fast path steps aside)', async () => {
    const server = await serve({ perMessageDeflate: { thresholdBytes: 64 } });
    const { client, response } = await openRaw(server.port, 'permessage-deflate');
    expect(extensionLines(response.head)).toEqual([DEFAULT_POLICY_RESPONSE]);
    const above = Buffer.alloc(100, 0x61);
    const below = Buffer.alloc(10, 0x62);
    client.write(Buffer.concat([clientFrame(Opcode.BINARY, above), clientFrame(Opcode.BINARY, below)]));
    await client.waitFor(() => dataFrames(parseServerFrames(client.received).frames).length === 2);
    const frames = parseServerFrames(client.received).frames;
    expect(frames.map((frame) => frame.rsv)).toEqual([4, 0]);
    const { messages, problems } = readServerMessages(frames, DEFAULT_POLICY_RESPONSE);
    expect(problems).toEqual([]);
    expect(messages.map((message) => message.data)).toEqual([above, below]);
    client.destroy();
  });

  it('compresses sends made inside a read and sends made later by the app', async () => {
    const server = await serve({ app: fixtureApp('commands-app.ts'), perMessageDeflate: true });
    const client = await TappedClient.open(server.origin, true);
    client.ws.send('flood 3 4000');
    client.ws.send('stream 3 5000');
    const received = [];
    for (let i = 0; i < 6; i++) received.push(await client.next());
    expect(received.slice(0, 3).every((message) => message.data.equals(Buffer.alloc(4000, 0x61)))).toBe(true);
    expect(received.slice(3).every((message) => message.data.equals(Buffer.alloc(5000, 0x62)))).toBe(true);
    const frames = dataFrames(client.frames());
    expect(frames.map((frame) => frame.rsv)).toEqual([4, 4, 4, 4, 4, 4]);
    expect(frames.every((frame) => frame.payload.length < 100)).toBe(true);
    await client.close();
  });

  it('sends pre-framed publications uncompressed, and compresses replies on the same connection', async () => {
    const server = await serve({ app: TEST_APP, perMessageDeflate: true });
    const client = await TappedClient.open(server.origin, true, MSGPACK_PROTOCOL);
    const call = async (id: number, method: string, data: unknown) => {
      client.ws.send(encodeMsgpack([1, id, method, data]));
      for (;;) {
        const message = decodeMsgpack((await client.next()).data) as unknown[];
        if (message[0] === 2 && message[1] === id) return message[2];
      }
    };
    await call(1, '$subscribe', 'news');
    const big = compressibleText(8 * KiB, 4);
    expect(await call(2, 'echo', big)).toBe(big);
    await call(3, 'publish', { topic: 'news', data: big });
    // Data messages: the welcome event, three replies and the publication.
    await client.waitForFrames((frames) => frames.length >= 5);
    await client.close();

    const frames = dataFrames(client.frames());
    const { messages, compressed, problems } = readServerMessages(frames, DEFAULT_POLICY_RESPONSE);
    expect(problems).toEqual([]);
    const decoded = messages.map((message) => decodeMsgpack(message.data) as unknown[]);
    const reply = decoded.findIndex((message) => message[0] === 2 && message[1] === 2);
    const publication = decoded.findIndex((message) => message[0] === 4 && message[1] === 'news');
    expect(decoded[publication]).toEqual([4, 'news', big]);
    expect([compressed[reply], compressed[publication]]).toEqual([true, false]);
  });
});

describe('failures', () => {
  let on: TestServer;
  let off: TestServer;
  beforeAll(async () => {
    on = await startServer({ workers: 1, perMessageDeflate: TAKEOVER_POLICY, maxMessageBytes: 64 * KiB });
    off = await startServer({ workers: 1 });
  });
  afterAll(async () => {
    await on.close();
    await off.close();
  });

  it('closes with 1007 when a compressed text message inflates to invalid UTF-8', async () => {
    const ended = laterEnd(on);
    const { client } = await openRaw(on.port, 'permessage-deflate');
    const valid = compressPayload(Buffer.from('Hello'));
    const invalid = compressPayload(Buffer.from([0x48, 0x69, 0xc3, 0x28]));
    client.write(Buffer.concat([compressedFrame(Opcode.TEXT, valid), compressedFrame(Opcode.TEXT, invalid)]));
    const close = await client.closeFrame();
    expect(close.code).toBe(1007);
    expect(client.events().filter((event) => event.type === 'text')).toHaveLength(1);
    await client.closed;
    expect((await ended((stats) => stats.closeCode === 1007)).wasClean).toBe(false);
  });

  it('the same bytes as binary are a valid message (the 1007 is about text)', async () => {
    const { client } = await openRaw(on.port, 'permessage-deflate');
    const bytes = Buffer.from([0x48, 0x69, 0xc3, 0x28]);
    client.write(compressedFrame(Opcode.BINARY, compressPayload(bytes)));
    await client.waitFor(() => client.events().some((event) => event.type === 'binary'));
    expect(client.events()[0].data).toEqual(bytes);
    client.destroy();
  });

  it('closes with 1009 when a small compressed message inflates past the message limit', async () => {
    const bomb = zipBomb(16);
    expect(bomb.length).toBeLessThan(64 * KiB);
    const { client } = await openRaw(on.port, 'permessage-deflate');
    client.write(compressedFrame(Opcode.BINARY, bomb));
    expect((await client.closeFrame()).code).toBe(1009);
    await client.closed;
    expect(client.events().filter((event) => event.type === 'binary')).toEqual([]);
  });

  it.each([
    ['deflate is on but the client did not offer it', 'on', null],
    ['deflate is off and the client offered it', 'off', 'permessage-deflate; client_max_window_bits'],
  ] as const)('closes with 1002 on RSV1 when %s', async (_label, which, offer) => {
    const server = which === 'on' ? on : off;
    const { client, response } = await openRaw(server.port, offer);
    expect(extensionLines(response.head)).toEqual([]);
    client.write(compressedFrame(Opcode.TEXT, compressPayload(Buffer.from('Hello'))));
    expect((await client.closeFrame()).code).toBe(1002);
    await client.closed;
  });

  it('answers without an extension when deflate is off, however it is offered, and echoes uncompressed', async () => {
    const client = await TappedClient.open(off.origin, { threshold: 0 });
    expect(client.extensions).toBeNull();
    expect(client.ws.extensions).toBe('');
    const text = compressibleText(8 * KiB, 5);
    expect((await client.roundTrip(text)).data.toString()).toBe(text);
    expect(dataFrames(client.frames()).map((frame) => [frame.rsv, frame.payload.length])).toEqual([[0, text.length]]);
    await client.close();
    const { client: raw, response } = await openRaw(off.port, 'permessage-deflate, permessage-deflate; server_no_context_takeover');
    expect(extensionLines(response.head)).toEqual([]);
    raw.destroy();
  });

  it('declines an offer it cannot accept and completes the handshake without compression', async () => {
    const { client, response } = await openRaw(on.port, 'permessage-deflate; server_max_window_bits=16, x-webkit-deflate-frame');
    expect(response.status).toBe(101);
    expect(extensionLines(response.head)).toEqual([]);
    client.destroy();
  });
});

describe("Node's built-in WebSocket", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ workers: 1, perMessageDeflate: true });
  });
  afterAll(async () => {
    await server.close();
  });

  it('negotiates from its own offer and round-trips small, large and binary messages', async () => {
    const ended = laterEnd(server);
    const client = new globalThis.WebSocket(`${server.origin}/`);
    client.binaryType = 'arraybuffer';
    const inbox: (string | ArrayBuffer)[] = [];
    const waiters: ((data: string | ArrayBuffer) => void)[] = [];
    client.onmessage = (event) => {
      const waiter = waiters.shift();
      if (waiter !== undefined) waiter(event.data);
      else inbox.push(event.data);
    };
    await new Promise((resolve, reject) => {
      client.onopen = resolve;
      client.onerror = reject;
    });
    expect(client.extensions).toBe(DEFAULT_POLICY_RESPONSE);
    const next = () => (inbox.length > 0 ? Promise.resolve(inbox.shift()!) : new Promise<string | ArrayBuffer>((resolve) => waiters.push(resolve)));
    const large = compressibleText(100 * KiB, 6);
    const noise = randomBytes(20 * KiB, 7);
    client.send('hi');
    expect(await next()).toBe('hi');
    client.send(large);
    expect(await next()).toBe(large);
    client.send(noise);
    expect(Buffer.from((await next()) as ArrayBuffer).equals(noise)).toBe(true);
    const closed = new Promise<CloseEvent>((resolve) => {
      client.onclose = resolve as never;
    });
    client.close(1000);
    expect((await closed).wasClean).toBe(true);
    // The server compressed the large echo: far fewer bytes went out than the messages hold.
    const stats = await ended((s) => s.messagesIn === 3);
    expect(stats.bytesOut).toBeLessThan(noise.length + large.length / 4);
  });
});

// ---------------------------------------------------------------------------

/** Peak resident memory of a process (VmHWM, Linux), in bytes. */
function peakRss(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

describe('shoal serve --permessage-deflate', () => {
  let child: ChildProcess | null = null;
  afterEach(() => {
    if (child !== null && child.exitCode === null) child.kill('SIGKILL');
    child = null;
  });

  /** Starts `shoal serve` on a free port; resolves with the port once it prints its listening line. */
  async function serve(args: string[]): Promise<{ process: ChildProcess; port: number }> {
    const started = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    let output = '';
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      started.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(output);
        if (match !== null) resolve(Number(match[1]));
      });
      started.once('exit', (code) => reject(new Error(`shoal exited early (${code}): ${output}`)));
    });
    return { process: started, port };
  }

  it('negotiates with the flag, and a zip bomb gets 1009 without raising the peak memory past the limit', async () => {
    const LIMIT_MIB = 1;
    const { process: server, port } = await serve(['--workers', '1', '--permessage-deflate', '--max-message-size', `${LIMIT_MIB}MiB`]);

    // 256 MiB of zeros in about 260 KB: under the limit on the wire, 256x over it inflated.
    const BOMB_MIB = 256;
    const bomb = zipBomb(BOMB_MIB);
    expect(bomb.length).toBeLessThan(LIMIT_MIB * 1024 * KiB);
    const inflate = (data: Buffer, maxOutputLength?: number) =>
      inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.Z_SYNC_FLUSH, maxOutputLength });
    expect(inflate(zipBomb(2)).equals(Buffer.alloc(2048 * KiB))).toBe(true);
    expect(() => inflate(bomb, 4096 * KiB)).toThrow(RangeError);

    // Warm up: a negotiated connection that inflates a message just under the limit.
    const client = await TappedClient.open(`ws://127.0.0.1:${port}/`, true);
    expect(client.extensions).toBe(DEFAULT_POLICY_RESPONSE);
    const nearLimit = Buffer.alloc(LIMIT_MIB * 1024 * KiB - KiB, 0x7a);
    expect((await client.roundTrip(nearLimit)).data.equals(nearLimit)).toBe(true);
    await client.close();
    const before = peakRss(server.pid as number);

    const { client: raw } = await openRaw(port, 'permessage-deflate');
    raw.write(compressedFrame(Opcode.BINARY, bomb));
    expect((await raw.closeFrame()).code).toBe(1009);
    await raw.closed;

    // The bomb may cost the limit plus zlib's chunk, not its inflated size.
    const growth = peakRss(server.pid as number) - before;
    expect(growth).toBeLessThan(32 * 1024 * KiB);
    expect(growth).toBeLessThan((BOMB_MIB * 1024 * KiB) / 8);

    // The server carries on.
    const after = await TappedClient.open(`ws://127.0.0.1:${port}/`, true);
    expect((await after.roundTrip('still here')).data.toString()).toBe('still here');
    await after.close();
    server.kill('SIGTERM');
    const [code] = await once(server, 'exit');
    expect(code).toBe(0);
  });
});

// ---------------------------------------------------------------------------

describe('permessage-deflate conformance, live', () => {
  /** Servers by message size limit (the table's default and each limit a case asks for). */
  const servers = new Map<number, TestServer>();
  beforeAll(async () => {
    const limits = new Set(DEFLATE_CASES.map((testCase) => testCase.maxMessageBytes ?? DEFLATE_CONFORMANCE_SERVER.maxMessageBytes));
    for (const maxMessageBytes of limits) {
      servers.set(
        maxMessageBytes,
        await startServer({ app: DEFLATE_CONFORMANCE_SERVER.app, workers: 1, maxMessageBytes, perMessageDeflate: DEFLATE_CONFORMANCE_SERVER.perMessageDeflate }),
      );
    }
  });
  afterAll(async () => {
    for (const server of servers.values()) await server.close();
  });

  it.each(DEFLATE_CASES.map((testCase) => [testCase.id, testCase.title, testCase] as const))('%s %s', async (_id, _title, testCase) => {
    const server = servers.get(testCase.maxMessageBytes ?? DEFLATE_CONFORMANCE_SERVER.maxMessageBytes) as TestServer;
    const { client, response } = await openRaw(server.port, testCase.offer);
    expect(extensionLines(response.head)).toEqual(testCase.response === null ? [] : [testCase.response]);
    const { frames, rest, withoutProbe, open } = await runLiveCase(client, testCase.input, testCase.expect.close !== undefined);
    expect(rest.length, 'server output ends inside a frame').toBe(0);
    expect(frames.every((f) => !f.masked), 'server frames are unmasked').toBe(true);
    const outcome = { ...readServerMessages(withoutProbe, testCase.response), open };
    expect(deflateOutcomeMismatches(testCase, outcome, { echoesMayBeCut: true })).toEqual([]);
    client.destroy();
  });
});
