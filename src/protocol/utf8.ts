/**
 * UTF-8 validation for text frames and close reasons (RFC 6455 §5.6, §8.1),
 * by the well-formed byte sequences of Unicode Table 3-7 (RFC 3629 §4):
 * no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
 */
import { isUtf8 } from 'node:buffer';

/**
 * Below this length the JS scanner beats `buffer.isUtf8` (simdutf), whose
 * fixed call cost (~22 ns) dominates short input. `npx node bench/micro/utf8.ts`
 * (Node 24.21, x64): ASCII 16 B 16 vs 22 ns, 24 B 24 vs 22 ns, 32 B 30 vs 22 ns,
 * 1 KiB 778 vs 31 ns; mixed text crosses at the same length. ws also switches at 24.
 */
export const NATIVE_MIN_BYTES = 24;

/**
 * Scanner state packed in one integer so the scan allocates nothing:
 * 0 = between code points; otherwise `needed | lower << 8 | upper << 16`,
 * the count of continuation bytes still due and the allowed range of the
 * next one; INVALID once a byte broke the rules.
 */
const INVALID = -1;
const CLEAN = 0;

/**
 * Scans bytes[from, to) starting in `state` and returns the state after the
 * last byte (INVALID as soon as a byte is not allowed). Table 3-7 ranges:
 *   C2..DF 80..BF | E0 A0..BF 80..BF | E1..EC,EE..EF 80..BF 80..BF |
 *   ED 80..9F 80..BF | F0 90..BF 80..BF 80..BF | F1..F3 80..BF x3 |
 *   F4 80..8F 80..BF 80..BF
 */
function scan(bytes: Uint8Array, from: number, to: number, state: number): number {
  let needed = state & 0xff;
  let lower = (state >>> 8) & 0xff;
  let upper = state >>> 16;
  for (let i = from; i < to; i++) {
    const byte = bytes[i]!;
    if (needed === 0) {
      if (byte < 0x80) continue;
      if (byte < 0xc2) return INVALID; // continuation byte without a lead, or overlong C0/C1
      if (byte < 0xe0) {
        needed = 1;
        lower = 0x80;
        upper = 0xbf;
      } else if (byte < 0xf0) {
        needed = 2;
        lower = byte === 0xe0 ? 0xa0 : 0x80; // E0 80..9F would be overlong
        upper = byte === 0xed ? 0x9f : 0xbf; // ED A0..BF would encode a surrogate
      } else if (byte < 0xf5) {
        needed = 3;
        lower = byte === 0xf0 ? 0x90 : 0x80; // F0 80..8F would be overlong
        upper = byte === 0xf4 ? 0x8f : 0xbf; // F4 90.. would exceed U+10FFFF
      } else {
        return INVALID; // F5..FF never appear in UTF-8
      }
    } else {
      if (byte < lower || byte > upper) return INVALID;
      lower = 0x80;
      upper = 0xbf;
      needed--;
    }
  }
  return needed === 0 ? CLEAN : needed | (lower << 8) | (upper << 16);
}

/** True when `bytes` is one complete, well-formed UTF-8 string. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  if (bytes.length < NATIVE_MIN_BYTES) return scan(bytes, 0, bytes.length, CLEAN) === CLEAN;
  return isUtf8(bytes);
}

/** `isValidUtf8` by the JS scanner alone, whatever the length (the short-input path; a reference for tests). */
export function isValidUtf8Js(bytes: Uint8Array): boolean {
  return scan(bytes, 0, bytes.length, CLEAN) === CLEAN;
}

/**
 * Where the trailing incomplete code point of bytes[from, to) starts, or
 * `to` when the range ends between code points (or ends in bytes the full
 * validator will reject anyway). Looks back at most 4 bytes.
 */
function incompleteTailStart(bytes: Uint8Array, from: number, to: number): number {
  const stop = Math.max(from, to - 4);
  for (let i = to - 1; i >= stop; i--) {
    const byte = bytes[i]!;
    if ((byte & 0xc0) === 0x80) continue;
    const length = byte < 0xc0 ? 1 : byte < 0xe0 ? 2 : byte < 0xf0 ? 3 : 4;
    return i + length > to ? i : to;
  }
  return to;
}

/**
 * Streaming validator for a text message that arrives in fragments
 * (RFC 6455 §5.6, §8.1): keeps the state of a code point split across
 * fragments, so invalid text is caught at the fragment where it appears.
 * Call `write` per fragment, `finish` after the last one; `reset` to reuse.
 */
export class Utf8Validator {
  #state: number;

  constructor() {
    this.#state = CLEAN;
  }

  /** Feeds the next bytes; false once the text so far cannot be valid UTF-8. */
  write(bytes: Uint8Array): boolean {
    let state = this.#state;
    if (state === INVALID) return false;
    const length = bytes.length;
    let i = 0;
    // Finish a code point left open by the previous fragment, byte by byte.
    while (state !== CLEAN && i < length) {
      state = scan(bytes, i, i + 1, state);
      if (state === INVALID) break;
      i++;
    }
    if (state === CLEAN && length - i >= NATIVE_MIN_BYTES) {
      // Long run: simdutf over everything up to a trailing partial code point.
      const tail = incompleteTailStart(bytes, i, length);
      if (!isUtf8(bytes.subarray(i, tail))) state = INVALID;
      else i = tail;
    }
    if (state !== INVALID && i < length) state = scan(bytes, i, length, state);
    this.#state = state;
    return state !== INVALID;
  }

  /** True when everything written is valid and ends on a code point boundary. Resets the validator. */
  finish(): boolean {
    const complete = this.#state === CLEAN;
    this.#state = CLEAN;
    return complete;
  }

  /** Forgets all input, ready for a new message. */
  reset(): void {
    this.#state = CLEAN;
  }
}
