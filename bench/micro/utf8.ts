/**
 * Micro-benchmark for UTF-8 validation: the JS scanner against `buffer.isUtf8`
 * at a range of lengths, ASCII and mixed text, to place NATIVE_MIN_BYTES in
 * src/protocol/utf8.ts. Run: npx node bench/micro/utf8.ts
 */
import { isUtf8 } from 'node:buffer';
import { isValidUtf8Js } from '../../src/protocol/utf8.ts';

const LENGTHS = [4, 8, 16, 24, 32, 48, 64, 128, 1024];
const BUDGET_MS = 150;

function measure(fn: (bytes: Uint8Array) => boolean, bytes: Uint8Array): number {
  let calls = 0;
  let valid = 0;
  const deadline = performance.now() + BUDGET_MS;
  const start = process.hrtime.bigint();
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) if (fn(bytes)) valid++;
    calls += 1000;
  }
  if (valid !== calls) throw new Error('benchmark input must be valid UTF-8');
  return Number(process.hrtime.bigint() - start) / calls;
}

function text(length: number, sample: string): Uint8Array {
  const bytes = Buffer.from(sample.repeat(Math.ceil(length / Buffer.byteLength(sample)) + 1));
  let end = length;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return new Uint8Array(bytes.subarray(0, end));
}

for (const [label, sample] of [['ascii', 'hello world '], ['mixed', 'héllo wörld € 😀 ']] as const) {
  for (const length of LENGTHS) measure(isValidUtf8Js, text(length, sample));
  console.log(`${label}: length  js ns  isUtf8 ns`);
  for (const length of LENGTHS) {
    const bytes = text(length, sample);
    console.log(`${String(bytes.length).padStart(13)}  ${measure(isValidUtf8Js, bytes).toFixed(1).padStart(5)}  ${measure(isUtf8, bytes).toFixed(1).padStart(9)}`);
  }
}
