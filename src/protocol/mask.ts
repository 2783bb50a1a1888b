/**
 * Payload masking, RFC 6455 §5.3: octet i of the payload is XORed with octet
 * (i MOD 4) of the 32-bit masking key. Masking and unmasking are the same
 * operation, so one function does both, in place.
 */

/**
 * Below this many bytes the byte loop beats the word loop, whose setup (an
 * Int32Array view and the rotated key, ~35 ns) does not pay off yet.
 * `npx node bench/micro/mask.ts` (Node 24.21, x64), byte vs word loop:
 * 32 B 27 vs 36 ns, 48 B 39-49 vs 38-44 ns, 64 B 54 vs 39 ns, 64 KiB 43 vs 6.6 us.
 */
export const WORD_LOOP_MIN_BYTES = 48;

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
  if (data.length < WORD_LOOP_MIN_BYTES) unmaskByteLoop(data, key, offset);
  else unmaskWordLoop(data, key, offset);
}

/** The reference implementation: one byte at a time. Same contract as `unmask`. */
export function unmaskByteLoop(data: Uint8Array, key: Uint8Array, offset: number = 0): void {
  const length = data.length;
  for (let i = 0; i < length; i++) data[i]! ^= key[(offset + i) & 3]!;
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
