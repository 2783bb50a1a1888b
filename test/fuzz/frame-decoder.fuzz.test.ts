/**
 * Property tests (fast-check) for the frame decoder: chunking never changes
 * what is decoded; arbitrary bytes only ever produce typed ProtocolErrors and
 * never make the decoder hold more than the limit; encoder and decoder agree
 * on every length and opcode.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameErrors, ProtocolError } from '../../src/protocol/errors.ts';
import { FrameDecoder, type FrameSink } from '../../src/protocol/frame-decoder.ts';
import { encodeFrame } from '../../src/protocol/frame-encoder.ts';
import { splitAt } from '../helpers/chunkings.ts';

type Event = string;

/** Records events as short strings (payloads in hex) and checks errors are typed and reported once. */
class Recorder implements FrameSink {
  readonly events: Event[] = [];
  errors = 0;
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    this.events.push(`${isBinary ? 'binary' : 'text'}${compressed ? '+z' : ''}:${data.toString('hex')}`);
  }
  onControl(opcode: number, payload: Buffer): void {
    this.events.push(`control ${opcode}:${payload.toString('hex')}`);
  }
  onError(error: ProtocolError): void {
    if (!(error instanceof ProtocolError) || !(error.code in FrameErrors)) throw new Error(`untyped error ${String(error)}`);
    if (Buffer.byteLength(error.message) > 123) throw new Error(`reason too long for a close frame: ${error.message}`);
    this.errors++;
    this.events.push(`error ${error.code} ${error.closeCode}`);
  }
}

function decode(chunks: Buffer[], maxMessageBytes: number, requireMask = true): Recorder {
  const recorder = new Recorder();
  const decoder = new FrameDecoder(recorder, { maxMessageBytes, requireMask });
  for (const chunk of chunks) decoder.push(chunk);
  return recorder;
}

/** Sorted, distinct cut positions inside a stream of `length` bytes. */
const cutsFor = (length: number) =>
  fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 24 }).map((cuts) => cuts.filter((c) => c < length).sort((a, b) => a - b));

const key = fc.uint8Array({ minLength: 4, maxLength: 4 });

/** A message as the model sees it, and the frames that carry it. */
interface Sent {
  frames: Buffer[];
  events: Event[];
}

const textOrBinaryMessage: fc.Arbitrary<Sent> = fc
  .record({
    isBinary: fc.boolean(),
    text: fc.string({ unit: 'grapheme', maxLength: 40 }),
    bytes: fc.uint8Array({ maxLength: 300 }),
    fragments: fc.integer({ min: 1, max: 4 }),
    pingBetween: fc.option(fc.uint8Array({ maxLength: 125 }), { nil: undefined }),
    keys: fc.array(key, { minLength: 5, maxLength: 5 }),
  })
  .map(({ isBinary, text, bytes, fragments, pingBetween, keys }) => {
    const payload = isBinary ? Buffer.from(bytes) : Buffer.from(text, 'utf8');
    const frames: Buffer[] = [];
    const events: Event[] = [];
    const size = Math.ceil(payload.length / fragments);
    for (let i = 0; i < fragments; i++) {
      const part = payload.subarray(i * size, (i + 1) * size);
      frames.push(encodeFrame(i === 0 ? (isBinary ? 0x2 : 0x1) : 0x0, part, { fin: i === fragments - 1, mask: keys[i]! }));
      if (i === 0 && fragments > 1 && pingBetween) {
        frames.push(encodeFrame(0x9, pingBetween, { mask: keys[4]! }));
        events.push(`control 9:${Buffer.from(pingBetween).toString('hex')}`);
      }
    }
    events.push(`${isBinary ? 'binary' : 'text'}:${payload.toString('hex')}`);
    return { frames, events };
  });

const controlFrame: fc.Arbitrary<Sent> = fc
  .record({ opcode: fc.constantFrom(0x9, 0xa), payload: fc.uint8Array({ maxLength: 125 }), mask: key })
  .map(({ opcode, payload, mask }) => ({
    frames: [encodeFrame(opcode, payload, { mask })],
    events: [`control ${opcode}:${Buffer.from(payload).toString('hex')}`],
  }));

const validStream = fc.array(fc.oneof(textOrBinaryMessage, controlFrame), { minLength: 1, maxLength: 8 }).map((sent) => ({
  bytes: Buffer.concat(sent.flatMap((s) => s.frames)),
  events: sent.flatMap((s) => s.events),
}));

describe('FrameDecoder properties', () => {
  it('decodes any split of a valid stream into the same messages and control frames', () => {
    fc.assert(
      fc.property(
        validStream.chain((stream) => fc.tuple(fc.constant(stream), cutsFor(stream.bytes.length))),
        ([stream, cuts]) => {
          const whole = decode([Buffer.from(stream.bytes)], 1 << 20);
          const split = decode(splitAt(stream.bytes, cuts), 1 << 20);
          expect(whole.events).toEqual(stream.events);
          expect(split.events).toEqual(stream.events);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('delivers every message within the limit intact and fails with 1009 at the first one over it', () => {
    const isMessage = (event: Event) => event.startsWith('text:') || event.startsWith('binary:');
    const size = (event: Event) => (event.length - event.indexOf(':') - 1) / 2;
    fc.assert(
      fc.property(
        validStream.chain((stream) => fc.tuple(fc.constant(stream), cutsFor(stream.bytes.length), fc.integer({ min: 0, max: 320 }))),
        ([stream, cuts, maxMessageBytes]) => {
          const got = decode(splitAt(stream.bytes, cuts), maxMessageBytes).events;
          const messages = stream.events.filter(isMessage);
          const firstTooBig = messages.findIndex((m) => size(m) > maxMessageBytes);
          if (firstTooBig === -1) {
            expect(got).toEqual(stream.events);
          } else {
            expect(got.filter(isMessage)).toEqual(messages.slice(0, firstTooBig));
            expect(got.at(-1)).toBe(`error WS_ERR_MESSAGE_TOO_BIG 1009`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  // Random input: pure noise, and valid streams with a few bytes overwritten
  // (which get past the first header far more often than noise does).
  const noisyStream = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 600 }).map((b) => Buffer.from(b)),
    fc
      .tuple(validStream, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([stream, edits]) => {
        const bytes = Buffer.from(stream.bytes);
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        return bytes;
      }),
  );

  it('never throws on random bytes at random chunking, reports at most one typed error, and never holds more than the limit', () => {
    fc.assert(
      fc.property(
        noisyStream.chain((bytes) => fc.tuple(fc.constant(bytes), cutsFor(bytes.length), fc.integer({ min: 0, max: 400 }), fc.boolean())),
        ([bytes, cuts, maxMessageBytes, requireMask]) => {
          const recorder = new Recorder();
          const decoder = new FrameDecoder(recorder, { maxMessageBytes, requireMask });
          for (const chunk of splitAt(bytes, cuts)) {
            decoder.push(chunk);
            // The message buffer never outgrows the limit; on top of it at most
            // one partial control frame (125) and a partial header field (8).
            expect(decoder.bufferedBytes).toBeLessThanOrEqual(maxMessageBytes + 125 + 8);
          }
          expect(recorder.errors).toBeLessThanOrEqual(1);
          if (recorder.errors === 1) expect(recorder.events.at(-1)).toMatch(/^error /);
          // The same bytes in one piece give the same result.
          expect(decode([Buffer.from(bytes)], maxMessageBytes, requireMask).events).toEqual(recorder.events);
        },
      ),
      { numRuns: 500 },
    );
  });

  const boundaryLength = fc.oneof(
    fc.constantFrom(0, 1, 124, 125, 126, 127, 65534, 65535, 65536, 65537),
    fc.integer({ min: 0, max: 70_000 }),
  );

  it('round-trips encoder to decoder for every length and opcode, masked and unmasked', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ opcode: fc.constantFrom(0x1, 0x2), length: boundaryLength }),
          fc.record({ opcode: fc.constantFrom(0x8, 0x9, 0xa), length: fc.constantFrom(0, 2, 124, 125) }),
        ),
        fc.option(key, { nil: undefined }),
        fc.integer({ min: 0, max: 255 }),
        ({ opcode, length }, mask, fill) => {
          // Text payloads are ASCII so any length is valid UTF-8; close payloads carry code 1000.
          const payload = Buffer.alloc(length, opcode === 0x1 ? 0x20 + (fill % 0x5f) : fill);
          if (opcode === 0x8 && length >= 2) payload.writeUInt16BE(1000, 0);
          const frame = encodeFrame(opcode, payload, { mask });
          const events = decode([frame], 70_000, mask !== undefined).events;
          const expected = opcode >= 0x8 ? `control ${opcode}:${payload.toString('hex')}` : `${opcode === 0x2 ? 'binary' : 'text'}:${payload.toString('hex')}`;
          expect(events).toEqual([expected]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
