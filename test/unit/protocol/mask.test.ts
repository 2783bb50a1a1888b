import { describe, expect, it } from 'vitest';
import { NATIVE_UNMASK_MIN_BYTES, nativeMask, unmask, unmaskByteLoop, unmaskedCopy, unmaskInto, unmaskWordLoop, WORD_LOOP_MIN_BYTES } from '../../../src/protocol/mask.ts';

/** The RFC 6455 §5.3 definition, written out: j = i MOD 4, transformed-octet-i = original-octet-i XOR masking-key-octet-j. */
function reference(data: Uint8Array, key: Uint8Array, offset: number): Uint8Array {
  return data.map((byte, i) => byte ^ key[(offset + i) % 4]!);
}

const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** A payload of `length` bytes placed at byte offset `shift` of its ArrayBuffer (to vary alignment). */
function payload(length: number, shift: number): Uint8Array {
  const backing = new Uint8Array(length + shift + 8);
  for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + 7) & 0xff;
  return backing.subarray(shift, shift + length);
}

describe('unmask (RFC 6455 §5.3)', () => {
  it('matches the example of RFC 6455 §5.7: masked "Hello"', () => {
    const data = Uint8Array.of(0x7f, 0x9f, 0x4d, 0x51, 0x58);
    unmask(data, KEY);
    expect(Buffer.from(data).toString()).toBe('Hello');
  });

  for (const [name, fn] of [
    ['unmask', unmask],
    ['the byte loop', unmaskByteLoop],
    ['the word loop', unmaskWordLoop],
  ] as const) {
    it(`${name} equals the byte-by-byte definition for lengths 0-40 at every alignment and key offset`, () => {
      for (let length = 0; length <= 40; length++) {
        for (let shift = 0; shift < 4; shift++) {
          for (let offset = 0; offset < 4; offset++) {
            const data = payload(length, shift);
            const expected = reference(data, KEY, offset);
            fn(data, KEY, offset);
            expect(data, `length ${length}, shift ${shift}, offset ${offset}`).toEqual(expected);
          }
        }
      }
    });
  }

  it('equals the definition on long payloads, unaligned, with any key offset', () => {
    const lengths = [WORD_LOOP_MIN_BYTES - 1, WORD_LOOP_MIN_BYTES, NATIVE_UNMASK_MIN_BYTES - 1, NATIVE_UNMASK_MIN_BYTES, 1000, 65_537];
    for (const length of lengths) {
      for (let shift = 0; shift < 4; shift++) {
        for (let offset = 0; offset < 4; offset++) {
          const data = payload(length, shift);
          const expected = reference(data, KEY, offset);
          unmask(data, KEY, offset);
          expect(Buffer.from(data).equals(Buffer.from(expected)), `length ${length}, shift ${shift}, offset ${offset}`).toBe(true);
        }
      }
    }
  });

  it('uses the native addon for long payloads where it loads (bufferutil is an optional dependency of this repo)', () => {
    // npm ci installs bufferutil here; a machine without a prebuilt addon for
    // its platform falls back to the JS loops, which the tests above cover.
    expect(nativeMask === null || typeof nativeMask.unmask === 'function').toBe(true);
    if (process.env.SHOAL_NO_NATIVE_MASK !== '1') expect(nativeMask).not.toBeNull();
  });

  it('touches no byte outside the view it is given', () => {
    const backing = new Uint8Array(200).fill(0xaa);
    unmask(backing.subarray(3, 197), KEY);
    expect([...backing.subarray(0, 3), ...backing.subarray(197)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
  });

  it('is its own inverse: masking twice restores the payload', () => {
    const data = payload(333, 1);
    const original = Uint8Array.from(data);
    unmask(data, KEY, 2);
    expect(data).not.toEqual(original);
    unmask(data, KEY, 2);
    expect(data).toEqual(original);
  });

  it('unmasks a payload piece by piece when each piece gets its offset in the payload', () => {
    const whole = payload(150, 0);
    const pieces = Uint8Array.from(whole);
    unmask(whole, KEY);
    for (const [from, to] of [[0, 3], [3, 70], [70, 71], [71, 150]] as const) {
      unmask(pieces.subarray(from, to), KEY, from);
    }
    expect(pieces).toEqual(whole);
  });

  it('leaves the payload unchanged for an all-zero key', () => {
    const data = payload(100, 1);
    const original = Uint8Array.from(data);
    unmask(data, new Uint8Array(4));
    expect(data).toEqual(original);
  });
});

describe('unmaskedCopy', () => {
  it('copies a range unmasked (key octet 0 on its first byte) and leaves the source as it was, for every size path', () => {
    for (const length of [0, 1, 2, 3, 4, 5, 31, WORD_LOOP_MIN_BYTES + 1, NATIVE_UNMASK_MIN_BYTES - 1, NATIVE_UNMASK_MIN_BYTES, 1000, 65_537]) {
      for (const start of [0, 1, 3]) {
        const source = payload(length + start + 5, 0);
        const before = Uint8Array.from(source);
        const copy = unmaskedCopy(source, start, length, KEY);
        expect(copy.buffer === source.buffer, `length ${length}`).toBe(false);
        expect(Uint8Array.from(copy), `length ${length} from ${start}`).toEqual(reference(source.subarray(start, start + length), KEY, 0));
        expect(source).toEqual(before);
      }
    }
  });

  it('copies as it is with an all-zero key', () => {
    const source = payload(300, 1);
    expect(Uint8Array.from(unmaskedCopy(source, 7, 200, new Uint8Array(4)))).toEqual(source.subarray(7, 207));
  });
});

describe('unmaskInto', () => {
  it('unmasks a piece of a payload at any key offset into any output position', () => {
    for (const length of [1, 5, 64, NATIVE_UNMASK_MIN_BYTES, 3000]) {
      for (const keyOffset of [0, 1, 2, 3, 6]) {
        const source = payload(length + 9, 0);
        const output = new Uint8Array(length + 20).fill(0xaa);
        unmaskInto(source, 9, length, KEY, keyOffset, output, 7);
        expect(output.subarray(7, 7 + length), `length ${length} key offset ${keyOffset}`).toEqual(reference(source.subarray(9, 9 + length), KEY, keyOffset));
        expect(output.subarray(0, 7).every((b) => b === 0xaa) && output.subarray(7 + length).every((b) => b === 0xaa)).toBe(true);
      }
    }
  });
});
