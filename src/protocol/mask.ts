/**
 * Payload masking, RFC 6455 §5.3: octet i of the payload is XORed with octet
 * (i MOD 4) of the 32-bit masking key. Masking and unmasking are the same
 * operation, so one function does both, in place.
 */
import { createRequire } from 'node:module';
import { currentArena } from './wasm-unmask.ts';

/**
 * Below this many bytes the byte loop beats the word loop, whose setup (an
 * Int32Array view and the rotated key, ~35 ns) does not pay off yet.
 * `npx node bench/micro/mask.ts` (Node 24.21, x64, quiet machine), byte vs
 * word loop: 32 B 19 vs 38 ns, 64 B 32 vs 40 ns, 96 B 45 vs 44 ns,
 * 128 B 59 vs 47 ns, 64 KiB 27 vs 7 us (the word loop runs at ~9 GB/s).
 */
export const WORD_LOOP_MIN_BYTES = 96;

/**
 * From this many bytes the optional native addon `bufferutil` (the one the ws
 * package uses) unmasks faster than the word loop. Measured on Node 24.21,
 * x64, word loop vs native: 64 B 46 vs 43 ns, 128 B 63 vs 44 ns, 1 KiB 368 vs
 * 62 ns, 64 KiB 20.0 vs 1.4 us (~46 GB/s). Without the addon (it is an
 * optional dependency, or SHOAL_NO_NATIVE_MASK=1) the JS loops do all sizes.
 */
export const NATIVE_UNMASK_MIN_BYTES = 128;

interface NativeMask {
  unmask(buffer: Uint8Array, mask: Uint8Array): void;
  /** Writes `source` XORed with `mask` into `output` from `offset`, `length` bytes. */
  mask(source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number): void;
}

function loadNativeMask(): NativeMask | null {
  if (process.env.SHOAL_NO_NATIVE_MASK === '1') return null;
  try {
    return createRequire(import.meta.url)('bufferutil') as NativeMask;
  } catch {
    return null;
  }
}

/** The native unmask when the optional `bufferutil` addon loads, else null. */
export const nativeMask: NativeMask | null = loadNativeMask();
const rotatedKey = new Uint8Array(4);

/**
 * XORs `data` in place with the 4-byte masking key `key` (RFC 6455 §5.3).
 * `offset` is the position of `data[0]` within the masked payload, so a
 * payload can be unmasked piece by piece: pass the count of payload bytes
 * that came before this piece. An all-zero key is a no-op and is skipped.
 */
export function unmask(data: Uint8Array, key: Uint8Array, offset: number = 0): void {
  // XOR with zero changes nothing: a zero key (allowed by §5.3, which only
  // asks for unpredictability) costs nothing to unmask.
  if ((key[0]! | key[1]! | key[2]! | key[3]!) === 0) return;
  const length = data.length;
  if (length < WORD_LOOP_MIN_BYTES) unmaskByteLoop(data, key, offset);
  else if (length >= NATIVE_UNMASK_MIN_BYTES && currentArena !== null && data.buffer === currentArena.memory) currentArena.unmask(data, key, offset);
  else if (nativeMask === null || length < NATIVE_UNMASK_MIN_BYTES) unmaskWordLoop(data, key, offset);
  else if ((offset & 3) === 0) nativeMask.unmask(data, key);
  else {
    // The addon always starts at key byte 0: rotate the key to the offset.
    for (let i = 0; i < 4; i++) rotatedKey[i] = key[(offset + i) & 3]!;
    nativeMask.unmask(data, rotatedKey);
  }
}

/**
 * A byte at a time, four per iteration with the key rotated to `offset`
 * up front: no `& 3` and no key loads in the loop (32 B in 19 ns, 64 B in
 * 32 ns, where the plain `data[i] ^= key[(offset + i) & 3]` loop took 27 and
 * 54 ns). Same contract as `unmask`.
 */
export function unmaskByteLoop(data: Uint8Array, key: Uint8Array, offset: number = 0): void {
  const length = data.length;
  const k0 = key[offset & 3]!;
  const k1 = key[(offset + 1) & 3]!;
  const k2 = key[(offset + 2) & 3]!;
  const k3 = key[(offset + 3) & 3]!;
  let i = 0;
  for (const end = length - 3; i < end; i += 4) {
    data[i]! ^= k0;
    data[i + 1]! ^= k1;
    data[i + 2]! ^= k2;
    data[i + 3]! ^= k3;
  }
  if (i < length) data[i++]! ^= k0;
  if (i < length) data[i++]! ^= k1;
  if (i < length) data[i]! ^= k2;
}

/**
 * 32 bits at a time: a byte loop up to the first 4-byte aligned address
 * (Int32Array views need an aligned byte offset), then whole words XORed with
 * the key rotated to line up with that address, then the remaining bytes.
 * Same contract as `unmask`.
 */
export function unmaskWordLoop(data: Uint8Array, key: Uint8Array, offset: number = 0): void {
  const length = data.length;
  const prefix = Math.min((4 - (data.byteOffset & 3)) & 3, length);
  for (let i = 0; i < prefix; i++) data[i]! ^= key[(offset + i) & 3]!;
  const words = (length - prefix) >>> 2;
  if (words > 0) {
    const start = offset + prefix;
    const b0 = key[start & 3]!;
    const b1 = key[(start + 1) & 3]!;
    const b2 = key[(start + 2) & 3]!;
    const b3 = key[(start + 3) & 3]!;
    // Int32Array reads in platform byte order; the first payload byte of a
    // word is its lowest byte on little-endian machines.
    const word = IS_LITTLE_ENDIAN
      ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
      : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
    const view = new Int32Array(data.buffer, data.byteOffset + prefix, words);
    for (let i = 0; i < words; i++) view[i]! ^= word;
  }
  for (let i = prefix + words * 4; i < length; i++) data[i]! ^= key[(offset + i) & 3]!;
}

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Writes `source[start, start + length)` XORed with `key` into `output` from
 * `outputOffset`, leaving `source` as it is: copying and unmasking in one
 * pass. `keyOffset` is the position of `source[start]` within the masked
 * payload, as for `unmask`. A zero key copies. Short payloads in one byte
 * loop; longer ones in the native addon's one pass, else copied and then
 * unmasked in place by `unmask`'s word loop (which beats a byte loop from
 * about 160 bytes: 512 B 236 vs 566 ns, 16 KiB 5.1 vs 33 us).
 */
export function unmaskInto(source: Uint8Array, start: number, length: number, key: Uint8Array, keyOffset: number, output: Uint8Array, outputOffset: number): void {
  if (length >= NATIVE_UNMASK_MIN_BYTES) {
    if (nativeMask !== null) {
      // The addon always starts at key byte 0: rotate the key to the offset.
      for (let i = 0; i < 4; i++) rotatedKey[i] = key[(keyOffset + i) & 3]!;
      nativeMask.mask(source.subarray(start, start + length), rotatedKey, output, outputOffset, length);
    } else {
      const target = output.subarray(outputOffset, outputOffset + length);
      target.set(source.subarray(start, start + length));
      unmask(target, key, keyOffset);
    }
    return;
  }
  const k0 = key[keyOffset & 3]!;
  const k1 = key[(keyOffset + 1) & 3]!;
  const k2 = key[(keyOffset + 2) & 3]!;
  const k3 = key[(keyOffset + 3) & 3]!;
  let i = 0;
  for (const end = length - 3; i < end; i += 4) {
    output[outputOffset + i] = source[start + i]! ^ k0;
    output[outputOffset + i + 1] = source[start + i + 1]! ^ k1;
    output[outputOffset + i + 2] = source[start + i + 2]! ^ k2;
    output[outputOffset + i + 3] = source[start + i + 3]! ^ k3;
  }
  if (i < length) output[outputOffset + i] = source[start + i++]! ^ k0;
  if (i < length) output[outputOffset + i] = source[start + i++]! ^ k1;
  if (i < length) output[outputOffset + i] = source[start + i]! ^ k2;
}

/**
 * `source[start, start + length)` XORed with `key` (key octet 0 on
 * `source[start]`, RFC 6455 §5.3) in a new Buffer, `source` left as it is:
 * for payloads that must not stay in the buffer they were read into.
 */
export function unmaskedCopy(source: Uint8Array, start: number, length: number, key: Uint8Array): Buffer {
  const output = Buffer.allocUnsafe(length);
  unmaskInto(source, start, length, key, 0, output, 0);
  return output;
}
