/**
 * Unmasking in place (RFC 6455 §5.3) with WebAssembly SIMD, for payloads in
 * memory that WebAssembly can reach: an `UnmaskArena` is a buffer backed by
 * its own `WebAssembly.Memory`, and the worker's socket reads land in one
 * (transport/shared-read-buffer.ts), so a frame that lies inside a read is
 * unmasked where it is.
 *
 * Why not bufferutil there: its `unmask` XORs 16 bytes per iteration, each
 * load waiting for the store before it; uWebSockets.js's loop does four
 * 16-byte loads, then four XORs and four stores, per 64 bytes. `perf` of the
 * 64 KiB echo, one worker, pinned, saturated (docs/measurements.md, "Large
 * messages, fourth pass"): bufferutil 18.7 % of Shoal's CPU, uWS's whole
 * message handler, unmasking included, 13.4 % of its own. The same loops in C on a 64 KiB
 * payload just copied into a 256 KiB buffer: 16 bytes per iteration
 * 3.6-4.2 us, 64 bytes 2.7-3.2 us. This module's loop is the latter, and a
 * call into WebAssembly is cheaper than bufferutil's N-API call (which
 * reads each Buffer's ArrayBuffer through V8's API).
 */

/** Bytes of one WebAssembly memory page. */
export const WASM_PAGE_BYTES = 65536;

/**
 * The module, hand-assembled (no toolchain for a 100-byte binary): one
 * imported memory `e.m` and one function `u(p, n, k)` that XORs the `n`
 * bytes at `p` with the 32-bit key `k` (key octet 0 in its low byte, so
 * that the word's little-endian bytes are the key in order): 64 bytes per
 * iteration (four v128 loads, XORs, stores), then the last 0-63 bytes one
 * at a time, rotating the key. Equivalent text format:
 *
 *   (func (export "u") (param $p i32) (param $n i32) (param $k i32)
 *     (local $end i32) (local $kv v128)
 *     (local.set $kv (i32x4.splat (local.get $k)))
 *     (local.set $end (i32.add (local.get $p) (i32.and (local.get $n) (i32.const -64))))
 *     (block (loop
 *       (br_if 1 (i32.ge_u (local.get $p) (local.get $end)))
 *       (v128.store offset=0 (local.get $p) (v128.xor (v128.load offset=0 (local.get $p)) (local.get $kv)))
 *       ... offset=16, 32, 48 ...
 *       (local.set $p (i32.add (local.get $p) (i32.const 64)))
 *       (br 0)))
 *     (local.set $end (i32.add (local.get $p) (i32.and (local.get $n) (i32.const 63))))
 *     (block (loop
 *       (br_if 1 (i32.ge_u (local.get $p) (local.get $end)))
 *       (i32.store8 (local.get $p) (i32.xor (i32.load8_u (local.get $p)) (local.get $k)))
 *       (local.set $k (i32.rotr (local.get $k) (i32.const 8)))
 *       (local.set $p (i32.add (local.get $p) (i32.const 1)))
 *       (br 0))))
 */
function moduleBytes(): Uint8Array {
  /** An unsigned LEB128 number. */
  const leb = (value: number): number[] => (value < 0x80 ? [value] : [(value & 0x7f) | 0x80, ...leb(value >>> 7)]);
  /** A section: its id, then its contents' length. */
  const section = (id: number, contents: number[]): number[] => [id, ...leb(contents.length), ...contents];
  const get = (local: number): number[] => [0x20, local];
  const set = (local: number): number[] => [0x21, local];
  const xorStore = (offset: number): number[] => [
    ...get(0),
    ...get(0),
    ...[0xfd, 0x00, 0x00, offset], // v128.load align=1 offset
    ...get(4),
    ...[0xfd, 0x51], // v128.xor
    ...[0xfd, 0x0b, 0x00, offset], // v128.store align=1 offset
  ];
  const exitWhenAtEnd = [...get(0), ...get(3), 0x4f, 0x0d, 0x01]; // i32.ge_u; br_if 1
  const body = [
    ...[0x02, 0x01, 0x7f, 0x01, 0x7b], // locals: 1 i32 ($end), 1 v128 ($kv)
    ...get(2),
    ...[0xfd, 0x11], // i32x4.splat
    ...set(4),
    ...get(0),
    ...get(1),
    ...[0x41, 0x40, 0x71, 0x6a], // i32.const -64; i32.and; i32.add
    ...set(3),
    ...[0x02, 0x40, 0x03, 0x40], // block, loop
    ...exitWhenAtEnd,
    ...xorStore(0),
    ...xorStore(16),
    ...xorStore(32),
    ...xorStore(48),
    ...get(0),
    ...[0x41, 0xc0, 0x00, 0x6a], // i32.const 64; i32.add
    ...set(0),
    ...[0x0c, 0x00, 0x0b, 0x0b], // br 0; end loop; end block
    ...get(0),
    ...get(1),
    ...[0x41, 0x3f, 0x71, 0x6a], // i32.const 63; i32.and; i32.add
    ...set(3),
    ...[0x02, 0x40, 0x03, 0x40], // block, loop
    ...exitWhenAtEnd,
    ...get(0),
    ...get(0),
    ...[0x2d, 0x00, 0x00], // i32.load8_u
    ...get(2),
    ...[0x73, 0x3a, 0x00, 0x00], // i32.xor; i32.store8
    ...get(2),
    ...[0x41, 0x08, 0x78], // i32.const 8; i32.rotr
    ...set(2),
    ...get(0),
    ...[0x41, 0x01, 0x6a], // i32.const 1; i32.add
    ...set(0),
    ...[0x0c, 0x00, 0x0b, 0x0b], // br 0; end loop; end block
    0x0b, // end of the function
  ];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]), // type 0: (i32, i32, i32) -> ()
    ...section(2, [0x01, 0x01, 0x65, 0x01, 0x6d, 0x02, 0x00, 0x01]), // import "e" "m": memory, at least 1 page
    ...section(3, [0x01, 0x00]), // function 0 has type 0
    ...section(7, [0x01, 0x01, 0x75, 0x00, 0x00]), // export "u": function 0
    ...section(10, [0x01, ...leb(body.length), ...body]), // its code
  ]);
}

/** The part of the WebAssembly JavaScript API used here (the project's libraries, es2024 and Node's types, do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** The compiled module, or null where WebAssembly SIMD is not available (or SHOAL_NO_WASM_UNMASK=1). */
const compiled: object | null = compile();

function compile(): object | null {
  if (process.env.SHOAL_NO_WASM_UNMASK === '1' || wasm === undefined) return null;
  try {
    return new wasm.Module(moduleBytes());
  } catch {
    return null;
  }
}

/** A buffer whose payloads can be unmasked in place by WebAssembly (see the module comment). */
export class UnmaskArena {
  /** The whole memory, as a Buffer. */
  readonly buffer: Buffer;
  /** The memory's ArrayBuffer (`buffer.buffer`), kept so that a view's memory is compared without the getter's call. */
  readonly memory: ArrayBuffer;
  readonly #unmask: (pointer: number, length: number, key: number) => void;

  /** `pages` of 64 KiB; throws where WebAssembly SIMD is not available (`UnmaskArena.available`). */
  constructor(pages: number) {
    if (compiled === null) throw new Error('WebAssembly SIMD unmasking is not available');
    const api = wasm as WasmApi;
    const memory = new api.Memory({ initial: pages, maximum: pages });
    const instance = new api.Instance(compiled, { e: { m: memory } });
    this.#unmask = instance.exports.u as (pointer: number, length: number, key: number) => void;
    this.memory = memory.buffer;
    this.buffer = Buffer.from(this.memory);
  }

  /** True when arenas can be made here. */
  static get available(): boolean {
    return compiled !== null;
  }

  /**
   * XORs `data` (a view of this arena's memory) in place with the 4-byte
   * `key` (RFC 6455 §5.3); `offset` is the position of `data[0]` within the
   * masked payload, as for mask.ts `unmask`.
   */
  unmask(data: Uint8Array, key: Uint8Array, offset: number = 0): void {
    const word = key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24);
    const shift = (offset & 3) << 3;
    // Key octet (offset & 3) first: the word rotated right by that many octets.
    this.#unmask(data.byteOffset, data.length, shift === 0 ? word : (word >>> shift) | (word << (32 - shift)));
  }
}

/**
 * The thread's arena in use (the read buffer's), null when none: mask.ts
 * `unmask` unmasks a payload of at least NATIVE_UNMASK_MIN_BYTES that is a
 * view of its memory here instead of in bufferutil. One per thread.
 */
export let currentArena: UnmaskArena | null = null;

/** Makes `arena` the thread's arena (transport/shared-read-buffer.ts: the read buffer, and each buffer that replaces it). */
export function useUnmaskArena(arena: UnmaskArena | null): void {
  currentArena = arena;
}
