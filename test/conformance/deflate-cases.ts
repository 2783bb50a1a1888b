/**
 * The permessage-deflate conformance table (RFC 7692), in the spirit of
 * Autobahn's groups 12 (compressed messages of many sizes, default offer)
 * and 13 (the same under each negotiated parameter set), plus what the
 * Autobahn suite leaves out: fragmented compressed messages (f), reserved
 * bits with the extension (r), UTF-8 after inflating (u), limits after
 * inflating (l), corrupt compressed data (c) and context takeover (t).
 *
 * Like frame-cases.ts, the table knows nothing about Shoal. Each case is the
 * extension offer a client makes, the Sec-WebSocket-Extensions response the
 * server must give, the bytes the client then sends (masked frames,
 * compressed by Node's zlib as a real client would: a persistent raw deflate
 * stream, sync-flushed per message, when it keeps its context) and what the
 * server must do. The server is configured as DEFLATE_CONFORMANCE_SERVER
 * says and echoes every message; runners read its output with
 * readServerMessages() (an independent frame reader and inflater) and report
 * deflateOutcomeMismatches(); an empty list is a pass.
 *
 * The table is built with top-level await (a zlib stream flushes
 * asynchronously), once, when the module is imported.
 */
import { constants as zlib, createDeflateRaw, deflateRawSync, inflateRawSync, type DeflateRaw } from 'node:zlib';
import { seededRandom } from '../helpers/chunkings.ts';
import { outcomeMismatches, type CaseMessage, type FrameCase, type FrameOutcome, type ServerFrame } from './frame-cases.ts';

/** How the server under test must be configured for this table. */
export const DEFLATE_CONFORMANCE_SERVER = {
  /** Shoal's default limit (1 MiB); cases that need another say so in `maxMessageBytes`. */
  maxMessageBytes: 1024 * 1024,
  /** The app echoes every message back unchanged (`--app echo`). */
  app: 'echo',
  /**
   * permessage-deflate policy: on, and willing to take over context in both
   * directions (the client's offer decides), 15-bit windows, level 1, and
   * messages from 1 KiB up compressed.
   */
  perMessageDeflate: {
    enabled: true,
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    thresholdBytes: 1024,
    level: 1,
    memLevel: 8,
  },
} as const;

/** One permessage-deflate case: a frame case plus the negotiation it runs under. */
export interface DeflateCase extends FrameCase {
  /** The client's Sec-WebSocket-Extensions value, or null to offer nothing. */
  offer: string | null;
  /** The server's Sec-WebSocket-Extensions answer, or null when it must not agree to compression. */
  response: string | null;
}

/** The parameters of a permessage-deflate response (RFC 7692 §7.1), as the client reads them. */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** Reads a response value such as "permessage-deflate; server_max_window_bits=10" (one extension, no quoting). */
export function readDeflateResponse(response: string): DeflateParams {
  const [name, ...params] = response.split(';').map((part) => part.trim());
  if (name !== 'permessage-deflate') throw new Error(`not a permessage-deflate response: ${response}`);
  const result: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
  for (const param of params) {
    const [key, value] = param.split('=');
    if (key === 'server_no_context_takeover') result.serverNoContextTakeover = true;
    else if (key === 'client_no_context_takeover') result.clientNoContextTakeover = true;
    else if (key === 'server_max_window_bits') result.serverMaxWindowBits = Number(value);
    else if (key === 'client_max_window_bits') result.clientMaxWindowBits = Number(value);
    else throw new Error(`unexpected parameter ${param} in ${response}`);
  }
  return result;
}

/** A message the server echoed, inflated, and whether its first frame had RSV1 set. */
export interface EchoedMessage extends CaseMessage {
  compressed: boolean;
}

/** What a runner observed for one deflate case; `messages` are the echoes, inflated. */
export interface DeflateOutcome extends FrameOutcome {
  /** Per echoed message: RSV1 was set (the server compressed it). */
  compressed: boolean[];
  /** Ways the server's output broke RFC 6455 / RFC 7692 (bad RSV bits, data that does not inflate). */
  problems: string[];
}

const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * Reads what the server sent under the negotiated `response` (null: no
 * compression): data messages (inflated when RSV1 was set on their first
 * frame, with the server's window carried over unless it agreed to
 * server_no_context_takeover), pong payloads and the first close code. Stops
 * at the close frame. RSV bits the server may not set are reported in
 * `problems` (RFC 7692 §6: RSV1 only on the first frame of a data message,
 * and only with the extension; RSV2/RSV3 never).
 */
export function readServerMessages(frames: readonly ServerFrame[], response: string | null): Omit<DeflateOutcome, 'open'> {
  const params = response === null ? null : readDeflateResponse(response);
  const windowBytes = params === null ? 0 : 1 << params.serverMaxWindowBits;
  const messages: CaseMessage[] = [];
  const compressed: boolean[] = [];
  const pongs: Buffer[] = [];
  const problems: string[] = [];
  let closeCode: number | null = null;
  let window = Buffer.alloc(0);
  let parts: Buffer[] = [];
  let isBinary = false;
  let rsv1 = false;
  for (const frame of frames) {
    if (closeCode !== null) break;
    if ((frame.rsv & 0b011) !== 0) problems.push(`frame with opcode ${frame.opcode} has RSV2/RSV3 set`);
    if (frame.opcode >= 0x8) {
      if (frame.rsv !== 0) problems.push(`control frame with opcode ${frame.opcode} has RSV bits set`);
      if (frame.opcode === 0x8) closeCode = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
      else if (frame.opcode === 0xa) pongs.push(frame.payload);
      continue;
    }
    if (frame.opcode !== 0x0) {
      parts = [];
      isBinary = frame.opcode === 0x2;
      rsv1 = (frame.rsv & 0b100) !== 0;
      if (rsv1 && params === null) problems.push('RSV1 set without a negotiated permessage-deflate');
    } else if ((frame.rsv & 0b100) !== 0) {
      problems.push('RSV1 set on a continuation frame');
    }
    parts.push(frame.payload);
    if (!frame.fin) continue;
    let data = Buffer.concat(parts);
    if (rsv1 && params !== null) {
      try {
        data = inflateRawSync(Buffer.concat([data, DEFLATE_TAIL]), {
          windowBits: params.serverMaxWindowBits,
          finishFlush: zlib.Z_SYNC_FLUSH,
          dictionary: params.serverNoContextTakeover || window.length === 0 ? undefined : window,
        });
      } catch (error) {
        problems.push(`message ${messages.length} does not inflate: ${(error as Error).message}`);
        break;
      }
      if (!params.serverNoContextTakeover) window = Buffer.concat([window, data]).subarray(-windowBytes);
    }
    messages.push({ isBinary, data });
    compressed.push(rsv1);
  }
  return { messages, compressed, pongs, closeCode, problems };
}

/**
 * Differences between a deflate case's expectations and an outcome; empty =
 * pass. Besides the frame-level checks of outcomeMismatches, every echo must
 * come back compressed exactly when compression was agreed and it reaches
 * the server's threshold, and the server's output must be well-formed.
 */
export function deflateOutcomeMismatches(testCase: DeflateCase, outcome: DeflateOutcome, options: { echoesMayBeCut?: boolean } = {}): string[] {
  const problems = [...outcome.problems, ...outcomeMismatches(testCase, outcome, options)];
  const threshold = DEFLATE_CONFORMANCE_SERVER.perMessageDeflate.thresholdBytes;
  const expected = (testCase.expect.messages ?? []).map((m) => testCase.response !== null && m.data.length >= threshold);
  for (let i = 0; i < Math.min(expected.length, outcome.compressed.length); i++) {
    if (expected[i] !== outcome.compressed[i]) {
      problems.push(`echo ${i} (${outcome.messages[i]?.data.length} bytes) should be sent ${expected[i] ? 'compressed' : 'uncompressed'}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------
// Building client frames (masked; each frame gets the next of a few keys).

const KEYS = [Buffer.from('5a0f33c1', 'hex'), Buffer.from('01020304', 'hex'), Buffer.from('e3a7104b', 'hex'), Buffer.from('ffffffff', 'hex')];
let keyIndex = 0;

const TEXT = 0x1;
const BINARY = 0x2;
const CONTINUATION = 0x0;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;
/** RSV bits as a 3-bit number. */
const RSV1 = 4;
const RSV2 = 2;
const RSV3 = 1;

/** One masked client frame, built byte by byte so any header can be expressed. */
function frame(opcode: number, payload: Buffer | string, options: { fin?: boolean; rsv?: number } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const key = KEYS[keyIndex++ % KEYS.length]!;
  const b0 = ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode;
  let header: Buffer;
  if (data.length < 126) header = Buffer.of(b0, 0x80 | data.length);
  else if (data.length < 0x10000) header = Buffer.of(b0, 0x80 | 126, data.length >> 8, data.length & 0xff);
  else {
    header = Buffer.alloc(10);
    header[0] = b0;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  const masked = Buffer.from(data);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i % 4]!;
  return Buffer.concat([header, key, masked]);
}

/**
 * A compressed message as fragments: the payload cut at `cuts` (ascending
 * byte positions), RSV1 on the first frame only (RFC 7692 §6).
 */
function fragments(opcode: number, payload: Buffer, cuts: readonly number[], rsv = RSV1): Buffer {
  const bounds = [0, ...cuts, payload.length];
  const frames: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const last = i + 2 === bounds.length;
    frames.push(frame(i === 0 ? opcode : CONTINUATION, payload.subarray(bounds[i], bounds[i + 1]), { fin: last, rsv: i === 0 ? rsv : 0 }));
  }
  return Buffer.concat(frames);
}

/**
 * The client's compressor for one connection, from the agreed parameters:
 * a persistent raw deflate stream, sync-flushed after each message (what
 * browsers and the ws package do) when the client keeps its context, else a
 * fresh deflate per message. Windows below 9 bits compress with 9: zlib has
 * no raw 8-bit deflater, and its largest match distance at 9 (250 bytes)
 * stays inside a 256-byte window.
 */
class ClientCompressor {
  private readonly windowBits: number;
  private readonly stream: DeflateRaw | null;
  private readonly level: number;

  constructor(params: DeflateParams, level = zlib.Z_DEFAULT_COMPRESSION) {
    this.windowBits = Math.max(9, params.clientMaxWindowBits);
    this.level = level;
    this.stream = params.clientNoContextTakeover ? null : createDeflateRaw({ windowBits: this.windowBits, level });
  }

  /** The message's compressed payload (RFC 7692 §7.2.1: the trailing 00 00 ff ff removed). */
  async compress(data: Buffer): Promise<Buffer> {
    let output: Buffer;
    if (this.stream === null) {
      output = deflateRawSync(data, { windowBits: this.windowBits, level: this.level, finishFlush: zlib.Z_SYNC_FLUSH });
    } else {
      const stream = this.stream;
      stream.write(data);
      await new Promise<void>((resolve) => stream.flush(zlib.Z_SYNC_FLUSH, () => resolve()));
      const chunks: Buffer[] = [];
      for (let chunk = stream.read() as Buffer | null; chunk !== null; chunk = stream.read() as Buffer | null) chunks.push(chunk);
      output = Buffer.concat(chunks);
    }
    if (!output.subarray(-4).equals(DEFLATE_TAIL)) throw new Error('a sync flush must end with 00 00 ff ff');
    return output.subarray(0, -4);
  }

  close(): void {
    this.stream?.close();
  }
}

// ---------------------------------------------------------------------------
// Payloads: deterministic, so the table is the same on every run.

const WORDS = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'message', 'room', 'user', 'hello', 'world', 'shoal', 'socket', 'frame'];

/** ASCII text like chat JSON: compressible, and similar from one seed to the next (what context takeover is for). */
function textPayload(length: number, seed: number): Buffer {
  const random = seededRandom(seed);
  let s = '';
  while (s.length < length) {
    s += `{"user":"${WORDS[Math.floor(random() * 4)]}-${seed % 5}","text":"`;
    for (let i = 0; i < 6; i++) s += `${WORDS[Math.floor(random() * WORDS.length)]} `;
    s += `","ts":${1_700_000_000 + Math.floor(random() * 1000)}}\n`;
  }
  return Buffer.from(s.slice(0, length), 'ascii');
}

/** Bytes from a small alphabet with runs: compresses, but less than text. */
function binaryPayload(length: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; ) {
    const value = Math.floor(random() * 64);
    const run = 1 + Math.floor(random() * 6);
    for (let j = 0; j < run && i < length; j++) b[i++] = value;
  }
  return b;
}

/** Uniform random bytes: compression makes them longer. */
function noisePayload(length: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = Math.floor(random() * 256);
  return b;
}

const text = (s: string | Buffer): CaseMessage => ({ isBinary: false, data: typeof s === 'string' ? Buffer.from(s, 'utf8') : s });
const binary = (data: Buffer): CaseMessage => ({ isBinary: true, data });
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const cat = (...buffers: Buffer[]) => Buffer.concat(buffers);
const closePayload = (code: number) => Buffer.of(code >> 8, code & 0xff);

const DEFAULT_OFFER = 'permessage-deflate; client_max_window_bits';
/** The server's answer to DEFAULT_OFFER under DEFLATE_CONFORMANCE_SERVER: context takeover both ways, 15-bit windows. */
const DEFAULT_RESPONSE = 'permessage-deflate';
const KiB = 1024;

// ---------------------------------------------------------------------------
// The cases.

async function buildDeflateCases(): Promise<DeflateCase[]> {
  const cases: DeflateCase[] = [];
  const add = (c: Omit<DeflateCase, 'offer' | 'response'> & Partial<Pick<DeflateCase, 'offer' | 'response'>>): void => {
    cases.push({ offer: DEFAULT_OFFER, response: DEFAULT_RESPONSE, ...c });
  };

  /** A connection's worth of compressed messages under `response`, each sent as one frame (or fragments). */
  async function session(
    response: string,
    messages: readonly CaseMessage[],
    cutsOf: (compressed: Buffer, index: number) => number[] = () => [],
  ): Promise<Buffer> {
    const compressor = new ClientCompressor(readDeflateResponse(response));
    const frames: Buffer[] = [];
    for (const [i, message] of messages.entries()) {
      const payload = await compressor.compress(message.data);
      frames.push(fragments(message.isBinary ? BINARY : TEXT, payload, cutsOf(payload, i)));
    }
    compressor.close();
    return cat(...frames);
  }

  /** One compressed payload under a fresh context (for error cases that send a single message). */
  const compressOnce = (data: Buffer) => deflateRawSync(data, { finishFlush: zlib.Z_SYNC_FLUSH }).subarray(0, -4);

  // 12 Compressed messages of many sizes under the default offer (Autobahn
  // 12.x): several per connection, so context takeover is exercised.
  const SIZES = [16, 64, 256, 1023, 1024, 4 * KiB, 8 * KiB, 16 * KiB, 32 * KiB, 64 * KiB, 128 * KiB];
  const countFor = (size: number) => (size <= 4 * KiB ? 8 : size <= 32 * KiB ? 4 : 2);
  const kinds: [string, string, (length: number, seed: number) => CaseMessage][] = [
    ['1', 'text', (length, seed) => text(textPayload(length, seed))],
    ['2', 'binary', (length, seed) => binary(binaryPayload(length, seed))],
  ];
  for (const [group, kind, make] of kinds) {
    for (const [i, size] of SIZES.entries()) {
      const messages = Array.from({ length: countFor(size) }, (_, n) => make(size, n + 1));
      add({
        id: `12.${group}.${i + 1}`,
        title: `${messages.length} compressed ${kind} messages of ${size} bytes`,
        input: await session(DEFAULT_RESPONSE, messages),
        expect: { messages, open: true },
      });
    }
  }
  for (const [i, size] of [64, 1024, 16 * KiB].entries()) {
    const messages = Array.from({ length: 4 }, (_, n) => binary(noisePayload(size, n + 1)));
    add({
      id: `12.3.${i + 1}`,
      title: `4 compressed messages of ${size} random bytes (compression makes them longer)`,
      input: await session(DEFAULT_RESPONSE, messages),
      expect: { messages, open: true },
    });
  }
  {
    // RFC 7692 §6: an endpoint may send any message uncompressed; an
    // uncompressed message does not enter the compressor's window.
    const messages = Array.from({ length: 6 }, (_, n) => text(textPayload(2 * KiB, n + 1)));
    const compressor = new ClientCompressor(readDeflateResponse(DEFAULT_RESPONSE));
    const frames: Buffer[] = [];
    for (const [n, message] of messages.entries()) {
      frames.push(n % 2 === 1 ? frame(TEXT, message.data) : frame(TEXT, await compressor.compress(message.data), { rsv: RSV1 }));
    }
    compressor.close();
    add({ id: '12.4.1', title: 'compressed and uncompressed messages alternating, context taken over', input: cat(...frames), expect: { messages, open: true } });
  }

  // 13 The same traffic under each parameter set the client may ask for
  // (Autobahn 13.x): context takeover on or off per direction, windows 8..15.
  const CONFIGS: [string, string][] = [
    ['permessage-deflate', 'permessage-deflate'],
    ['permessage-deflate; client_no_context_takeover', 'permessage-deflate; client_no_context_takeover'],
    ['permessage-deflate; server_no_context_takeover', 'permessage-deflate; server_no_context_takeover'],
    ['permessage-deflate; client_max_window_bits=8', 'permessage-deflate; client_max_window_bits=8'],
    ['permessage-deflate; server_max_window_bits=8; client_max_window_bits', 'permessage-deflate; server_max_window_bits=8'],
    ['permessage-deflate; server_max_window_bits=9; client_max_window_bits=9', 'permessage-deflate; server_max_window_bits=9; client_max_window_bits=9'],
    [
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12',
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12',
    ],
    ['permessage-deflate; unknown_param=1, permessage-deflate; server_max_window_bits=10', 'permessage-deflate; server_max_window_bits=10'],
    ['x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=15', 'permessage-deflate'],
  ];
  for (const [c, [offer, response]] of CONFIGS.entries()) {
    for (const [i, size] of [16, 256, 1024, 4 * KiB, 64 * KiB].entries()) {
      const messages = Array.from({ length: size >= 64 * KiB ? 2 : 8 }, (_, n) => text(textPayload(size, n + 1)));
      add({
        id: `13.${c + 1}.${i + 1}`,
        title: `offer "${offer}": ${messages.length} text messages of ${size} bytes`,
        offer,
        response,
        input: await session(response, messages),
        expect: { messages, open: true },
      });
    }
  }

  // f Fragmented compressed messages (RFC 7692 §6: RSV1 on the first frame;
  // the compressed payload is cut anywhere, even inside a DEFLATE code).
  add({
    id: 'f.1',
    title: 'RFC 7692 §7.2.3.1: "Hello" compressed, in two fragments',
    input: cat(frame(TEXT, hex('f2 48 cd'), { fin: false, rsv: RSV1 }), frame(CONTINUATION, hex('c9 c9 07 00'))),
    expect: { messages: [text('Hello')], open: true },
  });
  {
    const messages = [text(textPayload(4 * KiB, 1)), binary(binaryPayload(4 * KiB, 2))];
    add({
      id: 'f.2',
      title: '4 KiB text and binary, each compressed and cut in two fragments',
      input: await session(DEFAULT_RESPONSE, messages, (payload) => [payload.length >> 1]),
      expect: { messages, open: true },
    });
  }
  {
    const messages = [text(textPayload(300, 3))];
    add({
      id: 'f.3',
      title: 'a compressed text message in one-byte fragments',
      input: await session(DEFAULT_RESPONSE, messages, (payload) => Array.from({ length: payload.length - 1 }, (_, i) => i + 1)),
      expect: { messages, open: true },
    });
  }
  {
    const message = text(textPayload(2 * KiB, 4));
    const payload = compressOnce(message.data);
    const half = payload.length >> 1;
    add({
      id: 'f.4',
      title: 'pings between the fragments of a compressed message',
      input: cat(
        frame(TEXT, payload.subarray(0, half), { fin: false, rsv: RSV1 }),
        frame(PING, 'p1'),
        frame(CONTINUATION, payload.subarray(half, half + 3), { fin: false }),
        frame(PING, 'p2'),
        frame(CONTINUATION, payload.subarray(half + 3)),
      ),
      expect: { messages: [message], pongs: [Buffer.from('p1'), Buffer.from('p2')], open: true },
    });
  }
  {
    const message = text(textPayload(1500, 5));
    const payload = compressOnce(message.data);
    add({
      id: 'f.5',
      title: 'an empty first fragment with RSV1, the compressed data in continuations, an empty last one',
      input: cat(
        frame(TEXT, Buffer.alloc(0), { fin: false, rsv: RSV1 }),
        frame(CONTINUATION, payload, { fin: false }),
        frame(CONTINUATION, Buffer.alloc(0)),
      ),
      expect: { messages: [message], open: true },
    });
  }
  {
    const messages = [binary(binaryPayload(64 * KiB, 6)), text(textPayload(64 * KiB, 7))];
    add({
      id: 'f.6',
      title: '64 KiB messages compressed and cut into 16 fragments each',
      input: await session(DEFAULT_RESPONSE, messages, (payload) => Array.from({ length: 15 }, (_, i) => Math.floor(((i + 1) * payload.length) / 16))),
      expect: { messages, open: true },
    });
  }
  {
    // Fragmented and whole, compressed and not, in one connection with context takeover.
    const messages = [text(textPayload(3 * KiB, 8)), text(textPayload(100, 9)), text(textPayload(3 * KiB, 10)), binary(binaryPayload(5 * KiB, 11))];
    const compressor = new ClientCompressor(readDeflateResponse(DEFAULT_RESPONSE));
    const first = await compressor.compress(messages[0]!.data);
    const third = await compressor.compress(messages[2]!.data);
    const fourth = await compressor.compress(messages[3]!.data);
    compressor.close();
    add({
      id: 'f.7',
      title: 'fragmented compressed, uncompressed fragmented, whole compressed, fragmented compressed binary',
      input: cat(
        fragments(TEXT, first, [7, 20]),
        fragments(TEXT, messages[1]!.data, [50], 0),
        frame(TEXT, third, { rsv: RSV1 }),
        fragments(BINARY, fourth, [1, fourth.length - 1]),
      ),
      expect: { messages, open: true },
    });
  }

  // r Reserved bits with permessage-deflate (RFC 7692 §6, RFC 6455 §5.2).
  const hello = hex('f2 48 cd c9 c9 07 00');
  add({
    id: 'r.1',
    title: 'RSV1 on the continuation of a compressed message',
    input: cat(frame(TEXT, hello.subarray(0, 3), { fin: false, rsv: RSV1 }), frame(CONTINUATION, hello.subarray(3), { rsv: RSV1 })),
    expect: { close: { code: 1002 } },
  });
  add({
    id: 'r.2',
    title: 'RSV1 on the continuation of an uncompressed message',
    input: cat(frame(TEXT, 'frag', { fin: false }), frame(CONTINUATION, 'ment', { rsv: RSV1 })),
    expect: { close: { code: 1002 } },
  });
  add({ id: 'r.3', title: 'RSV1 on a ping', input: frame(PING, 'p', { rsv: RSV1 }), expect: { close: { code: 1002 } } });
  add({ id: 'r.4', title: 'RSV1 on a pong', input: frame(PONG, 'p', { rsv: RSV1 }), expect: { close: { code: 1002 } } });
  add({ id: 'r.5', title: 'RSV1 on a close', input: frame(CLOSE, closePayload(1000), { rsv: RSV1 }), expect: { close: { code: 1002 } } });
  add({
    id: 'r.6',
    title: 'a compressed message, then RSV1 on a ping between the fragments of the next',
    input: cat(frame(TEXT, hello, { rsv: RSV1 }), frame(TEXT, hello.subarray(0, 3), { fin: false, rsv: RSV1 }), frame(PING, 'p', { rsv: RSV1 })),
    expect: { messages: [text('Hello')], close: { code: 1002 } },
  });
  add({ id: 'r.7', title: 'RSV2 on a compressed text message', input: frame(TEXT, hello, { rsv: RSV1 | RSV2 }), expect: { close: { code: 1002 } } });
  add({ id: 'r.8', title: 'RSV3 on a compressed text message', input: frame(TEXT, hello, { rsv: RSV1 | RSV3 }), expect: { close: { code: 1002 } } });
  add({
    id: 'r.9',
    title: 'RSV1 when the client offered no extension',
    offer: null,
    response: null,
    input: cat(frame(TEXT, 'plain'), frame(TEXT, hello, { rsv: RSV1 })),
    expect: { messages: [text('plain')], close: { code: 1002 } },
  });
  add({
    id: 'r.10',
    title: 'RSV1 when the server declined the offer (server_max_window_bits=16)',
    offer: 'permessage-deflate; server_max_window_bits=16',
    response: null,
    input: frame(TEXT, hello, { rsv: RSV1 }),
    expect: { close: { code: 1002 } },
  });
  {
    const message = text(textPayload(2 * KiB, 12));
    add({
      id: 'r.11',
      title: 'without the extension, long messages are echoed uncompressed',
      offer: 'permessage-deflate; client_no_context_takeover=1',
      response: null,
      input: frame(TEXT, message.data),
      expect: { messages: [message], open: true },
    });
  }

  // u UTF-8 in compressed text: checked after inflating (RFC 6455 §8.1, 1007).
  add({ id: 'u.1', title: 'compressed text: overlong "/" (c0 af)', input: frame(TEXT, compressOnce(hex('c0af')), { rsv: RSV1 }), expect: { close: { code: 1007 } } });
  add({
    id: 'u.2',
    title: 'compressed text: a surrogate inside valid text',
    input: frame(TEXT, compressOnce(cat(Buffer.from('κόσμε'.repeat(20)), hex('eda080'), Buffer.from('edited'))), { rsv: RSV1 }),
    expect: { close: { code: 1007 } },
  });
  add({
    id: 'u.3',
    title: 'compressed text ending inside a code point',
    input: frame(TEXT, compressOnce(cat(Buffer.from('κόσμε'.repeat(50)), hex('e282'))), { rsv: RSV1 }),
    expect: { close: { code: 1007 } },
  });
  add({
    id: 'u.4',
    title: 'a valid compressed text message, then invalid compressed text in fragments',
    input: cat(frame(TEXT, hello, { rsv: RSV1 }), fragments(TEXT, compressOnce(cat(Buffer.from('valid so far '.repeat(30)), hex('ff'))), [5, 9])),
    expect: { messages: [text('Hello')], close: { code: 1007 } },
  });
  {
    const message = text('κόσμε 🙂 ünïcödé '.repeat(60));
    add({
      id: 'u.5',
      title: 'multi-byte text, compressed, fragmented at every third byte of the compressed data',
      input: await session(DEFAULT_RESPONSE, [message], (payload) => Array.from({ length: Math.floor((payload.length - 1) / 3) }, (_, i) => 3 * (i + 1))),
      expect: { messages: [message], open: true },
    });
  }
  {
    const data = hex('ff fe c0 af eda080 00 80');
    add({ id: 'u.6', title: 'compressed binary is not UTF-8 checked', input: frame(BINARY, compressOnce(data), { rsv: RSV1 }), expect: { messages: [binary(data)], open: true } });
  }
  add({
    id: 'u.7',
    title: 'a stored DEFLATE block (no compression) with invalid UTF-8',
    input: frame(TEXT, hex('00 02 00 fd ff c0 af 00'), { rsv: RSV1 }),
    expect: { close: { code: 1007 } },
  });

  // l Limits after inflating (RFC 6455 §10.4; 1009).
  const LIMIT = 64 * KiB;
  {
    const exact = text(textPayload(LIMIT, 13));
    add({ id: 'l.1', title: 'inflates to exactly maxMessageBytes', input: frame(TEXT, compressOnce(exact.data), { rsv: RSV1 }), expect: { messages: [exact], open: true }, maxMessageBytes: LIMIT });
  }
  add({
    id: 'l.2',
    title: 'inflates to one byte over maxMessageBytes',
    input: frame(TEXT, compressOnce(textPayload(LIMIT + 1, 14)), { rsv: RSV1 }),
    expect: { close: { code: 1009 } },
    maxMessageBytes: LIMIT,
  });
  {
    const bomb = compressOnce(Buffer.alloc(16 * 1024 * KiB));
    add({
      id: 'l.3',
      title: `a zip bomb: ${bomb.length} bytes that inflate to 16 MiB of zeros`,
      input: cat(frame(TEXT, hello, { rsv: RSV1 }), frame(BINARY, bomb, { rsv: RSV1 })),
      expect: { messages: [text('Hello')], close: { code: 1009 } },
      maxMessageBytes: LIMIT,
    });
  }
  add({
    id: 'l.4',
    title: 'compressed bytes on the wire over maxMessageBytes',
    input: frame(BINARY, noisePayload(LIMIT + 1, 15), { rsv: RSV1 }),
    expect: { close: { code: 1009 } },
    maxMessageBytes: LIMIT,
  });
  {
    const payload = compressOnce(textPayload(2 * LIMIT, 16));
    add({
      id: 'l.5',
      title: 'a fragmented compressed message that inflates past maxMessageBytes',
      input: fragments(TEXT, payload, [10, payload.length >> 1]),
      expect: { close: { code: 1009 } },
      maxMessageBytes: LIMIT,
    });
  }

  // c Compressed data that is not valid DEFLATE (RFC 1951): 1007.
  add({ id: 'c.1', title: 'reserved block type (BTYPE 11)', input: frame(TEXT, hex('07'), { rsv: RSV1 }), expect: { close: { code: 1007 } } });
  add({ id: 'c.2', title: 'stored block whose LEN and NLEN disagree', input: frame(BINARY, hex('00 05 00 00 00 48 65 6c 6c 6f'), { rsv: RSV1 }), expect: { close: { code: 1007 } } });
  add({
    id: 'c.3',
    title: 'a back-reference before the start of the first message (§7.2.3.2 bytes alone)',
    input: frame(TEXT, hex('f2 00 11 00 00'), { rsv: RSV1 }),
    expect: { close: { code: 1007 } },
  });
  add({
    id: 'c.4',
    title: 'a back-reference into the previous message after client_no_context_takeover was agreed',
    offer: 'permessage-deflate; client_no_context_takeover',
    response: 'permessage-deflate; client_no_context_takeover',
    input: cat(frame(TEXT, hello, { rsv: RSV1 }), frame(TEXT, hex('f2 00 11 00 00'), { rsv: RSV1 })),
    expect: { messages: [text('Hello')], close: { code: 1007 } },
  });
  add({
    id: 'c.5',
    title: 'a good message, then garbage with RSV1, then a message that is never read',
    input: cat(frame(BINARY, compressOnce(binaryPayload(2 * KiB, 17)), { rsv: RSV1 }), frame(TEXT, hex('ff ff ff ff ff ff'), { rsv: RSV1 }), frame(TEXT, hello, { rsv: RSV1 })),
    expect: { messages: [binary(binaryPayload(2 * KiB, 17))], close: { code: 1007 } },
  });

  // t Context takeover and the RFC 7692 §7.2.3 examples.
  add({
    id: 't.1',
    title: 'RFC 7692 §7.2.3.2: a second "Hello" that refers back into the first',
    input: cat(frame(TEXT, hello, { rsv: RSV1 }), frame(TEXT, hex('f2 00 11 00 00'), { rsv: RSV1 })),
    expect: { messages: [text('Hello'), text('Hello')], open: true },
  });
  add({
    id: 't.2',
    title: 'RFC 7692 §7.2.3.3-§7.2.3.5: stored block, BFINAL set, two DEFLATE blocks',
    input: cat(
      frame(TEXT, hex('00 05 00 fa ff 48 65 6c 6c 6f 00'), { rsv: RSV1 }),
      frame(TEXT, hex('f3 48 cd c9 c9 07 00 00'), { rsv: RSV1 }),
      frame(TEXT, hex('f2 48 05 00 00 00 ff ff ca c9 c9 07 00'), { rsv: RSV1 }),
    ),
    expect: { messages: [text('Hello'), text('Hello'), text('Hello')], open: true },
  });
  add({
    id: 't.3',
    title: 'empty compressed messages: no bytes, 00, and an empty final block (02 00)',
    input: cat(frame(TEXT, Buffer.alloc(0), { rsv: RSV1 }), frame(BINARY, hex('00'), { rsv: RSV1 }), frame(TEXT, hex('02 00'), { rsv: RSV1 })),
    expect: { messages: [text(''), binary(Buffer.alloc(0)), text('')], open: true },
  });
  {
    // The same 1 KiB message 20 times: every message after the first is a
    // handful of back-references into the window (checked by the test file).
    const message = text(textPayload(KiB, 18));
    const messages = Array.from({ length: 20 }, () => message);
    add({ id: 't.4', title: 'the same 1 KiB text 20 times with context takeover', input: await session(DEFAULT_RESPONSE, messages), expect: { messages, open: true } });
  }
  {
    // Messages that refer back more than 8 KiB, across a 32 KiB window.
    const parts = Array.from({ length: 6 }, (_, n) => textPayload(6 * KiB, 100 + (n % 3)));
    const messages = parts.map((p) => text(p));
    add({ id: 't.5', title: 'back-references across several earlier messages (32 KiB window)', input: await session(DEFAULT_RESPONSE, messages), expect: { messages, open: true } });
  }
  return cases;
}

/** The deflate conformance table. */
export const DEFLATE_CASES: readonly DeflateCase[] = await buildDeflateCases();
