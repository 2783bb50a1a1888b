/**
 * Micro-benchmark for unmasking: the byte loop against the word loop at a
 * range of lengths, to place WORD_LOOP_MIN_BYTES in src/protocol/mask.ts.
 * Run: npx node bench/micro/mask.ts
 */
import { unmaskByteLoop, unmaskWordLoop } from '../../src/protocol/mask.ts';

const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
const LENGTHS = [8, 16, 24, 32, 48, 64, 96, 128, 256, 1024, 65536];
const BUDGET_MS = 150;

/** Nanoseconds per call of `fn` on a buffer of `length` bytes at an unaligned offset. */
function measure(fn: (data: Uint8Array, key: Uint8Array, offset: number) => void, length: number): number {
  const backing = new Uint8Array(length + 8);
  const data = backing.subarray(1, 1 + length);
  let calls = 0;
  const deadline = performance.now() + BUDGET_MS;
  const start = process.hrtime.bigint();
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) fn(data, KEY, i);
    calls += 1000;
  }
  return Number(process.hrtime.bigint() - start) / calls;
}

// Warm both paths up before measuring so neither pays for compilation.
for (const length of LENGTHS) {
  measure(unmaskByteLoop, length);
  measure(unmaskWordLoop, length);
}
console.log('length  byte-loop ns  word-loop ns  word MB/s');
for (const length of LENGTHS) {
  const bytes = measure(unmaskByteLoop, length);
  const words = measure(unmaskWordLoop, length);
  const mbs = (length / words) * 1000;
  console.log(`${String(length).padStart(6)}  ${bytes.toFixed(1).padStart(12)}  ${words.toFixed(1).padStart(12)}  ${mbs.toFixed(0).padStart(9)}`);
}
