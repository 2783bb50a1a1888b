/**
 * The Shoal app the benchmark spawns (`shoal serve --app bench/load/bench-app.ts`):
 * raw echo for connections without a subprotocol, and on the msgpack
 * subprotocol the methods the rpc and broadcast scenarios call (bench/load/wire.ts);
 * plain HTTP through the app's `http` handler: `GET /` answers HTTP_BODY (the
 * http scenario), anything else 404. The peer servers implement the same thing
 * in bench/peers/peer-protocol.mjs.
 */
import type { App } from '../../src/app/types.ts';
import { HTTP_BODY } from '../peers/peer-protocol.mjs';

const app: App = {
  // The rpc scenario allows up to 1024 requests in flight per connection (--inflight); Shoal's default is 64.
  limits: { maxOutstandingRequests: 1024 },
  http(req, res) {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(HTTP_BODY);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  },
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
