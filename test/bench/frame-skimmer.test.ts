/**
 * The generator's FrameSkimmer (bench/load/frame-skimmer.ts): frames that
 * are exactly the expected reply are counted unread (or, inspected, read in
 * place when they lie in one read), every other frame
 * reaches the decoder whole and in order, at every split of the input, with
 * each chunk lent from one buffer that is overwritten after each push (the
 * generator's shared read buffer).
 */
import { describe, expect, it } from 'vitest';
import { FrameSkimmer } from '../../bench/load/frame-skimmer.ts';
import { Opcode } from '../../src/protocol/constants.ts';
import { FrameDecoder } from '../../src/protocol/frame-decoder.ts';
import { encodeFrame, encodeFrameHeader, encodePing } from '../../src/protocol/frame-encoder.ts';
import { chunkings } from '../helpers/chunkings.ts';

const PAYLOAD_BYTES = 300;

/** A payload of `length` bytes whose bytes follow from `seed`, so a message shows where it came from. */
function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

/**
 * Feeds `chunks` through a skimmer for PAYLOAD_BYTES binary replies; returns what came out, in order. Messages
 * that are not lent are kept and read at the end, as a sink that keeps them would.
 */
function skim(chunks: readonly Buffer[], lendMessages: boolean, inspected: { count: number } | null = null): string[] {
  const events: (string | (() => string))[] = [];
  const decoder = new FrameDecoder(
    {
      onMessage: (data, isBinary) => {
        const kind = isBinary ? 'binary' : 'text';
        if (lendMessages) events.push(described(data, kind));
        else events.push(() => described(data, kind));
      },
      onControl: (opcode, payload) => events.push(`control ${opcode} ${payload.toString()}`),
      onError: (error) => events.push(`error ${error.code}`),
    },
    { maxMessageBytes: 1 << 20, requireMask: false, lendMessages },
  );
  // Inspected frames are described as the decoder's messages are: the same output whether read in place or assembled.
  const onInspected =
    inspected === null
      ? null
      : (chunk: Buffer, start: number) => {
          inspected.count++;
          events.push(described(chunk.subarray(start, start + PAYLOAD_BYTES)));
        };
  const skimmer = new FrameSkimmer(
    encodeFrameHeader(Opcode.BINARY, PAYLOAD_BYTES, true, null),
    PAYLOAD_BYTES,
    decoder,
    () => events.push('skimmed'),
    onInspected,
  );
  const readBuffer = Buffer.alloc(Math.max(...chunks.map((c) => c.length)));
  for (const chunk of chunks) {
    chunk.copy(readBuffer);
    skimmer.push(readBuffer.subarray(0, chunk.length), true);
    // The next read of any socket lands here: nothing may still refer to these bytes.
    readBuffer.fill(0xee);
  }
  return events.map((event) => (typeof event === 'string' ? event : event()));
}

function described(payload: Buffer, kind: 'binary' | 'text' = 'binary'): string {
  return `${kind} ${payload.length} ${payload.toString('hex')}`;
}

describe('FrameSkimmer', () => {
  const reply = encodeFrame(Opcode.BINARY, pattern(PAYLOAD_BYTES, 1));
  const otherLength = pattern(PAYLOAD_BYTES + 1, 2);
  const text = Buffer.from('a text message that is not the reply');
  const fragments = [pattern(100, 3), pattern(PAYLOAD_BYTES - 100, 4)];
  // The reply's length in a 64-bit length field: valid (§5.2 only asks senders for the minimal encoding), not skimmed.
  const longForm = Buffer.concat([Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 0, PAYLOAD_BYTES >> 8, PAYLOAD_BYTES & 0xff]), pattern(PAYLOAD_BYTES, 5)]);
  const stream = Buffer.concat([
    reply,
    reply,
    encodePing(Buffer.from('p1')),
    reply,
    encodeFrame(Opcode.BINARY, otherLength),
    encodeFrame(Opcode.TEXT, text),
    // A fragmented binary message of the reply's length, a ping between its fragments.
    encodeFrame(Opcode.BINARY, fragments[0]!, { fin: false }),
    encodePing(Buffer.from('p2')),
    encodeFrame(Opcode.CONTINUATION, fragments[1]!),
    reply,
    longForm,
    encodeFrame(Opcode.BINARY, Buffer.alloc(0)),
    reply,
  ]);
  const expected = [
    'skimmed',
    'skimmed',
    'control 9 p1',
    'skimmed',
    described(otherLength),
    described(text, 'text'),
    'control 9 p2',
    described(Buffer.concat(fragments)),
    'skimmed',
    described(pattern(PAYLOAD_BYTES, 5)),
    'binary 0 ',
    'skimmed',
  ];

  for (const lendMessages of [false, true]) {
    it(`counts the replies and hands every other frame to the decoder, at every split (lendMessages ${lendMessages})`, () => {
      for (const { name, chunks } of chunkings(stream, { randomSplits: 16 })) {
        expect(skim(chunks, lendMessages), name).toEqual(expected);
      }
    });
  }

  it('with onInspected, hands each reply whose payload lies in one read over in place, and the others to the decoder, at every split', () => {
    const replyPayload = described(pattern(PAYLOAD_BYTES, 1));
    const inspectedExpected = expected.map((event) => (event === 'skimmed' ? replyPayload : event));
    const replies = expected.filter((event) => event === 'skimmed').length;
    for (const lendMessages of [false, true]) {
      for (const { name, chunks } of chunkings(stream, { randomSplits: 16 })) {
        const inspected = { count: 0 };
        expect(skim(chunks, lendMessages, inspected), name).toEqual(inspectedExpected);
        // Never more than the replies; all of them when the stream comes in one read.
        expect(inspected.count, name).toBeLessThanOrEqual(replies);
        if (chunks.length === 1) expect(inspected.count, name).toBe(replies);
      }
    }
  });

  it('with onInspected, still hands a reply-shaped frame inside a fragmented message to the decoder', () => {
    const input = Buffer.concat([reply, encodeFrame(Opcode.BINARY, pattern(10, 6), { fin: false }), reply, reply]);
    for (const { name, chunks } of chunkings(input, { randomSplits: 4 })) {
      expect(skim(chunks, true, { count: 0 }), name).toEqual([described(pattern(PAYLOAD_BYTES, 1)), 'error WS_ERR_EXPECTED_CONTINUATION']);
    }
  });

  it('hands a reply-shaped frame inside a fragmented message to the decoder, which fails the connection', () => {
    const input = Buffer.concat([reply, encodeFrame(Opcode.BINARY, pattern(10, 6), { fin: false }), reply, reply]);
    for (const { name, chunks } of chunkings(input, { randomSplits: 4 })) {
      expect(skim(chunks, true), name).toEqual(['skimmed', 'error WS_ERR_EXPECTED_CONTINUATION']);
    }
  });

  it('hands a masked frame to the decoder (a client must fail it, RFC 6455 §5.1)', () => {
    const masked = encodeFrame(Opcode.BINARY, pattern(PAYLOAD_BYTES, 7), { mask: new Uint8Array([1, 2, 3, 4]) });
    for (const { name, chunks } of chunkings(Buffer.concat([reply, masked, reply]), { randomSplits: 4 })) {
      expect(skim(chunks, true), name).toEqual(['skimmed', 'error WS_ERR_MASKED_FRAME']);
    }
  });
});
