/**
 * The Shoal app the benchmark spawns (`shoal serve --app bench/load/bench-app.ts`):
 * raw echo for connections without a subprotocol, and on the msgpack
 * subprotocol the methods the rpc and broadcast scenarios call (bench/load/wire.ts).
 * The peer servers implement the same thing in bench/peers/peer-protocol.mjs.
 */
import type { App } from '../../src/app/types.ts';

const app: App = {
  // The rpc scenario allows up to 1024 requests in flight per connection (--inflight); Shoal's default is 64.
  limits: { maxOutstandingRequests: 1024 },
  onMessage(ctx, data, isBinary) {
    ctx.sendRaw(data, isBinary);
  },
  methods: {
    add: (_ctx, data: [number, number]) => data[0] + data[1],
    publish(ctx, data: [string, unknown]) {
      ctx.publish(data[0], data[1]);
      return null;
    },
  },
};

export default app;
