import { describe, expect, it } from 'vitest';
import {
  encodeClose,
  encodeFrame,
  encodeFrameHeader,
  encodeFrameParts,
  encodePing,
  encodePong,
} from '../../../src/protocol/frame-encoder.ts';
import { frameHeaderLength } from '../../../src/protocol/frame-header.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const KEY = hex('37fa213d');

describe('frame headers (RFC 6455 §5.2)', () => {
  const fixtures: [string, [number, number, boolean, Uint8Array | null, boolean?], string][] = [
    ['a final text frame of 5 bytes', [0x1, 5, true, null], '81 05'],
    ['a first text fragment', [0x1, 3, false, null], '01 03'],
    ['a continuation', [0x0, 2, true, null], '80 02'],
    ['125 bytes: the largest 7-bit length', [0x2, 125, true, null], '82 7d'],
    ['126 bytes: the smallest 16-bit length', [0x2, 126, true, null], '82 7e 007e'],
    ['65535 bytes: the largest 16-bit length', [0x2, 65535, true, null], '82 7e ffff'],
    ['65536 bytes: the smallest 64-bit length', [0x2, 65536, true, null], '82 7f 0000000000010000'],
    ['2^32 bytes', [0x2, 2 ** 32, true, null], '82 7f 0000000100000000'],
    ['2^53 - 1 bytes', [0x2, Number.MAX_SAFE_INTEGER, true, null], '82 7f 001fffffffffffff'],
    ['a masked frame', [0x1, 5, true, KEY], '81 85 37fa213d'],
    ['a masked 16-bit length', [0x2, 256, true, KEY], '82 fe 0100 37fa213d'],
    ['RSV1 for permessage-deflate', [0x1, 1, true, null, true], 'c1 01'],
    ['a ping', [0x9, 0, true, null], '89 00'],
  ];
  for (const [name, args, bytes] of fixtures) {
    it(`encodes ${name}`, () => {
      const header = encodeFrameHeader(...args);
      expect(header.toString('hex')).toBe(hex(bytes).toString('hex'));
      expect(header).toHaveLength(frameHeaderLength(args[1], args[3] !== null));
    });
  }

  it('refuses control frames over 125 bytes or fragmented (§5.5)', () => {
    expect(() => encodeFrameHeader(0x9, 126, true, null)).toThrow(RangeError);
    expect(() => encodeFrameHeader(0x8, 2, false, null)).toThrow(RangeError);
  });

  it('refuses negative and non-integer lengths', () => {
    expect(() => encodeFrameHeader(0x2, -1, true, null)).toThrow(RangeError);
    expect(() => encodeFrameHeader(0x2, 1.5, true, null)).toThrow(RangeError);
  });
});

describe('whole frames (RFC 6455 §5.2, §5.3, §5.7)', () => {
  it('encodes the §5.7 example: unmasked "Hello"', () => {
    expect(encodeFrame(0x1, Buffer.from('Hello'))).toEqual(hex('81 05 48656c6c6f'));
  });

  it('encodes the §5.7 example: masked "Hello", leaving the payload untouched', () => {
    const payload = Buffer.from('Hello');
    expect(encodeFrame(0x1, payload, { mask: KEY })).toEqual(hex('81 85 37fa213d 7f9f4d5158'));
    expect(payload.toString()).toBe('Hello');
  });

  it('encodes the §5.7 example: a fragmented unmasked text message', () => {
    expect(encodeFrame(0x1, Buffer.from('Hel'), { fin: false })).toEqual(hex('01 03 48656c'));
    expect(encodeFrame(0x0, Buffer.from('lo'))).toEqual(hex('80 02 6c6f'));
  });

  it('encodes the §5.7 example: 256 bytes binary in a single unmasked frame', () => {
    const frame = encodeFrame(0x2, Buffer.alloc(256, 0xab));
    expect(frame.subarray(0, 4)).toEqual(hex('82 7e 0100'));
    expect(frame).toHaveLength(260);
  });

  it('encodes the §5.7 example: 64 KiB binary in a single unmasked frame', () => {
    const frame = encodeFrame(0x2, Buffer.alloc(65536, 0xab));
    expect(frame.subarray(0, 10)).toEqual(hex('82 7f 0000000000010000'));
    expect(frame).toHaveLength(65546);
  });

  it('gives header and the payload itself as two parts, without copying', () => {
    const payload = Buffer.alloc(70_000, 1);
    const [header, body] = encodeFrameParts(0x2, payload);
    expect(header).toEqual(hex('82 7f 0000000000011170'));
    expect(body).toBe(payload);
    expect(encodeFrameParts(0x1, Buffer.from('abc'), false)[0]).toEqual(hex('01 03'));
  });
});

describe('control frame helpers (RFC 6455 §5.5)', () => {
  it('encodes the §5.7 examples: unmasked ping and masked pong with "Hello"', () => {
    expect(encodePing(Buffer.from('Hello'))).toEqual(hex('89 05 48656c6c6f'));
    expect(encodePong(Buffer.from('Hello'), KEY)).toEqual(hex('8a 85 37fa213d 7f9f4d5158'));
  });

  it('encodes empty ping and pong', () => {
    expect(encodePing()).toEqual(hex('89 00'));
    expect(encodePong()).toEqual(hex('8a 00'));
  });

  it('encodes a close with code and reason, and an empty close', () => {
    expect(encodeClose(1000, 'bye')).toEqual(hex('88 05 03e8 627965'));
    expect(encodeClose()).toEqual(hex('88 00'));
    const masked = encodeClose(1001, '', KEY);
    expect(masked).toEqual(Buffer.concat([hex('88 82 37fa213d'), Buffer.of(0x03 ^ 0x37, 0xe9 ^ 0xfa)]));
  });

  it('truncates a close reason so the frame stays within 125 bytes of payload', () => {
    expect(encodeClose(1000, 'x'.repeat(500))).toHaveLength(2 + 125);
  });

  it('refuses pings over 125 bytes', () => {
    expect(() => encodePing(Buffer.alloc(126))).toThrow(RangeError);
  });
});
