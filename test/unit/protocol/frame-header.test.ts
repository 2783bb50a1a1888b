import { describe, expect, it } from 'vitest';
import { Opcode } from '../../../src/protocol/constants.ts';
import {
  MAX_SERVER_HEADER_BYTES,
  frameHeaderLength,
  readFrameHeaderLength,
  writeFrameHeader,
  writeFrameHeaderBefore,
} from '../../../src/protocol/frame-header.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const KEY = fromHex('37fa213d');

/** Writes one header at `offset` in a buffer of 0xee bytes; returns the header bytes and the returned offset. */
function write(
  offset: number,
  opcode: number,
  length: number,
  fin: boolean,
  rsv1: boolean,
  mask: Uint8Array | null,
): { bytes: string; end: number; target: Uint8Array } {
  const target = new Uint8Array(offset + 14 + 2).fill(0xee);
  const end = writeFrameHeader(target, offset, opcode, length, fin, rsv1, mask);
  return { bytes: hex(target.subarray(offset, end)), end, target };
}

describe('writeFrameHeader (RFC 6455 §5.2)', () => {
  const fixtures: [string, [number, number, boolean, boolean, Uint8Array | null], string][] = [
    ['writes a 7-bit length for payloads under 126 bytes', [Opcode.TEXT, 5, true, false, null], '81 05'],
    ['writes an empty payload as length 0', [Opcode.BINARY, 0, true, false, null], '82 00'],
    ['writes 125 bytes, the largest 7-bit length, in the 7-bit field', [Opcode.BINARY, 125, true, false, null], '82 7d'],
    ['writes the 16-bit extended length for 126..65535 bytes: 126', [Opcode.BINARY, 126, true, false, null], '82 7e 007e'],
    ['writes the 16-bit extended length for 126..65535 bytes: 65535', [Opcode.BINARY, 65_535, true, false, null], '82 7e ffff'],
    ['writes the 64-bit extended length from 65536 bytes', [Opcode.BINARY, 65_536, true, false, null], '82 7f 0000000000010000'],
    ['writes a 64-bit length beyond 2^32 with the high word first', [Opcode.BINARY, 2 ** 32 + 5, true, false, null], '82 7f 0000000100000005'],
    ['writes 2^53 - 1 with the most significant bit 0', [Opcode.BINARY, Number.MAX_SAFE_INTEGER, true, false, null], '82 7f 001fffffffffffff'],
    ['sets MASK and writes the key after a 7-bit length (§5.3)', [Opcode.TEXT, 5, true, false, KEY], '81 85 37fa213d'],
    ['sets MASK and writes the key after a 16-bit length (§5.3)', [Opcode.BINARY, 256, true, false, KEY], '82 fe 0100 37fa213d'],
    ['sets MASK and writes the key after a 64-bit length (§5.3)', [Opcode.BINARY, 65_536, true, false, KEY], '82 ff 0000000000010000 37fa213d'],
    ['sets RSV1 for a compressed message (RFC 7692 §6)', [Opcode.TEXT, 1, true, true, null], 'c1 01'],
    ['clears FIN on a first fragment (§5.4)', [Opcode.TEXT, 3, false, false, null], '01 03'],
    ['clears FIN on a middle continuation fragment (§5.4)', [Opcode.CONTINUATION, 2, false, false, null], '00 02'],
    ['sets RSV1 with FIN clear on the first fragment of a compressed message', [Opcode.BINARY, 300, false, true, null], '42 7e 012c'],
    ['writes a control frame opcode (§5.5)', [Opcode.PONG, 0, true, false, null], '8a 00'],
  ];
  for (const [name, args, expected] of fixtures) {
    it(`${name} (RFC 6455 §5.2)`, () => {
      const { bytes, end } = write(3, ...args);
      expect(bytes).toBe(hex(fromHex(expected)));
      // Returns the offset just past the header, where the payload goes.
      expect(end).toBe(3 + frameHeaderLength(args[1], args[4] !== null));
    });
  }

  it('writes nothing outside the header', () => {
    const { target, end } = write(3, Opcode.BINARY, 65_536, true, false, KEY);
    expect(hex(target.subarray(0, 3))).toBe('eeeeee');
    expect(hex(target.subarray(end))).toBe('ee'.repeat(target.length - end));
  });
});

describe('frameHeaderLength (RFC 6455 §5.2)', () => {
  it.each([
    [0, false, 2],
    [125, false, 2],
    [126, false, 4],
    [65_535, false, 4],
    [65_536, false, 10],
    [125, true, 6],
    [126, true, 8],
    [65_536, true, 14],
  ])('a %i-byte payload (masked: %s) takes a %i-byte header', (length, masked, bytes) => {
    expect(frameHeaderLength(length, masked)).toBe(bytes);
  });

  it('is at most MAX_SERVER_HEADER_BYTES for an unmasked (server) frame', () => {
    expect(frameHeaderLength(Number.MAX_SAFE_INTEGER, false)).toBe(MAX_SERVER_HEADER_BYTES);
  });
});

describe('writeFrameHeaderBefore (RFC 6455 §5.2)', () => {
  it.each([
    [0, '82 00'],
    [125, '82 7d'],
    [126, '82 7e 007e'],
    [65_535, '82 7e ffff'],
    [65_536, '82 7f 0000000000010000'],
    [2 ** 32 + 5, '82 7f 0000000100000005'],
  ])('ends a final unmasked header for %i bytes exactly at `end`', (length, expected) => {
    const end = MAX_SERVER_HEADER_BYTES + 1;
    const target = new Uint8Array(end + 1).fill(0xee);
    const start = writeFrameHeaderBefore(target, end, Opcode.BINARY, length);
    expect(hex(target.subarray(start, end))).toBe(hex(fromHex(expected)));
    expect(start).toBe(end - frameHeaderLength(length, false));
    // The payload's first byte (at `end`) and the bytes before the header are untouched.
    expect(target[end]).toBe(0xee);
    expect(hex(target.subarray(0, start))).toBe('ee'.repeat(start));
  });

  it('fits in the MAX_SERVER_HEADER_BYTES reserved before the payload', () => {
    const target = new Uint8Array(MAX_SERVER_HEADER_BYTES);
    expect(writeFrameHeaderBefore(target, MAX_SERVER_HEADER_BYTES, Opcode.TEXT, 2 ** 40)).toBe(0);
    expect(hex(target)).toBe('817f0000010000000000');
  });
});

describe('readFrameHeaderLength (RFC 6455 §5.2)', () => {
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 2 ** 32 + 5])(
    'agrees with frameHeaderLength for the unmasked header of a %i-byte payload',
    (length) => {
      const target = new Uint8Array(MAX_SERVER_HEADER_BYTES);
      writeFrameHeader(target, 0, Opcode.BINARY, length, true, false, null);
      expect(readFrameHeaderLength(target)).toBe(frameHeaderLength(length, false));
    },
  );
});
