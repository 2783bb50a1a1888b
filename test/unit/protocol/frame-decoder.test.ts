import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/protocol/errors.ts';
import { FrameDecoder, keepLentBuffer, type FrameDecoderOptions, type FrameSink } from '../../../src/protocol/frame-decoder.ts';
import { encodeFrame, encodeFrameHeader } from '../../../src/protocol/frame-encoder.ts';
import { chunkings } from '../../helpers/chunkings.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const KEY = hex('37fa213d');
const LIMIT = 1024 * 1024;

type Event =
  | { type: 'message'; data: Buffer; isBinary: boolean; compressed: boolean }
  | { type: 'control'; opcode: number; payload: Buffer }
  | { type: 'error'; code: string; closeCode: number };

/** A sink that records what it is given (copies, so later input cannot change it). */
class RecordingSink implements FrameSink {
  readonly events: Event[] = [];
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    this.events.push({ type: 'message', data: Buffer.from(data), isBinary, compressed });
  }
  onControl(opcode: number, payload: Buffer): void {
    this.events.push({ type: 'control', opcode, payload: Buffer.from(payload) });
  }
  onError(error: ProtocolError): void {
    expect(error).toBeInstanceOf(ProtocolError);
    this.events.push({ type: 'error', code: error.code, closeCode: error.closeCode });
  }
}

function decode(chunks: Buffer[], options: Partial<FrameDecoderOptions> = {}): Event[] {
  const sink = new RecordingSink();
  const decoder = new FrameDecoder(sink, { maxMessageBytes: LIMIT, ...options });
  for (const chunk of chunks) decoder.push(chunk);
  return sink.events;
}

/** Events with payloads as hex strings: deep equality on large Buffers is slow. */
function comparable(events: Event[]): unknown[] {
  return events.map((event) =>
    event.type === 'message' ? { ...event, data: event.data.toString('hex') } : event.type === 'control' ? { ...event, payload: event.payload.toString('hex') } : event,
  );
}

/** Decodes `bytes` at every chunking and checks that each gives `expected`. */
function expectEvents(bytes: Uint8Array, expected: Event[], options: Partial<FrameDecoderOptions> = {}): void {
  const want = comparable(expected);
  // Large inputs: fewer two-piece splits (the edges, where the headers are, stay covered).
  for (const { name, chunks } of chunkings(bytes, { maxTwoPieceSplits: bytes.length > 4096 ? 32 : 128 })) {
    expect(comparable(decode(chunks, options)), name).toEqual(want);
  }
}

const text = (s: string | Buffer): Event => ({ type: 'message', data: Buffer.from(s), isBinary: false, compressed: false });
const binary = (data: Buffer): Event => ({ type: 'message', data, isBinary: true, compressed: false });
const control = (opcode: number, payload: string | Buffer = ''): Event => ({ type: 'control', opcode, payload: Buffer.from(payload) });
const error = (code: string, closeCode: number): Event => ({ type: 'error', code, closeCode });
const masked = (opcode: number, payload: string | Buffer, options: { fin?: boolean; rsv1?: boolean } = {}) =>
  encodeFrame(opcode, Buffer.from(payload), { mask: KEY, ...options });
/** A masked frame built by hand, for headers the encoder refuses to produce. */
const rawFrame = (b0: number, payload: Buffer) => Buffer.concat([encodeFrameHeader(0, payload.length, true, KEY), payload]).fill(b0, 0, 1);

describe('base framing (RFC 6455 §5.2, examples of §5.7)', () => {
  const fixtures: [string, () => Buffer, Event[]][] = [
    ['a masked text message "Hello"', () => hex('81 85 37fa213d 7f9f4d5158'), [text('Hello')]],
    ['a masked ping "Hello"', () => hex('89 85 37fa213d 7f9f4d5158'), [control(0x9, 'Hello')]],
    ['an empty text message', () => masked(0x1, ''), [text('')]],
    ['an empty binary message', () => masked(0x2, ''), [binary(Buffer.alloc(0))]],
    ['125 bytes: the largest 7-bit length', () => masked(0x2, Buffer.alloc(125, 1)), [binary(Buffer.alloc(125, 1))]],
    ['126 bytes: the smallest 16-bit length', () => masked(0x2, Buffer.alloc(126, 2)), [binary(Buffer.alloc(126, 2))]],
    ['256 bytes binary (§5.7)', () => masked(0x2, Buffer.alloc(256, 3)), [binary(Buffer.alloc(256, 3))]],
    ['65535 bytes: the largest 16-bit length', () => masked(0x2, Buffer.alloc(65535, 4)), [binary(Buffer.alloc(65535, 4))]],
    ['65536 bytes: the smallest 64-bit length (§5.7)', () => masked(0x2, Buffer.alloc(65536, 5)), [binary(Buffer.alloc(65536, 5))]],
    [
      'many frames in one stream',
      () => Buffer.concat([masked(0x1, 'a'), masked(0x9, 'p'), masked(0x2, Buffer.of(1, 2)), masked(0xa, ''), masked(0x1, 'é')]),
      [text('a'), control(0x9, 'p'), binary(Buffer.of(1, 2)), control(0xa), text('é')],
    ],
  ];
  for (const [name, bytes, events] of fixtures) {
    it(`decodes ${name} at every chunking`, () => expectEvents(bytes(), events));
  }

  // Both directions for each fixture: the encoder produces exactly these
  // bytes, and the decoder turns them back into the frame (§5.7 examples first).
  const bothWays: [string, () => Buffer, string, Event, boolean][] = [
    ['a masked text "Hello"', () => masked(0x1, 'Hello'), '81 85 37fa213d 7f9f4d5158', text('Hello'), true],
    ['an unmasked text "Hello"', () => encodeFrame(0x1, Buffer.from('Hello')), '81 05 48656c6c6f', text('Hello'), false],
    ['an unmasked ping "Hello"', () => encodeFrame(0x9, Buffer.from('Hello')), '89 05 48656c6c6f', control(0x9, 'Hello'), false],
    ['a masked pong "Hello"', () => masked(0xa, 'Hello'), '8a 85 37fa213d 7f9f4d5158', control(0xa, 'Hello'), true],
    ['a masked close 1000 "bye"', () => masked(0x8, hex('03e8 627965')), '88 85 37fa213d 3412 43 44 52', control(0x8, hex('03e8 627965')), true],
    ['an unmasked empty binary', () => encodeFrame(0x2, Buffer.alloc(0)), '82 00', binary(Buffer.alloc(0)), false],
    [
      'an unmasked 256-byte binary (16-bit length)',
      () => encodeFrame(0x2, Buffer.alloc(256, 0xab)),
      '82 7e 0100' + 'ab'.repeat(256),
      binary(Buffer.alloc(256, 0xab)),
      false,
    ],
    [
      'an unmasked 65536-byte binary (64-bit length)',
      () => encodeFrame(0x2, Buffer.alloc(65536, 0xcd)),
      '82 7f 0000000000010000' + 'cd'.repeat(65536),
      binary(Buffer.alloc(65536, 0xcd)),
      false,
    ],
  ];
  for (const [name, encode, bytes, event, isMasked] of bothWays) {
    it(`encodes and decodes ${name}`, () => {
      expect(encode().toString('hex')).toBe(hex(bytes).toString('hex'));
      expectEvents(hex(bytes), [event], { requireMask: isMasked });
    });
  }

  it('accepts a length in more bytes than needed (the minimal encoding binds senders only)', () => {
    const frame = Buffer.concat([hex('82 fe 0003'), KEY, Buffer.of(1 ^ 0x37, 2 ^ 0xfa, 3 ^ 0x21)]);
    expectEvents(frame, [binary(Buffer.of(1, 2, 3))]);
  });

  it('fails with 1002 when a 64-bit length has its most significant bit set', () => {
    const frame = Buffer.concat([hex('82 ff 8000000000000001'), KEY]);
    expectEvents(frame, [error('WS_ERR_INVALID_LENGTH', 1002)]);
  });
});

describe('client-to-server masking (RFC 6455 §5.1, §5.3)', () => {
  it('fails with 1002 when a client frame is not masked', () => {
    expectEvents(hex('81 05 48656c6c6f'), [error('WS_ERR_UNMASKED_FRAME', 1002)]);
  });

  it('decodes unmasked server frames with requireMask: false (§5.7 examples)', () => {
    expectEvents(hex('81 05 48656c6c6f  01 03 48656c 80 02 6c6f  8a 05 48656c6c6f'), [text('Hello'), text('Hello'), control(0xa, 'Hello')], {
      requireMask: false,
    });
  });

  it('fails with 1002 when a server frame is masked (requireMask: false)', () => {
    expectEvents(hex('81 85 37fa213d 7f9f4d5158'), [error('WS_ERR_MASKED_FRAME', 1002)], { requireMask: false });
  });

  it('decodes frames masked with an all-zero key', () => {
    expectEvents(encodeFrame(0x1, Buffer.from('zero'), { mask: new Uint8Array(4) }), [text('zero')]);
  });
});

describe('reserved bits (RFC 6455 §5.2, RFC 7692 §6)', () => {
  for (const [bit, name] of [[0x40, 'RSV1'], [0x20, 'RSV2'], [0x10, 'RSV3']] as const) {
    it(`fails with 1002 when ${name} is set and no extension was negotiated`, () => {
      expectEvents(rawFrame(0x81 | bit, Buffer.from('x')), [error('WS_ERR_RESERVED_BITS', 1002)]);
      expectEvents(rawFrame(0x89 | bit, Buffer.alloc(0)), [error('WS_ERR_RESERVED_BITS', 1002)]);
    });
  }

  it('with rsv1Allowed, passes a message whose first frame has RSV1 on as compressed, unvalidated', () => {
    const notUtf8 = hex('ff fe 00');
    const bytes = Buffer.concat([masked(0x1, notUtf8, { rsv1: true, fin: false }), masked(0x0, 'x'), masked(0x2, 'y', { rsv1: true })]);
    expectEvents(
      bytes,
      [
        { type: 'message', data: Buffer.concat([notUtf8, Buffer.from('x')]), isBinary: false, compressed: true },
        { type: 'message', data: Buffer.from('y'), isBinary: true, compressed: true },
      ],
      { rsv1Allowed: true },
    );
  });

  it('with rsv1Allowed, still fails with 1002 for RSV1 on a continuation or control frame, and for RSV2', () => {
    const continuation = Buffer.concat([masked(0x1, 'a', { fin: false }), rawFrame(0xc0, Buffer.from('b'))]);
    expectEvents(continuation, [error('WS_ERR_RESERVED_BITS', 1002)], { rsv1Allowed: true });
    expectEvents(rawFrame(0xc9, Buffer.alloc(0)), [error('WS_ERR_RESERVED_BITS', 1002)], { rsv1Allowed: true });
    expectEvents(rawFrame(0xa1, Buffer.from('x')), [error('WS_ERR_RESERVED_BITS', 1002)], { rsv1Allowed: true });
  });
});

describe('opcodes (RFC 6455 §5.2)', () => {
  for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`fails with 1002 on reserved opcode 0x${opcode.toString(16)}`, () => {
      expectEvents(Buffer.concat([masked(0x1, 'before'), rawFrame(0x80 | opcode, Buffer.from('x'))]), [
        text('before'),
        error('WS_ERR_INVALID_OPCODE', 1002),
      ]);
    });
  }
});

describe('fragmentation (RFC 6455 §5.4)', () => {
  it('reassembles a fragmented text message (§5.7 "Hel" + "lo")', () => {
    expectEvents(hex('01 83 37fa213d 7f9f4d  80 82 37fa213d 5b95'), [text('Hello')]);
  });

  it('reassembles a binary message of many fragments, empty ones included', () => {
    const parts = [Buffer.alloc(0), Buffer.alloc(200, 1), Buffer.alloc(0), Buffer.alloc(70_000, 2), Buffer.of(3)];
    const frames = parts.map((part, i) => masked(i === 0 ? 0x2 : 0x0, part, { fin: i === parts.length - 1 }));
    const want = comparable([binary(Buffer.concat(parts))]);
    for (const { name, chunks } of chunkings(Buffer.concat(frames), { maxTwoPieceSplits: 64, randomSplits: 4 })) {
      expect(comparable(decode(chunks)), name).toEqual(want);
    }
  });

  it('delivers control frames that arrive between fragments, before the message (§5.4, §5.5)', () => {
    const bytes = Buffer.concat([masked(0x1, 'fra', { fin: false }), masked(0x9, 'ping'), masked(0x0, 'gm', { fin: false }), masked(0xa, ''), masked(0x0, 'ent')]);
    expectEvents(bytes, [control(0x9, 'ping'), control(0xa), text('fragment')]);
  });

  it('fails with 1002 on a continuation frame with no message to continue', () => {
    expectEvents(masked(0x0, 'orphan'), [error('WS_ERR_UNEXPECTED_CONTINUATION', 1002)]);
    expectEvents(Buffer.concat([masked(0x1, 'done'), masked(0x0, 'more')]), [text('done'), error('WS_ERR_UNEXPECTED_CONTINUATION', 1002)]);
  });

  it('fails with 1002 on a new data frame while a fragmented message is open', () => {
    for (const opcode of [0x1, 0x2]) {
      const bytes = Buffer.concat([masked(0x1, 'open', { fin: false }), masked(opcode, 'interleaved')]);
      expectEvents(bytes, [error('WS_ERR_EXPECTED_CONTINUATION', 1002)]);
    }
  });

  it('gives a fragmented message its own memory, not a view of an input chunk', () => {
    const chunk = Buffer.concat([masked(0x2, 'ab', { fin: false }), masked(0x0, 'cd')]);
    let data: Buffer | undefined;
    new FrameDecoder({ onMessage: (d) => (data = d), onControl() {}, onError() {} }, { maxMessageBytes: LIMIT }).push(chunk);
    chunk.fill(0);
    expect(data?.toString()).toBe('abcd');
  });
});

describe('control frames (RFC 6455 §5.5)', () => {
  it('decodes a ping of 125 bytes, the most a control frame may carry', () => {
    expectEvents(masked(0x9, Buffer.alloc(125, 7)), [control(0x9, Buffer.alloc(125, 7))]);
  });

  it('fails with 1002 when a control frame is over 125 bytes', () => {
    const header = Buffer.concat([hex('89 fe 007e'), KEY]);
    expectEvents(Buffer.concat([header, Buffer.alloc(126)]), [error('WS_ERR_CONTROL_TOO_LONG', 1002)]);
    expectEvents(Buffer.concat([hex('88 ff 0000000000000080'), KEY]), [error('WS_ERR_CONTROL_TOO_LONG', 1002)]);
  });

  it('fails with 1002 when a control frame has FIN clear', () => {
    for (const opcode of [0x8, 0x9, 0xa]) {
      expectEvents(rawFrame(opcode, Buffer.from('x')), [error('WS_ERR_FRAGMENTED_CONTROL', 1002)]);
    }
  });

  it('passes close payloads on unparsed (parsing is the connection’s job)', () => {
    expectEvents(masked(0x8, hex('03')), [control(0x8, hex('03'))]);
  });
});

describe('UTF-8 in text messages (RFC 6455 §5.6, §8.1)', () => {
  it('fails with 1007 on an invalid single-frame text message', () => {
    expectEvents(masked(0x1, hex('ce ba e1 bd b9 ce bc ce b5 ed a0 80 65 64 69 74 65 64')), [error('WS_ERR_INVALID_UTF8', 1007)]);
  });

  it('accepts a code point split across fragments', () => {
    const euro = hex('e2 82 ac');
    const bytes = Buffer.concat([masked(0x1, euro.subarray(0, 1), { fin: false }), masked(0x0, euro.subarray(1, 2), { fin: false }), masked(0x0, euro.subarray(2))]);
    expectEvents(bytes, [text('€')]);
  });

  it('fails with 1007 at the fragment where the text becomes invalid, before the message ends', () => {
    const first = masked(0x1, 'valid start ', { fin: false });
    const bad = masked(0x0, hex('ed a0 80'), { fin: false });
    for (const { name, chunks } of chunkings(Buffer.concat([first, bad]))) {
      expect(decode(chunks), name).toEqual([error('WS_ERR_INVALID_UTF8', 1007)]);
    }
    // The same in a long fragment, validated by the native path.
    const longBad = masked(0x0, Buffer.concat([Buffer.alloc(100, 0x61), hex('c0 80')]), { fin: false });
    expect(decode([Buffer.concat([first, longBad])])).toEqual([error('WS_ERR_INVALID_UTF8', 1007)]);
  });

  it('fails with 1007 when a text message ends inside a code point', () => {
    const bytes = Buffer.concat([masked(0x1, 'ab', { fin: false }), masked(0x0, hex('e2 82'))]);
    expectEvents(bytes, [error('WS_ERR_INVALID_UTF8', 1007)]);
    expectEvents(masked(0x1, hex('61 e2 82')), [error('WS_ERR_INVALID_UTF8', 1007)]);
  });

  it('does not validate binary messages', () => {
    expectEvents(masked(0x2, hex('ff fe')), [binary(hex('ff fe'))]);
  });
});

describe('message size limit (RFC 6455 §10.4, close code 1009)', () => {
  it('accepts a message of exactly maxMessageBytes', () => {
    expectEvents(masked(0x2, Buffer.alloc(100, 9)), [binary(Buffer.alloc(100, 9))], { maxMessageBytes: 100 });
  });

  it('fails with 1009 from the header alone, before any payload arrives', () => {
    const header = encodeFrameHeader(0x2, 101, true, KEY);
    expectEvents(header.subarray(0, 4), [error('WS_ERR_MESSAGE_TOO_BIG', 1009)], { maxMessageBytes: 100 });
    const huge = Buffer.concat([hex('82 ff 7fffffffffffffff'), KEY]);
    expectEvents(huge, [error('WS_ERR_MESSAGE_TOO_BIG', 1009)], { maxMessageBytes: 100 });
  });

  it('fails with 1009 when the fragments together exceed the limit, at the fragment that crosses it', () => {
    const bytes = Buffer.concat([masked(0x2, Buffer.alloc(60), { fin: false }), encodeFrameHeader(0x0, 41, true, KEY)]);
    expectEvents(bytes, [error('WS_ERR_MESSAGE_TOO_BIG', 1009)], { maxMessageBytes: 100 });
  });

  it('does not count control frames between fragments towards the limit', () => {
    const bytes = Buffer.concat([masked(0x2, Buffer.alloc(60), { fin: false }), masked(0x9, Buffer.alloc(100)), masked(0x0, Buffer.alloc(40))]);
    expectEvents(bytes, [control(0x9, Buffer.alloc(100)), binary(Buffer.alloc(100))], { maxMessageBytes: 100 });
  });

  it('holds memory in proportion to bytes received, not to the length announced', () => {
    const decoder = new FrameDecoder(new RecordingSink(), { maxMessageBytes: 64 * 1024 * 1024 });
    decoder.push(Buffer.concat([encodeFrameHeader(0x2, 32 * 1024 * 1024, true, KEY), Buffer.alloc(10)]));
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(64 * 1024);
    decoder.push(Buffer.alloc(200 * 1024));
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(4 * 210 * 1024);
    decoder.push(Buffer.alloc(1024 * 1024));
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(4 * 1234 * 1024);
  });

  it('grows the buffer of a large single-frame message to exactly its length, with few copies', () => {
    // 1 MiB in 64 KiB pieces: four times the first piece's payload (64 KiB less the
    // 14-byte header), then the frame's end (1 MiB): not 4 times that (1,048,352
    // bytes, just short of the end), nor past the end.
    const sink = new RecordingSink();
    const decoder = new FrameDecoder(sink, { maxMessageBytes: 16 * 1024 * 1024 });
    const payload = Buffer.alloc(1024 * 1024, 5);
    const frame = masked(0x2, payload);
    const sizes = new Set<number>();
    for (let at = 0; at < frame.length; at += 64 * 1024) {
      decoder.push(Buffer.from(frame.subarray(at, at + 64 * 1024)));
      sizes.add(decoder.bufferedBytes);
    }
    expect([...sizes].filter((size) => size > 0)).toEqual([4 * (64 * 1024 - 14), 1024 * 1024]);
    expect(comparable(sink.events)).toEqual(comparable([binary(payload)]));
  });

  it('allocates the whole buffer of a 1 MiB frame at once when its first read brings a quarter of it', () => {
    const decoder = new FrameDecoder(new RecordingSink(), { maxMessageBytes: 16 * 1024 * 1024 });
    const frame = masked(0x2, Buffer.alloc(1024 * 1024, 5));
    decoder.push(Buffer.from(frame.subarray(0, 256 * 1024)));
    expect(decoder.bufferedBytes).toBe(1024 * 1024);
  });

  it('grows no further than 4 times what arrived while the end of the frame is far', () => {
    const decoder = new FrameDecoder(new RecordingSink(), { maxMessageBytes: 16 * 1024 * 1024 });
    const frame = masked(0x2, Buffer.alloc(8 * 1024 * 1024, 5));
    decoder.push(Buffer.from(frame.subarray(0, 256 * 1024)));
    expect(decoder.bufferedBytes).toBe(4 * (256 * 1024 - 14));
  });

  it('grows the buffer of a fragmented message geometrically, not by one fragment at a time', () => {
    const sink = new RecordingSink();
    const decoder = new FrameDecoder(sink, { maxMessageBytes: 16 * 1024 * 1024 });
    const fragments = 2000;
    const piece = Buffer.alloc(1024, 9);
    const sizes = new Set<number>();
    for (let i = 0; i < fragments; i++) {
      decoder.push(masked(i === 0 ? 0x2 : 0x0, piece, { fin: i === fragments - 1 }));
      sizes.add(decoder.bufferedBytes);
    }
    // 1, 4, 16, 64, 256 KiB, 1, 4 MiB, then 0 once delivered: a handful of
    // copies, where growing to each fragment's end would copy 2,000 times.
    expect(sizes.size).toBeLessThanOrEqual(10);
    expect(comparable(sink.events)).toEqual(comparable([binary(Buffer.concat(Array.from({ length: fragments }, () => piece)))]));
  });
});

describe('zero copy and buffering', () => {
  it('hands out a view of the input chunk for a frame that lies inside it', () => {
    const chunk = Buffer.concat([masked(0x2, 'abc'), masked(0x9, 'p')]);
    const views: Buffer[] = [];
    const sink = { onMessage: (d: Buffer) => views.push(d), onControl: (_: number, d: Buffer) => views.push(d), onError() {} };
    new FrameDecoder(sink, { maxMessageBytes: LIMIT }).push(chunk);
    expect(views.map((v) => v.toString())).toEqual(['abc', 'p']);
    expect(views.every((v) => v.buffer === chunk.buffer)).toBe(true);
  });

  it('holds nothing once a message that spanned chunks is delivered', () => {
    const frame = masked(0x2, Buffer.alloc(1000, 1));
    const decoder = new FrameDecoder(new RecordingSink(), { maxMessageBytes: LIMIT });
    decoder.push(frame.subarray(0, 500));
    expect(decoder.bufferedBytes).toBeGreaterThan(0);
    decoder.push(frame.subarray(500));
    expect(decoder.bufferedBytes).toBe(0);
  });
});

describe('borrowed chunks (a read buffer reused after each push)', () => {
  const patterned = (size: number, seed: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + seed) & 0xff));
  const payloads = [patterned(3, 1), patterned(100, 2), patterned(200, 3), patterned(70_000, 4), patterned(5, 5)];
  const stream = (mask: boolean) =>
    Buffer.concat([
      ...payloads.slice(0, 3).map((p) => encodeFrame(0x2, p, { mask: mask ? KEY : undefined })),
      encodeFrame(0x9, Buffer.from('ping!'), { mask: mask ? KEY : undefined }),
      encodeFrame(0x2, payloads[3] as Buffer, { mask: mask ? KEY : undefined }),
      encodeFrame(0x1, Buffer.from('frag'), { mask: mask ? KEY : undefined, fin: false }),
      encodeFrame(0x0, Buffer.from('mented'), { mask: mask ? KEY : undefined }),
      encodeFrame(0x2, payloads[4] as Buffer, { mask: mask ? KEY : undefined }),
    ]);
  const expected = [...payloads.slice(0, 3).map((p) => p.toString('hex')), 'ping!', (payloads[3] as Buffer).toString('hex'), 'fragmented', (payloads[4] as Buffer).toString('hex')];

  it.each([
    ['masked (server side)', true],
    ['unmasked (client side)', false],
  ])('%s: what the sink keeps stays intact when the chunk is overwritten after each push', (_, mask) => {
    const bytes = stream(mask);
    for (const { name, chunks } of chunkings(bytes, { maxTwoPieceSplits: 16, randomSplits: 4, maxBytewiseLength: 0 })) {
      const kept: Buffer[] = [];
      const sink = { onMessage: (d: Buffer) => kept.push(d), onControl: (_: number, d: Buffer) => kept.push(d), onError: (e: ProtocolError) => expect.fail(e.message) };
      const decoder = new FrameDecoder(sink, { maxMessageBytes: LIMIT, requireMask: mask });
      const read = Buffer.alloc(bytes.length);
      for (const chunk of chunks) {
        chunk.copy(read);
        decoder.push(read.subarray(0, chunk.length), true);
        read.fill(0xee);
      }
      expect(kept.map((d, i) => (i === 3 || i === 5 ? d.toString() : d.toString('hex'))), name).toEqual(expected);
    }
  });
});

describe('lent messages (lendMessages: the sink lets go of each message before onMessage returns)', () => {
  const patterned = (size: number, seed: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + seed) & 0xff));
  const payloads = [patterned(3, 1), patterned(100, 2), patterned(70_000, 4), patterned(5, 5), patterned(20_000, 6)];
  const bytes = Buffer.concat([
    ...payloads.map((p) => encodeFrame(0x2, p, { mask: KEY })),
    encodeFrame(0x9, Buffer.from('ping!'), { mask: KEY }),
    encodeFrame(0x1, Buffer.from('frag'), { mask: KEY, fin: false }),
    encodeFrame(0x0, Buffer.from('mented'), { mask: KEY }),
  ]);
  const expected = [...payloads.map((p) => p.toString('hex')), 'ping!', Buffer.from('fragmented').toString('hex')];

  it('are right while onMessage runs, in every chunking, with the chunk rewritten after each push', () => {
    for (const { name, chunks } of chunkings(bytes, { maxTwoPieceSplits: 16, randomSplits: 4, maxBytewiseLength: 0 })) {
      const seen: string[] = [];
      const sink: FrameSink = {
        onMessage: (d, _isBinary, _compressed, lent) => {
          expect(lent).toBe(true);
          seen.push(d.toString('hex'));
        },
        onControl: (_, d) => seen.push(d.toString()),
        onError: (e) => expect.fail(e.message),
      };
      const decoder = new FrameDecoder(sink, { maxMessageBytes: LIMIT, lendMessages: true });
      const read = Buffer.alloc(bytes.length);
      for (const chunk of chunks) {
        chunk.copy(read);
        decoder.push(read.subarray(0, chunk.length), true);
        read.fill(0xee);
      }
      expect(seen, name).toEqual(expected);
      // Between messages a lending decoder holds no buffer of its own (it went to the thread's spares).
      expect(decoder.bufferedBytes, name).toBe(0);
    }
  });

  it('are views of the chunk when whole in it, and otherwise of a buffer reused for the next such message', () => {
    const whole = encodeFrame(0x2, patterned(300, 1), { mask: KEY });
    const spanning = [encodeFrame(0x2, patterned(5000, 2), { mask: KEY }), encodeFrame(0x2, patterned(5000, 3), { mask: KEY })];
    const memory: ArrayBufferLike[] = [];
    const decoder = new FrameDecoder(
      { onMessage: (d) => memory.push(d.buffer), onControl() {}, onError: (e) => expect.fail(e.message) },
      { maxMessageBytes: LIMIT, lendMessages: true },
    );
    const read = Buffer.alloc(8192);
    whole.copy(read);
    decoder.push(read.subarray(0, whole.length), true);
    expect(memory[0]).toBe(read.buffer);
    for (const frame of spanning) {
      frame.copy(read, 0, 0, 3000);
      decoder.push(read.subarray(0, 3000), true);
      frame.copy(read, 0, 3000);
      decoder.push(read.subarray(0, frame.length - 3000), true);
    }
    expect(memory[1]).not.toBe(read.buffer);
    expect(memory[2]).toBe(memory[1]);
  });

  it('stay intact when the sink keeps their buffer (keepLentBuffer), while later messages are assembled', () => {
    // Every message spans two pushes, so each is assembled; the sink keeps every other one's buffer.
    const frames = [1, 2, 3, 4, 5, 6].map((seed) => encodeFrame(0x2, patterned(5000, seed), { mask: KEY }));
    const kept: { view: Buffer; buffer: Buffer }[] = [];
    const seen: string[] = [];
    let count = 0;
    const decoder = new FrameDecoder(
      {
        onMessage: (d, _isBinary, _compressed, lent) => {
          expect(lent).toBe(true);
          seen.push(d.toString('hex'));
          if (count++ % 2 === 0) {
            const buffer = keepLentBuffer() as Buffer;
            expect(buffer.buffer).toBe(d.buffer);
            kept.push({ view: d, buffer });
          }
        },
        onControl() {},
        onError: (e) => expect.fail(e.message),
      },
      { maxMessageBytes: LIMIT, lendMessages: true },
    );
    // Pushes cut inside each frame: the next message starts in the push that completes the previous one.
    const bytes = Buffer.concat(frames);
    const read = Buffer.alloc(bytes.length);
    for (let at = 0; at < bytes.length; at += 3000) {
      const end = Math.min(at + 3000, bytes.length);
      bytes.copy(read, 0, at, end);
      decoder.push(read.subarray(0, end - at), true);
      read.fill(0xee);
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6].map((seed) => patterned(5000, seed).toString('hex')));
    expect(kept.map(({ view }) => view.toString('hex'))).toEqual([1, 3, 5].map((seed) => patterned(5000, seed).toString('hex')));
    // Outside a delivery there is nothing to keep.
    expect(keepLentBuffer()).toBe(null);
  });

  it('are never lent from a chunk the decoder owns, nor without lendMessages', () => {
    const frame = encodeFrame(0x2, patterned(300, 1), { mask: KEY });
    const lent: boolean[] = [];
    const sink: FrameSink = { onMessage: (_d, _b, _c, isLent) => lent.push(isLent), onControl() {}, onError: (e) => expect.fail(e.message) };
    new FrameDecoder(sink, { maxMessageBytes: LIMIT, lendMessages: true }).push(Buffer.from(frame));
    new FrameDecoder(sink, { maxMessageBytes: LIMIT }).push(Buffer.from(frame), true);
    new FrameDecoder(sink, { maxMessageBytes: LIMIT }).push(Buffer.from(frame));
    expect(lent).toEqual([false, false, false]);
  });
});

describe('after a failure (RFC 6455 §7.1.7)', () => {
  it('reports the error once and discards all further input', () => {
    const sink = new RecordingSink();
    const decoder = new FrameDecoder(sink, { maxMessageBytes: LIMIT });
    decoder.push(Buffer.concat([hex('81 05 48656c6c6f'), masked(0x1, 'ignored')]));
    decoder.push(masked(0x1, 'also ignored'));
    expect(sink.events).toEqual([error('WS_ERR_UNMASKED_FRAME', 1002)]);
    expect(decoder.stopped).toBe(true);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('stops at once when the sink calls stop(), even mid-chunk', () => {
    const seen: string[] = [];
    const decoder: FrameDecoder = new FrameDecoder(
      {
        onMessage: (d) => {
          seen.push(d.toString());
          decoder.stop();
        },
        onControl() {},
        onError() {},
      },
      { maxMessageBytes: LIMIT },
    );
    decoder.push(Buffer.concat([masked(0x1, 'one'), masked(0x1, 'two')]));
    expect(seen).toEqual(['one']);
  });
});
