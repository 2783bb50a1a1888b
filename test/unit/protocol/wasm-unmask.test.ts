import { afterEach, describe, expect, it } from 'vitest';
import { unmask } from '../../../src/protocol/mask.ts';
import { currentArena, UnmaskArena, useUnmaskArena, WASM_PAGE_BYTES } from '../../../src/protocol/wasm-unmask.ts';

/** The RFC 6455 §5.3 definition, written out: j = i MOD 4, transformed-octet-i = original-octet-i XOR masking-key-octet-j. */
function reference(data: Uint8Array, key: Uint8Array, offset: number): Uint8Array {
  return data.map((byte, i) => byte ^ key[(offset + i) % 4]!);
}

const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
const FILL = 0xa5;

/** Fills the arena with FILL, then `length` pattern bytes at `start`; returns their view. */
function place(arena: UnmaskArena, start: number, length: number): Uint8Array {
  arena.buffer.fill(FILL);
  const view = arena.buffer.subarray(start, start + length);
  for (let i = 0; i < length; i++) view[i] = (i * 31 + start) & 0xff;
  return view;
}

describe('UnmaskArena (WebAssembly SIMD unmasking in place)', () => {
  const saved = currentArena;
  afterEach(() => useUnmaskArena(saved));

  it('is available on the Node version the project pins', () => {
    expect(UnmaskArena.available).toBe(true);
  });

  it('spans its pages', () => {
    const arena = new UnmaskArena(2);
    expect(arena.buffer.length).toBe(2 * WASM_PAGE_BYTES);
    expect(arena.buffer.buffer).toBe(arena.memory);
  });

  it('equals the byte-by-byte definition at every length to 200, every alignment and key offset, touching nothing around', () => {
    const arena = new UnmaskArena(1);
    for (let length = 0; length <= 200; length++) {
      for (let start = 1; start <= 17; start += 4) {
        for (let offset = 0; offset < 4; offset++) {
          const view = place(arena, start, length);
          const expected = reference(view, KEY, offset);
          arena.unmask(view, KEY, offset);
          expect(Buffer.from(view).equals(Buffer.from(expected)), `length ${length} start ${start} offset ${offset}`).toBe(true);
          expect(arena.buffer[start - 1]).toBe(FILL);
          expect(arena.buffer[start + length]).toBe(FILL);
        }
      }
    }
  });

  it('unmasks a 64 KiB payload ending at the memory end (the last 64-byte block and a tail)', () => {
    const arena = new UnmaskArena(2);
    const length = 65536 + 45;
    const start = arena.buffer.length - length;
    const view = place(arena, start, length);
    const expected = reference(view, KEY, 3);
    arena.unmask(view, KEY, 3);
    expect(Buffer.from(view).equals(Buffer.from(expected))).toBe(true);
    expect(arena.buffer[start - 1]).toBe(FILL);
  });

  it('serves mask.ts unmask for views of the thread arena at or above the native threshold, and only those', () => {
    const arena = new UnmaskArena(1);
    useUnmaskArena(arena);
    for (const length of [0, 5, 127, 128, 129, 1000, 4099]) {
      for (const offset of [0, 1, 2, 3]) {
        const view = place(arena, 3, length);
        const expected = reference(view, KEY, offset);
        unmask(view, KEY, offset);
        expect(Buffer.from(view).equals(Buffer.from(expected)), `arena, length ${length} offset ${offset}`).toBe(true);
        // The same bytes outside any arena take the other paths, with the same result.
        const outside = Uint8Array.from(expected);
        unmask(outside, KEY, offset);
        unmask(outside, KEY, offset);
        expect(Buffer.from(outside).equals(Buffer.from(expected))).toBe(true);
      }
    }
    // A view of an arena that is not the thread's is unmasked too (by the other paths).
    const other = new UnmaskArena(1);
    const view = place(other, 9, 3000);
    const expected = reference(view, KEY, 2);
    unmask(view, KEY, 2);
    expect(Buffer.from(view).equals(Buffer.from(expected))).toBe(true);
  });
});
