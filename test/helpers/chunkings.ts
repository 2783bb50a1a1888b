/**
 * Ways to cut a byte stream into chunks, to feed the same input to a
 * streaming parser at every kind of boundary: whole, 1-byte pieces, every
 * two-piece split, and seeded random splits. Each chunking gets its own
 * copy of the bytes, because the frame decoder unmasks its input in place.
 */

export interface Chunking {
  /** e.g. "whole", "1-byte pieces", "split at 7", "random #3 (seed 42)". */
  name: string;
  chunks: Buffer[];
}

export interface ChunkingOptions {
  /** How many random splits (default 8). */
  randomSplits?: number;
  /** Seed of the random splits (default 1), so failures reproduce. */
  seed?: number;
  /**
   * At most about this many two-piece splits (default 128): above it the
   * split points are the first and last max/4 positions plus evenly spaced ones.
   */
  maxTwoPieceSplits?: number;
  /** Leave out the 1-byte pieces chunking for inputs longer than this (default 1 MiB). */
  maxBytewiseLength?: number;
}

/** A small fast PRNG (mulberry32): deterministic for a seed, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts a fresh copy of `bytes` at the given ascending positions (the chunks are views of that copy). */
export function splitAt(bytes: Uint8Array, positions: readonly number[]): Buffer[] {
  const copy = Buffer.from(bytes);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const position of positions) {
    chunks.push(copy.subarray(start, position));
    start = position;
  }
  chunks.push(copy.subarray(start));
  return chunks;
}

function twoPieceSplitPoints(length: number, max: number): number[] {
  const all = length - 1;
  if (all <= max) return Array.from({ length: all }, (_, i) => i + 1);
  if (max <= 0) return [];
  // The edges matter most (headers at the front, the end of the last frame at
  // the back): a quarter of the budget at each end, the rest evenly spaced.
  const edge = Math.floor(max / 4);
  const points = new Set<number>();
  for (let i = 1; i <= edge; i++) {
    points.add(i);
    points.add(length - i);
  }
  const spaced = max - 2 * edge;
  for (let n = 1; n <= spaced; n++) points.add(Math.floor((n * length) / (spaced + 1)));
  return [...points].filter((p) => p > 0 && p < length).sort((a, b) => a - b);
}

/** All the chunkings of `bytes` described in the module comment. */
export function chunkings(bytes: Uint8Array, options: ChunkingOptions = {}): Chunking[] {
  const randomSplits = options.randomSplits ?? 8;
  const seed = options.seed ?? 1;
  const result: Chunking[] = [{ name: 'whole', chunks: [Buffer.from(bytes)] }];
  if (bytes.length > 1 && bytes.length <= (options.maxBytewiseLength ?? 1024 * 1024)) {
    result.push({ name: '1-byte pieces', chunks: splitAt(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)) });
  }
  for (const point of twoPieceSplitPoints(bytes.length, options.maxTwoPieceSplits ?? 128)) {
    result.push({ name: `split at ${point}`, chunks: splitAt(bytes, [point]) });
  }
  const random = seededRandom(seed);
  for (let n = 0; n < randomSplits && bytes.length > 1; n++) {
    const positions = new Set<number>();
    const count = 1 + Math.floor(random() * Math.min(16, bytes.length - 1));
    for (let i = 0; i < count; i++) positions.add(1 + Math.floor(random() * (bytes.length - 1)));
    result.push({
      name: `random #${n} (seed ${seed})`,
      chunks: splitAt(bytes, [...positions].sort((a, b) => a - b)),
    });
  }
  return result;
}
