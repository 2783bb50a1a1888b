/**
 * The frame-layer conformance table, by the areas of the Autobahn fuzzing
 * groups: 1 framing, 2 ping/pong, 3 reserved bits, 4 opcodes, 5
 * fragmentation, 6 UTF-8, 7 close, 9 limits, and masking (m). Ids follow
 * Autobahn's numbering where a case has a counterpart there.
 *
 * The table knows nothing about Shoal: each case is the bytes a client sends
 * after the opening handshake (masked frames, sent in one write) and what the
 * server must do. The same cases run in memory against ServerConnection
 * (frame-conformance.test.ts) and over loopback against the live server,
 * configured as FRAME_CONFORMANCE_SERVER says, with an echo app.
 *
 * Runners collect a FrameOutcome and report outcomeMismatches(); an empty
 * list is a pass. parseServerFrames() reads what a server sent, without any
 * of Shoal's code.
 */

/** A message as the application receives it (and an echo app sends it back). */
export interface CaseMessage {
  isBinary: boolean;
  data: Buffer;
}

/** One input and the server behaviour it must cause. */
export interface FrameCase {
  /** Stable id, "<group>.<n>[.<m>...]", e.g. "5.9" or "6.2.3". */
  id: string;
  title: string;
  /** Client-to-server bytes after the handshake: masked frames (or deliberately broken ones). */
  input: Buffer;
  expect: {
    /** Messages delivered to the application, in order (default: none). */
    messages?: CaseMessage[];
    /** Payloads of the pongs the server sends, in order (default: none). */
    pongs?: Buffer[];
    /** The server closes: the status code of the close frame it sends. */
    close?: { code: number };
    /** The server must not close: the connection is still open after the input. */
    open?: boolean;
  };
  /** The server's message size limit for this case (default FRAME_CONFORMANCE_SERVER.maxMessageBytes). */
  maxMessageBytes?: number;
}

/** How the server under test must be configured for this table. */
export const FRAME_CONFORMANCE_SERVER = {
  /** Shoal's default limit (1 MiB); cases that need another say so in `maxMessageBytes`. */
  maxMessageBytes: 1024 * 1024,
  /** The app echoes every message back unchanged (`--app echo`). */
  app: 'echo',
} as const;

/** What a runner observed for one case. */
export interface FrameOutcome {
  /** Messages the application got (in memory), or the echoes that came back (live). */
  messages: CaseMessage[];
  pongs: Buffer[];
  /** Status code of the close frame the server sent (1005 for an empty one), or null if it sent none. */
  closeCode: number | null;
  /** The connection is still open at the end (live: and still answers a ping). */
  open: boolean;
}

/**
 * Differences between a case's expectations and an outcome; empty = pass.
 * `echoesMayBeCut`: live runners see messages as echoes, and an echo can lose
 * the race with a close the server sends for later input; then the echoes
 * must be a prefix of the expected messages.
 */
export function outcomeMismatches(testCase: FrameCase, outcome: FrameOutcome, options: { echoesMayBeCut?: boolean } = {}): string[] {
  const problems: string[] = [];
  const expected = testCase.expect.messages ?? [];
  const cut = options.echoesMayBeCut === true && testCase.expect.close !== undefined;
  const messageCountOk = cut ? outcome.messages.length <= expected.length : outcome.messages.length === expected.length;
  if (!messageCountOk) problems.push(`expected ${expected.length} message(s), got ${outcome.messages.length}`);
  for (let i = 0; i < Math.min(expected.length, outcome.messages.length); i++) {
    const want = expected[i]!;
    const got = outcome.messages[i]!;
    if (want.isBinary !== got.isBinary || !want.data.equals(got.data)) {
      problems.push(`message ${i}: expected ${describeMessage(want)}, got ${describeMessage(got)}`);
    }
  }
  const pongs = testCase.expect.pongs ?? [];
  if (pongs.length !== outcome.pongs.length || pongs.some((p, i) => !p.equals(outcome.pongs[i]!))) {
    problems.push(`expected pongs [${pongs.map(hexOf).join(', ')}], got [${outcome.pongs.map(hexOf).join(', ')}]`);
  }
  if (testCase.expect.close !== undefined) {
    if (outcome.closeCode !== testCase.expect.close.code) {
      problems.push(`expected close ${testCase.expect.close.code}, got ${outcome.closeCode ?? 'no close frame'}`);
    }
    if (outcome.open) problems.push('expected the server to close, the connection is still open');
  }
  if (testCase.expect.open === true) {
    if (outcome.closeCode !== null) problems.push(`expected the connection to stay open, the server sent close ${outcome.closeCode}`);
    if (!outcome.open) problems.push('expected the connection to stay open, it is closed');
  }
  return problems;
}

function hexOf(bytes: Buffer): string {
  return bytes.length > 16 ? `${bytes.subarray(0, 16).toString('hex')}... (${bytes.length} bytes)` : bytes.toString('hex');
}

function describeMessage(message: CaseMessage): string {
  return `${message.isBinary ? 'binary' : 'text'} ${hexOf(message.data)}`;
}

/** A frame as a server sent it. */
export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/**
 * Splits server-to-client bytes into frames (an independent minimal parser,
 * so the live runner does not judge Shoal with Shoal's own decoder).
 * `rest` holds the bytes of an incomplete last frame.
 */
export function parseServerFrames(bytes: Buffer): { frames: ServerFrame[]; rest: Buffer } {
  const frames: ServerFrame[] = [];
  let pos = 0;
  while (bytes.length - pos >= 2) {
    const b0 = bytes[pos]!;
    const b1 = bytes[pos + 1]!;
    let length = b1 & 0x7f;
    let header = 2;
    if (length === 126) {
      if (bytes.length - pos < 4) break;
      length = bytes.readUInt16BE(pos + 2);
      header = 4;
    } else if (length === 127) {
      if (bytes.length - pos < 10) break;
      length = Number(bytes.readBigUInt64BE(pos + 2));
      header = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    const keyAt = pos + header;
    if (masked) header += 4;
    if (bytes.length - pos < header + length) break;
    const payload = Buffer.from(bytes.subarray(pos + header, pos + header + length));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= bytes[keyAt + (i % 4)]!;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 0x7, opcode: b0 & 0x0f, masked, payload });
    pos += header + length;
  }
  return { frames, rest: bytes.subarray(pos) };
}

/** Messages (reassembled), pong payloads and the first close code in a list of server frames. */
export function summarizeServerFrames(frames: readonly ServerFrame[]): Omit<FrameOutcome, 'open'> {
  const messages: CaseMessage[] = [];
  const pongs: Buffer[] = [];
  let closeCode: number | null = null;
  let parts: Buffer[] = [];
  let isBinary = false;
  for (const frame of frames) {
    if (closeCode !== null) break;
    if (frame.opcode === 0x8) closeCode = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
    else if (frame.opcode === 0xa) pongs.push(frame.payload);
    else if (frame.opcode === 0x1 || frame.opcode === 0x2 || frame.opcode === 0x0) {
      if (frame.opcode !== 0x0) {
        parts = [];
        isBinary = frame.opcode === 0x2;
      }
      parts.push(frame.payload);
      if (frame.fin) messages.push({ isBinary, data: Buffer.concat(parts) });
    }
  }
  return { messages, pongs, closeCode };
}

// ---------------------------------------------------------------------------
// Building client frames. Each frame gets the next of a few masking keys, so
// the table exercises different keys without being random.

const KEYS = [Buffer.from('37fa213d', 'hex'), Buffer.from('01020304', 'hex'), Buffer.from('a5c3e10f', 'hex'), Buffer.from('ffffffff', 'hex')];
let keyIndex = 0;

interface FrameOptions {
  fin?: boolean;
  /** RSV bits as a 3-bit number: 4 = RSV1, 2 = RSV2, 1 = RSV3. */
  rsv?: number;
  /** Masking key; null sends the frame unmasked. */
  key?: Buffer | null;
}

/** One client frame (masked unless `key: null`), built byte by byte so any header can be expressed. */
function frame(opcode: number, payload: Buffer | string, options: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const key = options.key === undefined ? KEYS[keyIndex++ % KEYS.length]! : options.key;
  const fin = options.fin ?? true;
  const b0 = (fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode;
  const maskBit = key === null ? 0 : 0x80;
  let header: Buffer;
  if (data.length < 126) header = Buffer.of(b0, maskBit | data.length);
  else if (data.length < 0x10000) header = Buffer.of(b0, maskBit | 126, data.length >> 8, data.length & 0xff);
  else {
    header = Buffer.alloc(10);
    header[0] = b0;
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  if (key === null) return Buffer.concat([header, data]);
  const masked = Buffer.from(data);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i % 4]!;
  return Buffer.concat([header, key, masked]);
}

const TEXT = 0x1;
const BINARY = 0x2;
const CONTINUATION = 0x0;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;

const text = (s: string | Buffer): CaseMessage => ({ isBinary: false, data: typeof s === 'string' ? Buffer.from(s, 'utf8') : s });
const binary = (data: Buffer): CaseMessage => ({ isBinary: true, data });
const closePayload = (code: number, reason = '') => Buffer.concat([Buffer.of(code >> 8, code & 0xff), Buffer.from(reason, 'utf8')]);
const cat = (...frames: Buffer[]) => Buffer.concat(frames);
/** Deterministic payload bytes. */
const bytes = (length: number, seed = 1) => {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 7 + seed * 13) & 0xff;
  return b;
};
const asciiText = (length: number) => 'abcdefghijklmnopqrstuvwxyz*'.repeat(Math.ceil(length / 27)).slice(0, length);
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const cases: FrameCase[] = [];
function add(id: string, title: string, input: Buffer, expect: FrameCase['expect'], maxMessageBytes?: number): void {
  cases.push(maxMessageBytes === undefined ? { id, title, input, expect } : { id, title, input, expect, maxMessageBytes });
}

// ---------------------------------------------------------------------------
// 1 Framing: text and binary messages at the length-encoding boundaries (§5.2).

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];
LENGTHS.forEach((length, i) => {
  add(`1.1.${i + 1}`, `text message of ${length} bytes`, frame(TEXT, asciiText(length)), { messages: [text(asciiText(length))], open: true });
});
LENGTHS.forEach((length, i) => {
  add(`1.2.${i + 1}`, `binary message of ${length} bytes`, frame(BINARY, bytes(length)), { messages: [binary(bytes(length))], open: true });
});
add('1.3.1', 'several messages in one write', cat(frame(TEXT, 'one'), frame(BINARY, bytes(3)), frame(TEXT, 'three')), {
  messages: [text('one'), binary(bytes(3)), text('three')],
  open: true,
});
add('1.3.2', 'a length encoded in more bytes than needed (16-bit length 5) is accepted', cat(hex('82fe0005 00000000'), bytes(5)), {
  messages: [binary(bytes(5))],
  open: true,
});
add('1.3.3', '64-bit length with the most significant bit set', cat(hex('82ff 8000000000000005 00000000'), bytes(5)), { close: { code: 1002 } });

// ---------------------------------------------------------------------------
// 2 Pings and pongs (§5.5.2, §5.5.3).

add('2.1', 'ping without payload', frame(PING, ''), { pongs: [Buffer.alloc(0)], open: true });
add('2.2', 'ping with a text payload', frame(PING, 'Hello, world!'), { pongs: [Buffer.from('Hello, world!')], open: true });
add('2.3', 'ping with a binary payload', frame(PING, hex('00ff fe fd fc fb 00 ff')), { pongs: [hex('00ff fe fd fc fb 00 ff')], open: true });
add('2.4', 'ping with 125 bytes of payload', frame(PING, bytes(125)), { pongs: [bytes(125)], open: true });
add('2.5', 'ping with 126 bytes of payload', frame(PING, bytes(126)), { close: { code: 1002 } });
add('2.6', 'unsolicited pong without payload', frame(PONG, ''), { open: true });
add('2.7', 'unsolicited pong with payload', frame(PONG, 'unsolicited'), { open: true });
add('2.8', 'unsolicited pong, then ping', cat(frame(PONG, 'unsolicited'), frame(PING, 'ping')), { pongs: [Buffer.from('ping')], open: true });
add(
  '2.9',
  'ten pings in one write',
  cat(...Array.from({ length: 10 }, (_, i) => frame(PING, `payload-${i}`))),
  { pongs: Array.from({ length: 10 }, (_, i) => Buffer.from(`payload-${i}`)), open: true },
);
add('2.10', 'ping with a payload of 126 bytes in a 16-bit length', cat(hex('89fe007e'), Buffer.alloc(4), bytes(126)), { close: { code: 1002 } });

// ---------------------------------------------------------------------------
// 3 Reserved bits without a negotiated extension (§5.2).

add('3.1', 'text with RSV1', frame(TEXT, 'Hello', { rsv: 4 }), { close: { code: 1002 } });
add('3.2', 'text, then text with RSV2, then ping', cat(frame(TEXT, 'Hello'), frame(TEXT, 'Hello', { rsv: 2 }), frame(PING, 'p')), {
  messages: [text('Hello')],
  close: { code: 1002 },
});
add('3.3', 'text, then text with RSV1+RSV2, then ping', cat(frame(TEXT, 'Hello'), frame(TEXT, 'Hello', { rsv: 6 }), frame(PING, 'p')), {
  messages: [text('Hello')],
  close: { code: 1002 },
});
add('3.4', 'text, then text with RSV3, then ping', cat(frame(TEXT, 'Hello'), frame(TEXT, 'Hello', { rsv: 1 }), frame(PING, 'p')), {
  messages: [text('Hello')],
  close: { code: 1002 },
});
add('3.5', 'binary with RSV1+RSV3', frame(BINARY, bytes(8), { rsv: 5 }), { close: { code: 1002 } });
add('3.6', 'ping with RSV2+RSV3', frame(PING, 'p', { rsv: 3 }), { close: { code: 1002 } });
add('3.7', 'close with all RSV bits', frame(CLOSE, closePayload(1000), { rsv: 7 }), { close: { code: 1002 } });
add('3.8', 'continuation with RSV1', cat(frame(TEXT, 'frag', { fin: false }), frame(CONTINUATION, 'ment', { rsv: 4 })), { close: { code: 1002 } });

// ---------------------------------------------------------------------------
// 4 Reserved opcodes (§5.2).

[3, 4, 5, 6, 7].forEach((opcode, i) => {
  add(`4.1.${i + 1}`, `text, then reserved non-control opcode ${opcode}, then ping`, cat(frame(TEXT, 'Hello'), frame(opcode, 'x'), frame(PING, 'p')), {
    messages: [text('Hello')],
    close: { code: 1002 },
  });
});
[0xb, 0xc, 0xd, 0xe, 0xf].forEach((opcode, i) => {
  add(`4.2.${i + 1}`, `text, then reserved control opcode 0x${opcode.toString(16)}, then ping`, cat(frame(TEXT, 'Hello'), frame(opcode, ''), frame(PING, 'p')), {
    messages: [text('Hello')],
    close: { code: 1002 },
  });
});

// ---------------------------------------------------------------------------
// 5 Fragmentation (§5.4) and control frames between fragments (§5.5).

add('5.1', 'ping in two fragments', cat(frame(PING, 'frag', { fin: false }), frame(CONTINUATION, 'ment')), { close: { code: 1002 } });
add('5.2', 'pong in two fragments', cat(frame(PONG, 'frag', { fin: false }), frame(CONTINUATION, 'ment')), { close: { code: 1002 } });
add('5.3', 'text in two fragments', cat(frame(TEXT, 'frag', { fin: false }), frame(CONTINUATION, 'ment')), { messages: [text('fragment')], open: true });
add('5.4', 'binary in three fragments', cat(frame(BINARY, bytes(10, 1), { fin: false }), frame(CONTINUATION, bytes(10, 2), { fin: false }), frame(CONTINUATION, bytes(10, 3))), {
  messages: [binary(cat(bytes(10, 1), bytes(10, 2), bytes(10, 3)))],
  open: true,
});
add('5.6', 'text in two fragments with a ping between', cat(frame(TEXT, 'frag', { fin: false }), frame(PING, 'between'), frame(CONTINUATION, 'ment')), {
  messages: [text('fragment')],
  pongs: [Buffer.from('between')],
  open: true,
});
add('5.7', 'text in two fragments with a pong between', cat(frame(TEXT, 'frag', { fin: false }), frame(PONG, 'between'), frame(CONTINUATION, 'ment')), {
  messages: [text('fragment')],
  open: true,
});
add('5.9', 'continuation (FIN set) with nothing to continue, then text', cat(frame(CONTINUATION, 'orphan'), frame(TEXT, 'Hello')), { close: { code: 1002 } });
add('5.10', 'continuation (FIN clear) with nothing to continue, then text', cat(frame(CONTINUATION, 'orphan', { fin: false }), frame(TEXT, 'Hello')), {
  close: { code: 1002 },
});
add(
  '5.15',
  'text in two fragments, then a continuation with nothing to continue',
  cat(frame(TEXT, 'frag', { fin: false }), frame(CONTINUATION, 'ment'), frame(CONTINUATION, 'orphan', { fin: false }), frame(TEXT, 'Hello')),
  { messages: [text('fragment')], close: { code: 1002 } },
);
add('5.18', 'text in two fragments, both with opcode text', cat(frame(TEXT, 'frag', { fin: false }), frame(TEXT, 'ment')), { close: { code: 1002 } });
add('5.19', 'binary inside a fragmented text message', cat(frame(TEXT, 'frag', { fin: false }), frame(BINARY, bytes(4))), { close: { code: 1002 } });
add(
  '5.20',
  'text in five fragments with pings between',
  cat(
    frame(TEXT, 'f1', { fin: false }),
    frame(PING, 'p1'),
    frame(CONTINUATION, 'f2', { fin: false }),
    frame(CONTINUATION, 'f3', { fin: false }),
    frame(PING, 'p2'),
    frame(CONTINUATION, 'f4', { fin: false }),
    frame(PING, 'p3'),
    frame(CONTINUATION, 'f5'),
  ),
  { messages: [text('f1f2f3f4f5')], pongs: [Buffer.from('p1'), Buffer.from('p2'), Buffer.from('p3')], open: true },
);
add('5.21', 'text from empty fragments only', cat(frame(TEXT, '', { fin: false }), frame(CONTINUATION, '', { fin: false }), frame(CONTINUATION, '')), {
  messages: [text('')],
  open: true,
});
add(
  '5.22',
  'binary of 100 one-byte fragments',
  cat(frame(BINARY, bytes(1, 0), { fin: false }), ...Array.from({ length: 99 }, (_, i) => frame(CONTINUATION, bytes(1, i + 1), { fin: i === 98 }))),
  { messages: [binary(cat(...Array.from({ length: 100 }, (_, i) => bytes(1, i))))], open: true },
);
add('5.23', 'close between fragments ends the connection without the message', cat(frame(TEXT, 'frag', { fin: false }), frame(CLOSE, closePayload(1000)), frame(CONTINUATION, 'ment')), {
  close: { code: 1000 },
});

// ---------------------------------------------------------------------------
// 6 UTF-8 in text messages (§5.6, §8.1): valid and invalid sequences (after
// Markus Kuhn's UTF-8 decoder stress test), as one frame and fragmented at
// every byte position.

const VALID_UTF8: [string, Buffer][] = [
  ['"Hello-µ@ßöäüàá-UTF-8!!"', Buffer.from('Hello-µ@ßöäüàá-UTF-8!!')],
  ['"κόσμε"', Buffer.from('κόσμε')],
  ['U+0000', hex('00')],
  ['U+0080 (first 2-byte)', hex('c280')],
  ['U+0800 (first 3-byte)', hex('e0a080')],
  ['U+10000 (first 4-byte)', hex('f0908080')],
  ['U+007F (last 1-byte)', hex('7f')],
  ['U+07FF (last 2-byte)', hex('dfbf')],
  ['U+FFFF (last 3-byte, a noncharacter)', hex('efbfbf')],
  ['U+D7FF (before the surrogates)', hex('ed9fbf')],
  ['U+E000 (after the surrogates)', hex('ee8080')],
  ['U+FFFD', hex('efbfbd')],
  ['U+10FFFF (last code point)', hex('f48fbfbf')],
  ['U+FDD0 and U+FFFE (noncharacters are valid UTF-8)', hex('efb790 efbfbe')],
  ['emoji U+1F600', hex('f09f9880')],
];
const INVALID_UTF8: [string, Buffer][] = [
  ['"κόσμε" + U+D800 (surrogate) + "edited"', cat(Buffer.from('κόσμε'), hex('eda080'), Buffer.from('edited'))],
  ['U+110000 (beyond Unicode)', hex('f4908080')],
  ['5-byte sequence', hex('f888808080')],
  ['6-byte sequence', hex('fc8480808080')],
  ['first continuation byte 0x80', hex('80')],
  ['last continuation byte 0xBF', hex('bf')],
  ['two continuation bytes', hex('80bf')],
  ['lonely start 0xC0 followed by space', hex('c020')],
  ['lonely start 0xE0 followed by space', hex('e020')],
  ['2-byte sequence missing its last byte', hex('c2')],
  ['3-byte sequence missing its last byte', hex('e080')],
  ['4-byte sequence missing its last byte', hex('f09f98')],
  ['3-byte sequence missing its last byte, then ASCII', hex('e282 41')],
  ['impossible byte 0xFE', hex('fe')],
  ['impossible byte 0xFF', hex('ff')],
  ['overlong "/" in 2 bytes', hex('c0af')],
  ['overlong "/" in 3 bytes', hex('e080af')],
  ['overlong "/" in 4 bytes', hex('f08080af')],
  ['overlong U+07FF in 3 bytes', hex('e09fbf')],
  ['overlong U+FFFF in 4 bytes', hex('f08fbfbf')],
  ['overlong NUL in 2 bytes', hex('c080')],
  ['single surrogate U+DBFF', hex('edafbf')],
  ['single surrogate U+DC00', hex('edb080')],
  ['single surrogate U+DFFF', hex('edbfbf')],
  ['paired surrogates U+D800 U+DC00', hex('eda080 edb080')],
  ['valid text then 0xF5', cat(Buffer.from('valid text before the bad byte'), hex('f5'))],
];

/** The text as one frame, then fragmented into two frames at every byte position. */
function utf8Cases(group: string, name: string, utf8: Buffer, valid: boolean): void {
  const expect = (): FrameCase['expect'] => (valid ? { messages: [text(utf8)], open: true } : { close: { code: 1007 } });
  add(`${group}.1`, `${name} as one frame`, frame(TEXT, utf8), expect());
  for (let split = 1; split < utf8.length; split++) {
    add(
      `${group}.${split + 1}`,
      `${name} in two fragments split at byte ${split}`,
      cat(frame(TEXT, utf8.subarray(0, split), { fin: false }), frame(CONTINUATION, utf8.subarray(split))),
      expect(),
    );
  }
  if (utf8.length > 2) {
    add(
      `${group}.${utf8.length + 1}`,
      `${name} in one-byte fragments`,
      cat(...Array.from(utf8, (byte, i) => frame(i === 0 ? TEXT : CONTINUATION, Buffer.of(byte), { fin: i === utf8.length - 1 }))),
      expect(),
    );
  }
}
VALID_UTF8.forEach(([name, utf8], i) => utf8Cases(`6.1.${i + 1}`, `valid UTF-8 ${name}`, utf8, true));
INVALID_UTF8.forEach(([name, utf8], i) => utf8Cases(`6.2.${i + 1}`, `invalid UTF-8: ${name}`, utf8, false));
add('6.3.1', 'fail fast: invalid text in the first fragment, the message never finishes', frame(TEXT, cat(Buffer.from('κόσμε'), hex('eda080'), Buffer.from('edited')), { fin: false }), {
  close: { code: 1007 },
});
add(
  '6.3.2',
  'fail fast: invalid text in the second of many fragments, the message never finishes',
  cat(frame(TEXT, 'κόσμε', { fin: false }), frame(CONTINUATION, hex('eda080'), { fin: false }), frame(CONTINUATION, 'more', { fin: false })),
  { close: { code: 1007 } },
);
add('6.3.3', 'binary messages are not UTF-8 checked', frame(BINARY, hex('ff fe c0 af eda080')), { messages: [binary(hex('ff fe c0 af eda080'))], open: true });

// ---------------------------------------------------------------------------
// 7 Closing (§5.5.1, §7.1-§7.4).

add('7.1.1', 'text, then close 1000', cat(frame(TEXT, 'Hello'), frame(CLOSE, closePayload(1000))), { messages: [text('Hello')], close: { code: 1000 } });
add('7.1.2', 'close twice', cat(frame(CLOSE, closePayload(1000)), frame(CLOSE, closePayload(1000))), { close: { code: 1000 } });
add('7.1.3', 'close, then ping: no pong', cat(frame(CLOSE, closePayload(1000)), frame(PING, 'p')), { close: { code: 1000 } });
add('7.1.4', 'close, then text: not delivered', cat(frame(CLOSE, closePayload(1000)), frame(TEXT, 'late')), { close: { code: 1000 } });
add('7.1.5', 'close, then garbage: ignored', cat(frame(CLOSE, closePayload(1000)), hex('ffffffff')), { close: { code: 1000 } });
add('7.3.1', 'close with an empty payload: answered with 1000', frame(CLOSE, ''), { close: { code: 1000 } });
add('7.3.2', 'close with a 1-byte payload', frame(CLOSE, hex('03')), { close: { code: 1002 } });
add('7.3.3', 'close with code 1000 and no reason', frame(CLOSE, closePayload(1000)), { close: { code: 1000 } });
add('7.3.4', 'close with code and reason', frame(CLOSE, closePayload(1000, 'Hello World!')), { close: { code: 1000 } });
add('7.3.5', 'close with a 123-byte reason (125 bytes of payload)', frame(CLOSE, closePayload(1000, asciiText(123))), { close: { code: 1000 } });
add('7.3.6', 'close with a 124-byte reason (126 bytes of payload)', frame(CLOSE, closePayload(1000, asciiText(124))), { close: { code: 1002 } });
add('7.5.1', 'close with an invalid UTF-8 reason', frame(CLOSE, cat(closePayload(1000), Buffer.from('κόσμε'), hex('eda080'), Buffer.from('edited'))), {
  close: { code: 1007 },
});
[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999].forEach((code, i) => {
  add(`7.7.${i + 1}`, `close with valid code ${code}: echoed`, frame(CLOSE, closePayload(code)), { close: { code } });
});
[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535].forEach((code, i) => {
  add(`7.9.${i + 1}`, `close with invalid code ${code}`, frame(CLOSE, closePayload(code)), { close: { code: 1002 } });
});
add('7.10.1', 'unmasked close', frame(CLOSE, closePayload(1000), { key: null }), { close: { code: 1002 } });

// ---------------------------------------------------------------------------
// 9 Limits (§10.4): large messages and the message size limit (1009).

const KiB = 1024;
[64 * KiB, 256 * KiB, 1024 * KiB].forEach((length, i) => {
  add(`9.1.${i + 1}`, `text message of ${length / KiB} KiB`, frame(TEXT, asciiText(length)), { messages: [text(asciiText(length))], open: true });
  add(`9.2.${i + 1}`, `binary message of ${length / KiB} KiB`, frame(BINARY, bytes(length)), { messages: [binary(bytes(length))], open: true });
});
[64, 4 * KiB, 64 * KiB].forEach((fragment, i) => {
  const total = 1024 * KiB;
  const data = bytes(total, 5);
  const frames: Buffer[] = [];
  for (let at = 0; at < total; at += fragment) {
    frames.push(frame(at === 0 ? BINARY : CONTINUATION, data.subarray(at, at + fragment), { fin: at + fragment >= total }));
  }
  add(`9.3.${i + 1}`, `binary message of 1 MiB in fragments of ${fragment} bytes`, cat(...frames), { messages: [binary(data)], open: true });
});
add('9.4.1', 'message of exactly maxMessageBytes', frame(BINARY, bytes(1000)), { messages: [binary(bytes(1000))], open: true }, 1000);
add('9.4.2', 'message one byte over maxMessageBytes', frame(BINARY, bytes(1001)), { close: { code: 1009 } }, 1000);
add('9.4.3', 'text message over maxMessageBytes', frame(TEXT, asciiText(1001)), { close: { code: 1009 } }, 1000);
add('9.4.4', 'fragments that add up to one byte over maxMessageBytes', cat(frame(BINARY, bytes(600), { fin: false }), frame(CONTINUATION, bytes(401))), { close: { code: 1009 } }, 1000);
add('9.4.5', 'header announcing 2^62 bytes, no payload sent', hex('82ff 4000000000000000 01020304'), { close: { code: 1009 } }, 1000);
add('9.4.6', 'header announcing 1 GiB, no payload sent', hex('82ff 0000000040000000 01020304'), { close: { code: 1009 } }, 1000);
add('9.4.7', 'pings between fragments do not count towards the limit', cat(frame(BINARY, bytes(600), { fin: false }), frame(PING, bytes(125)), frame(CONTINUATION, bytes(400))), {
  messages: [binary(cat(bytes(600), bytes(400)))],
  pongs: [bytes(125)],
  open: true,
}, 1000);

// ---------------------------------------------------------------------------
// m Masking (§5.1, §5.3).

add('m.1', 'unmasked text', frame(TEXT, 'Hello', { key: null }), { close: { code: 1002 } });
add('m.2', 'text, then unmasked ping', cat(frame(TEXT, 'Hello'), frame(PING, 'p', { key: null })), { messages: [text('Hello')], close: { code: 1002 } });
add('m.3', 'unmasked continuation', cat(frame(TEXT, 'frag', { fin: false }), frame(CONTINUATION, 'ment', { key: null })), { close: { code: 1002 } });
add('m.4', 'all-zero masking key', frame(TEXT, 'zero key', { key: Buffer.alloc(4) }), { messages: [text('zero key')], open: true });
add(
  'm.5',
  'a different key on every frame of a fragmented message',
  cat(...KEYS.map((key, i) => frame(i === 0 ? TEXT : CONTINUATION, `part${i}`, { key, fin: i === KEYS.length - 1 }))),
  { messages: [text(KEYS.map((_, i) => `part${i}`).join(''))], open: true },
);

/** The whole table, in id order within each group. */
export const FRAME_CASES: readonly FrameCase[] = cases;
