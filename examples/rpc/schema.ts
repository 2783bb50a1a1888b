/**
 * The RPC example's schema: the methods of a small computation service with
 * their data and result types. The server (app.ts) and the client
 * (client.ts) are both checked against it.
 */
export interface RpcSchema {
  methods: {
    /** a + b */
    add: { data: { a: number; b: number }; result: number };
    /** Mean, median, population standard deviation, min and max of up to 100 000 numbers. */
    stats: { data: { values: number[] }; result: Summary };
    /** How many primes are below `below` (at most 50 000 000); runs on the CPU pool. */
    countPrimes: { data: { below: number }; result: number };
    /** The prime factors of a positive safe integer, smallest first; runs on the CPU pool. */
    factor: { data: { n: number }; result: number[] };
  };
  serverEvents: {
    /** Sent once per connection: the service's limits. */
    hello: { maxValues: number; maxPrimeBound: number };
  };
}

export interface Summary {
  count: number;
  mean: number;
  median: number;
  stddev: number;
  min: number;
  max: number;
}
