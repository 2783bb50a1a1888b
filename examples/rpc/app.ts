/**
 * A small computation service on the Shoal msgpack/JSON subprotocols.
 *
 *   npx shoal serve --app examples/rpc/app.ts --port 9001
 *   npx node examples/rpc/client.ts ws://127.0.0.1:9001/
 *
 * Cheap methods run on the connection's worker; `countPrimes` and `factor`
 * are declared `cpu: true`, so they run on the worker's CPU pool and a long
 * computation never delays the other connections of that worker. Bad input
 * is answered with an AppError (code BAD_INPUT); the connection stays open.
 */
import { AppError, defineApp } from '@shoal-ws/shoal';
import type { RpcSchema, Summary } from './schema.ts';

const MAX_VALUES = 100_000;
const MAX_PRIME_BOUND = 50_000_000;

function badInput(message: string): AppError {
  return new AppError('BAD_INPUT', message);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function summarize(values: number[]): Summary {
  const sorted = [...values].sort((x, y) => x - y);
  const count = sorted.length;
  const mean = sorted.reduce((sum, x) => sum + x, 0) / count;
  const middle = count >> 1;
  const median = count % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  const variance = sorted.reduce((sum, x) => sum + (x - mean) ** 2, 0) / count;
  return { count, mean, median, stddev: Math.sqrt(variance), min: sorted[0], max: sorted[count - 1] };
}

/** Sieve of Eratosthenes over odd numbers only. */
function countPrimesBelow(below: number): number {
  if (below <= 2) return 0;
  const size = (below - 1) >> 1; // odd numbers 3, 5, ... < below map to 1..size-1; index 0 stands for 2
  const composite = new Uint8Array(size);
  let count = 1;
  for (let i = 1; i < size; i++) {
    if (composite[i] !== 0) continue;
    count++;
    const p = 2 * i + 1;
    // Past sqrt(below) every multiple left is marked already; and p * p no longer fits the 32 bits that `>>` works in.
    if (p * p >= below) continue;
    for (let j = (p * p - 1) / 2; j < size; j += p) composite[j] = 1;
  }
  return count;
}

function factorize(n: number): number[] {
  const factors: number[] = [];
  while (n % 2 === 0) {
    factors.push(2);
    n /= 2;
  }
  for (let d = 3; d * d <= n; d += 2) {
    while (n % d === 0) {
      factors.push(d);
      n /= d;
    }
  }
  if (n > 1) factors.push(n);
  return factors;
}

export default defineApp<RpcSchema>({
  onOpen(ctx) {
    ctx.send('hello', { maxValues: MAX_VALUES, maxPrimeBound: MAX_PRIME_BOUND });
  },
  methods: {
    add(_ctx, data) {
      if (!isFiniteNumber(data?.a) || !isFiniteNumber(data?.b)) throw badInput('add needs { a: number, b: number }');
      return data.a + data.b;
    },
    stats(_ctx, data) {
      const values = data?.values;
      if (!Array.isArray(values) || values.length === 0 || values.length > MAX_VALUES || !values.every(isFiniteNumber)) {
        throw badInput(`stats needs { values: number[] } with 1..${MAX_VALUES} finite numbers`);
      }
      return summarize(values);
    },
    countPrimes: {
      cpu: true,
      timeoutMs: 10_000,
      handler(_ctx, data) {
        const below = data?.below;
        if (!Number.isSafeInteger(below) || below < 0 || below > MAX_PRIME_BOUND) throw badInput(`countPrimes needs { below } in 0..${MAX_PRIME_BOUND}`);
        return countPrimesBelow(below);
      },
    },
    factor: {
      cpu: true,
      timeoutMs: 10_000,
      handler(_ctx, data) {
        const n = data?.n;
        if (!Number.isSafeInteger(n) || n < 1) throw badInput('factor needs { n } a positive safe integer');
        return factorize(n);
      },
    },
  },
});
