/**
 * The Shoal app the benchmark spawns (`shoal serve --app bench/load/bench-app.ts`):
 * raw echo for connections without a subprotocol; raw pub/sub for connections
 * that negotiate RAW_PUBSUB_PROTOCOL (still raw connections: ctx.subscribe and
 * ctx.publish from `onMessage`); on the msgpack subprotocol the methods the
 * rpc and broadcast scenarios call (bench/load/wire.ts); plain HTTP through
 * the app's `http` handler: `GET /` answers HTTP_BODY (the http scenario),
 * anything else 404.
 * The peer servers implement the same thing in bench/peers/peer-protocol.mjs.
 */
import type { App, Context } from '../../src/app/types.ts';
import { HTTP_BODY } from '../peers/peer-protocol.mjs';
import { RAW_PUBLISH_ACK, RAW_PUBSUB_PROTOCOL, RAW_SUBSCRIBE_PREFIX, parseRawPublish } from './wire.ts';

/**
 * raw-broadcast: text "sub <topic>" subscribes (answered once in force),
 * binary [n, topic, data] publishes data. Publishing returns nothing (not a
 * promise), so the session has nothing to await per publication.
 */
function rawPubSub(ctx: Context, data: Buffer, isBinary: boolean): Promise<void> | void {
  if (isBinary) {
    const publish = parseRawPublish(data);
    if (publish === null) return ctx.close(1007, 'publish without a topic');
    ctx.publish(publish.topic, publish.data);
    ctx.sendRaw(RAW_PUBLISH_ACK);
    return;
  }
  const text = data.toString();
  if (!text.startsWith(RAW_SUBSCRIBE_PREFIX)) return ctx.close(1003, 'unknown command');
  return ctx.subscribe(text.slice(RAW_SUBSCRIBE_PREFIX.length)).then(() => ctx.sendRaw(text));
}

const app: App = {
  // The rpc scenario allows up to 1024 requests in flight per connection (--inflight); Shoal's default is 64.
  limits: { maxOutstandingRequests: 1024 },
  protocols: [RAW_PUBSUB_PROTOCOL],
  // Raw messages are handled before onMessage returns (echoed, published: both copy what they keep, the
  // subscribe command is read into a string first): lent views of the server's buffers, as uWebSockets.js
  // hands them out (bench/README.md).
  borrowMessages: true,
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
    if (ctx.protocol === RAW_PUBSUB_PROTOCOL) return rawPubSub(ctx, data as Buffer, isBinary);
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
