/**
 * Micro-benchmark for permessage-deflate: Shoal's synchronous codec (one
 * zlib call per message, context takeover through a preset dictionary)
 * against a persistent asynchronous zlib stream per connection (the ws
 * package's design), on chat-like JSON messages. Prints, per message size:
 * microseconds per message and compressed bytes, for compress and
 * decompress, then the memory a connection holds between messages.
 * Every loop is bounded by a time budget and a count.
 * Run: npx node --expose-gc bench/micro/deflate.ts (without --expose-gc the
 * memory figures include garbage).
 */
import { createDeflateRaw, createInflateRaw, constants as zlib } from 'node:zlib';
import type { DeflateRaw, InflateRaw } from 'node:zlib';
import type { DeflateAgreement } from '../../src/protocol/permessage-deflate-negotiation.ts';
import { PerMessageDeflate } from '../../src/protocol/permessage-deflate.ts';

const SIZES = [128, 1024, 16 * 1024, 128 * 1024];
const BUDGET_MS = 500;
const SLICES = 5;
const MAX_ROUNDS = 50_000;
const DISTINCT = 64;
const CONNECTIONS = 1000;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const gc = (globalThis as { gc?: () => void }).gc;

/** Chat-like JSON of about `size` bytes; `seed` varies ids and text so messages differ. */
function message(size: number, seed: number): Buffer {
  let text = '';
  for (let i = seed; text.length < size; i++) {
    text += JSON.stringify({ type: 'message', room: `room-${i % 13}`, user: `user-${(i * 7) % 101}`, text: `hello there, this is message ${i}`, ts: 1_700_000_000_000 + i * 37 });
  }
  return Buffer.from(text.slice(0, size));
}

function agreement(takeover: boolean, bits: number): DeflateAgreement {
  return { serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover, serverMaxWindowBits: bits, clientMaxWindowBits: bits };
}

interface Result {
  us: number;
  bytes: number;
}

/**
 * Runs `step(i)` (returning the output size) in SLICES slices, each bounded
 * by the time budget and the round cap; the fastest slice's mean time (the
 * least disturbed by other processes on a shared machine) and mean size.
 */
function timeSync(step: (i: number) => number): Result {
  gc?.();
  for (let i = 0; i < 4 * DISTINCT; i++) step(i);
  let best = Infinity;
  let bytes = 0;
  let i = 0;
  for (let slice = 0; slice < SLICES; slice++) {
    let rounds = 0;
    bytes = 0;
    const start = performance.now();
    const deadline = start + BUDGET_MS / SLICES;
    while (rounds < MAX_ROUNDS && performance.now() < deadline) {
      for (let k = 0; k < 16; k++, rounds++) bytes += step(i++);
    }
    best = Math.min(best, ((performance.now() - start) * 1000) / rounds);
    bytes /= rounds;
  }
  return { us: best, bytes };
}

async function timeAsync(step: (i: number) => Promise<number>): Promise<Result> {
  gc?.();
  for (let i = 0; i < 4 * DISTINCT; i++) await step(i);
  let best = Infinity;
  let bytes = 0;
  let i = 0;
  for (let slice = 0; slice < SLICES; slice++) {
    let rounds = 0;
    bytes = 0;
    const start = performance.now();
    const deadline = start + BUDGET_MS / SLICES;
    while (rounds < MAX_ROUNDS && performance.now() < deadline) {
      bytes += await step(i++);
      rounds++;
    }
    best = Math.min(best, ((performance.now() - start) * 1000) / rounds);
    bytes /= rounds;
  }
  return { us: best, bytes };
}

/**
 * One message through a persistent zlib stream: write, sync flush, collect
 * what the stream emitted (as ws does; reading in 'data' events keeps a large
 * output from stalling the flush).
 */
function flushThrough(stream: DeflateRaw | InflateRaw, data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const collect = (chunk: Buffer) => chunks.push(chunk);
  stream.on('data', collect);
  stream.write(data);
  return new Promise((resolve) =>
    stream.flush(zlib.Z_SYNC_FLUSH, () => {
      stream.off('data', collect);
      resolve(Buffer.concat(chunks));
    }),
  );
}

function row(label: string, result: Result): string {
  return `  ${label.padEnd(44)} ${result.us.toFixed(1).padStart(8)} us  ${result.bytes.toFixed(0).padStart(8)} B`;
}

/** RSS growth per connection after each connection compressed and decompressed one 1 KiB message. */
async function memoryPerConnection(label: string, open: () => Promise<unknown>): Promise<void> {
  const held: unknown[] = [];
  gc?.();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < CONNECTIONS; i++) held.push(await open());
  gc?.();
  const grown = process.memoryUsage().rss - before;
  console.log(`  ${label.padEnd(44)} ${(grown / CONNECTIONS / 1024).toFixed(1).padStart(8)} KiB (RSS growth)`);
  for (const item of held) {
    if (Array.isArray(item)) for (const s of item as (DeflateRaw | InflateRaw)[]) s.close();
  }
}

const sample = message(1024, 7);
// First, while the heap is fresh: RSS growth is only meaningful before other
// phases leave freed memory behind for reuse.
console.log(`memory held per connection after one 1 KiB message each way (${CONNECTIONS} connections)`);
await memoryPerConnection('persistent async streams, 15 bits', async () => {
  const deflate = createDeflateRaw({ level: 1, windowBits: 15, memLevel: 8 });
  const inflate = createInflateRaw({ windowBits: 15 });
  const compressed = await flushThrough(deflate, sample);
  await flushThrough(inflate, compressed);
  return [deflate, inflate];
});
// Shoal's codec holds plain Buffers: its retainedBytes is exact.
for (const [label, takeover, bits] of [
  ['Shoal codec, no takeover', false, 15],
  ['Shoal codec, takeover 10 bits', true, 10],
  ['Shoal codec, takeover 15 bits', true, 15],
] as const) {
  const server = new PerMessageDeflate(agreement(takeover, bits), { level: 1, memLevel: 8, thresholdBytes: 0 });
  const client = new PerMessageDeflate(agreement(takeover, bits), { level: 1, memLevel: 8, thresholdBytes: 0 }, 'client');
  server.decompress(client.compress(sample), 1 << 20);
  client.decompress(server.compress(sample), 1 << 20);
  console.log(`  ${label.padEnd(44)} ${(server.retainedBytes / 1024).toFixed(1).padStart(8)} KiB (retainedBytes)`);
}

for (const size of SIZES) {
  const messages = Array.from({ length: DISTINCT }, (_, i) => message(size, i * 1000));
  console.log(`\n${size} B messages                                     time/msg   output`);

  for (const [label, takeover, bits, level] of [
    ['compress, no takeover, level 1', false, 15, 1],
    ['compress, no takeover, level 6', false, 15, 6],
    ['compress, takeover 15 bits, level 1', true, 15, 1],
    ['compress, takeover 12 bits, level 1', true, 12, 1],
    ['compress, takeover 10 bits, level 1', true, 10, 1],
  ] as const) {
    const codec = new PerMessageDeflate(agreement(takeover, bits), { level, memLevel: 8, thresholdBytes: 0 });
    console.log(row(label, timeSync((i) => codec.compress(messages[i % DISTINCT]!).length)));
  }
  const stream = createDeflateRaw({ level: 1, windowBits: 15, memLevel: 8 });
  console.log(row('compress, persistent async stream, level 1', await timeAsync(async (i) => (await flushThrough(stream, messages[i % DISTINCT]!)).length - 4)));
  stream.close();

  // Decompression input: what a peer with context takeover (15 bits) sends, in order.
  const sender = new PerMessageDeflate(agreement(true, 15), { level: 1, memLevel: 8, thresholdBytes: 0 });
  const stream15 = Array.from({ length: DISTINCT * 4 }, (_, i) => sender.compress(messages[i % DISTINCT]!));
  const alone = new PerMessageDeflate(agreement(false, 15), { level: 1, memLevel: 8, thresholdBytes: 0 });
  const single = messages.map((m) => alone.compress(m));
  const limit = 4 * size + 1024;

  const reset = new PerMessageDeflate(agreement(false, 15), { level: 1, memLevel: 8, thresholdBytes: 0 });
  console.log(row('decompress, no takeover', timeSync((i) => reset.decompress(single[i % DISTINCT]!, limit).length)));
  // Context takeover must see the stream in order: restart the receiver with the sender's sequence.
  let receiver = new PerMessageDeflate(agreement(true, 15), { level: 1, memLevel: 8, thresholdBytes: 0 });
  console.log(
    row(
      'decompress, takeover 15 bits',
      timeSync((i) => {
        const k = i % stream15.length;
        if (k === 0) receiver = new PerMessageDeflate(agreement(true, 15), { level: 1, memLevel: 8, thresholdBytes: 0 });
        return receiver.decompress(stream15[k]!, limit).length;
      }),
    ),
  );
  let inflater = createInflateRaw({ windowBits: 15 });
  console.log(
    row(
      'decompress, persistent async stream',
      await timeAsync(async (i) => {
        const k = i % stream15.length;
        if (k === 0) {
          inflater.close();
          inflater = createInflateRaw({ windowBits: 15 });
        }
        return (await flushThrough(inflater, Buffer.concat([stream15[k]!, TAIL]))).length;
      }),
    ),
  );
  inflater.close();
}

