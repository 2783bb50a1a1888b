/**
 * A client of the RPC example, typed by its schema.
 *
 *   npx node examples/rpc/client.ts [ws://127.0.0.1:9001/]
 */
import { ShoalClient, ShoalError } from '@shoal-ws/shoal/client';
import type { RpcSchema } from './schema.ts';

const url = process.argv[2] ?? 'ws://127.0.0.1:9001/';
const client = new ShoalClient<RpcSchema>(url, { requestTimeoutMs: 15_000 });
client.on('hello', (limits) => console.log('server limits:', limits));
await client.connect();
console.log(`connected with ${client.protocol}`);

console.log('add(2, 40) =', await client.request('add', { a: 2, b: 40 }));
console.log('stats([1..10]) =', await client.request('stats', { values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }));
const started = performance.now();
const [primes, factors] = await Promise.all([
  client.request('countPrimes', { below: 10_000_000 }),
  client.request('factor', { n: 600_851_475_143 }),
]);
console.log(`countPrimes(1e7) = ${primes}, factor(600851475143) = [${factors.join(', ')}] in ${Math.round(performance.now() - started)} ms (on the CPU pool)`);
try {
  await client.request('stats', { values: [] });
} catch (error) {
  if (error instanceof ShoalError) console.log(`stats([]) refused: ${error.code}: ${error.message}`);
  else throw error;
}
client.close();
