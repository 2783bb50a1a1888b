import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnvelopeError, parseClientMessage } from '../../../src/codec/envelope.ts';
import {
  decodeMsgpack,
  encodeMsgpack,
  encodeMsgpackFrame,
  encodeMsgpackReply,
  msgpackCodec,
} from '../../../src/codec/msgpack.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

function decodeError(run: () => unknown): EnvelopeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeError);
    return error as EnvelopeError;
  }
  throw new Error('expected an EnvelopeError');
}

// Fixtures in plain msgpack (spec §2), both directions.
const FIXTURES: [string, unknown, string][] = [
  ['event', [0, 'hi', null], '93 00 a2 6869 c0'],
  ['request', [1, 7, 'add', [1, 2]], '94 01 07 a3 616464 92 01 02'],
  ['reply', [2, 7, 3], '93 02 07 03'],
  ['error reply', [3, 7, { code: 'TIMEOUT', message: 'late' }], '93 03 07 de0002 a4 636f6465 a7 54494d454f5554 a7 6d657373616765 a4 6c617465'],
  ['publication', [4, 't', true], '93 04 a1 74 c3'],
];

describe('msgpack encoding (spec §2)', () => {
  it.each(FIXTURES)('encodes a %s to its fixture bytes', (_name, message, bytes) => {
    expect(hex(encodeMsgpack(message as never))).toBe(hex(fromHex(bytes)));
  });

  it.each(FIXTURES)('decodes the fixture bytes of a %s', (_name, message, bytes) => {
    expect(decodeMsgpack(fromHex(bytes))).toEqual(message);
  });

  it('writes undefined as nil, so every msgpack library reads it', () => {
    expect(hex(encodeMsgpack([0, 'x', undefined]))).toBe('9300a178c0');
  });

  it('writes objects as plain maps (map16), never with the record extension', () => {
    // The same object twice: with records, the second would reference a structure (ext 0x72).
    expect(hex(encodeMsgpack([2, 1, { a: 1 }]))).toBe('930201' + 'de0001a16101');
    expect(hex(encodeMsgpack([2, 1, { a: 1 }]))).toBe('930201' + 'de0001a16101');
  });

  it('decodes maps of any width (fixmap, map16) to plain objects', () => {
    expect(decodeMsgpack(fromHex('93 02 01 81 a1 61 01'))).toEqual([2, 1, { a: 1 }]);
    expect(Object.getPrototypeOf((decodeMsgpack(fromHex('81 a1 61 01')) as object))).toBe(Object.prototype);
  });

  it('decodes a uint64 that fits a double as a number, a larger one as a BigInt', () => {
    expect(decodeMsgpack(fromHex('cf 00000000 00000005'))).toBe(5);
    expect(decodeMsgpack(fromHex('cf ff000000 00000005'))).toBe(0xff00000000000005n);
  });

  it('copies bin values out of the message buffer', () => {
    const message = fromHex('93 00 a1 62 c4 02 0102');
    const decoded = decodeMsgpack(message) as [number, string, Uint8Array];
    expect([...decoded[2]]).toEqual([1, 2]);
    message.fill(0);
    expect([...decoded[2]]).toEqual([1, 2]);
  });

  it('decodes small messages from a copy: bin values and strings outlive later decodes of other bytes', () => {
    const first = decodeMsgpack(encodeMsgpack([0, 'first', { bin: new Uint8Array([7, 8, 9]) }])) as [number, string, { bin: Uint8Array }];
    decodeMsgpack(encodeMsgpack([0, 'second', { bin: new Uint8Array([1, 1, 1]) }]));
    expect(first[1]).toBe('first');
    expect([...first[2].bin]).toEqual([7, 8, 9]);
  });

  it('refuses a truncated message after a longer one, never reading what the earlier one left behind', () => {
    // [0, "ab", "cd"], then the same bytes cut after the first string: the rest is still in the copy buffer.
    const whole = fromHex('93 00 a2 6162 a2 6364');
    expect(decodeMsgpack(whole)).toEqual([0, 'ab', 'cd']);
    const error = decodeError(() => decodeMsgpack(whole.subarray(0, 5)));
    expect(error.code).toBe('SHOAL_ERR_NOT_DECODABLE');
  });

  it('decodes messages past the copy buffer size in place', () => {
    const big = 'x'.repeat(10_000);
    expect(decodeMsgpack(encodeMsgpack([0, 'big', big]))).toEqual([0, 'big', big]);
  });

  it('keeps earlier results intact while later values are packed', () => {
    const first = encodeMsgpack([0, 'first', 'a'.repeat(100)]);
    const copy = hex(first);
    for (let i = 0; i < 500; i++) encodeMsgpack([0, 'later', 'b'.repeat(i)]);
    expect(hex(first)).toBe(copy);
  });

  it.each([
    ['truncated value', '93 00 a2 68'],
    ['two values in one message', '90 90'],
    ['empty message', ''],
    ['an unknown extension cut short', 'd4 70 00'],
  ])('refuses a %s with SHOAL_ERR_NOT_DECODABLE (1007)', (_what, bytes) => {
    const error = decodeError(() => msgpackCodec.decode(fromHex(bytes)));
    expect(error.code).toBe('SHOAL_ERR_NOT_DECODABLE');
    expect(error.closeCode).toBe(1007);
  });

  it('refuses text with SHOAL_ERR_WRONG_FRAME_TYPE (1003)', () => {
    const error = decodeError(() => msgpackCodec.decode('[0,"x",null]'));
    expect(error.code).toBe('SHOAL_ERR_WRONG_FRAME_TYPE');
    expect(error.closeCode).toBe(1003);
  });

  it('turns a nesting too deep for the stack into SHOAL_ERR_NOT_DECODABLE', () => {
    const depth = 200_000;
    const bytes = Buffer.alloc(depth + 1, 0x91);
    bytes[depth] = 0xc0;
    const result = (() => {
      try {
        return decodeMsgpack(bytes);
      } catch (error) {
        return error;
      }
    })();
    // Either msgpackr manages the depth or it fails with the documented error, never with a RangeError.
    if (result instanceof Error) expect(result).toBeInstanceOf(EnvelopeError);
    else expect(Array.isArray(result)).toBe(true);
  });

  it('random bytes only ever decode or fail with an EnvelopeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          parseClientMessage(decodeMsgpack(bytes));
        } catch (error) {
          return error instanceof EnvelopeError;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  it('renames a "__proto__" key to "__proto_" (msgpackr never lets a message set a prototype)', () => {
    const decoded = decodeMsgpack(encodeMsgpack([0, 'e', JSON.parse('{"__proto__": {"polluted": true}}')])) as [number, string, object];
    expect(decoded[2]).toEqual({ __proto_: { polluted: true } });
    expect(Object.getPrototypeOf(decoded[2])).toBe(Object.prototype);
  });

  it('valid client messages survive encode -> decode -> validate', () => {
    const name = fc.string({ minLength: 1, maxLength: 20 });
    // "__proto__" keys are renamed on decoding (the test above); fc.jsonValue() generates them now and then.
    const data = fc.jsonValue().filter((value) => !JSON.stringify(value).includes('"__proto__"'));
    const message = fc.oneof(
      fc.tuple(fc.constant(0 as const), name, data),
      fc.tuple(fc.constant(1 as const), fc.nat(), name, data),
    );
    fc.assert(
      fc.property(message, (value) => {
        expect(parseClientMessage(decodeMsgpack(encodeMsgpack(value as never)))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('replies encoded in place', () => {
  it.each([0, 1, 7, 127, 128, 255, 256, 65_535, 65_536, 0xffff_ffff, 0x1_0000_0000, Number.MAX_SAFE_INTEGER])(
    'id %d: the same bytes as encoding the reply array',
    (id) => {
      for (const data of [null, 3, 'text', { a: [1, 2] }, new Uint8Array([1, 2, 3]), undefined, 'x'.repeat(70_000)]) {
        expect(hex(encodeMsgpackReply(id, data))).toBe(hex(encodeMsgpack([2, id, data])));
      }
    },
  );

  it('matches the hex example of docs/subprotocol.md §10 (reply 7: 3)', () => {
    expect(hex(encodeMsgpackReply(7, 3))).toBe('930207' + '03');
  });

  it('keeps an earlier reply intact while later ones are encoded', () => {
    const first = encodeMsgpackReply(300, 'first');
    const copy = hex(first);
    for (let i = 0; i < 2000; i++) encodeMsgpackReply(i, 'y'.repeat(i % 50));
    expect(hex(first)).toBe(copy);
  });
});

describe('publication frames (RFC 6455 §5.2)', () => {
  it.each([0, 1, 125, 126, 65_535, 65_536, 200_000])('frames a %i-byte string with the right length header', (size) => {
    const message = [4, 't', 'x'.repeat(size)] as const;
    const payload = Buffer.from(encodeMsgpack(message as never));
    const frame = Buffer.from(encodeMsgpackFrame(message as never));
    // FIN set, RSV clear, opcode 0x2 (binary); MASK bit clear (a server never masks).
    expect(frame[0]).toBe(0x82);
    let offset: number;
    if (payload.length < 126) {
      expect(frame[1]).toBe(payload.length);
      offset = 2;
    } else if (payload.length <= 0xffff) {
      expect(frame[1]).toBe(126);
      expect(frame.readUInt16BE(2)).toBe(payload.length);
      offset = 4;
    } else {
      expect(frame[1]).toBe(127);
      expect(frame.readBigUInt64BE(2)).toBe(BigInt(payload.length));
      offset = 10;
    }
    expect(frame.subarray(offset).equals(payload)).toBe(true);
  });
});
