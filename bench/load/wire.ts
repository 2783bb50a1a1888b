/**
 * What the benchmark scenarios say on the wire, in one place: the Shoal
 * msgpack subprotocol (names from src/codec/envelope.ts) and the methods of the
 * benchmark app (bench/load/bench-app.ts). The peer servers in bench/peers
 * implement the same envelope with msgpackr, so one generator drives them all.
 *
 *   rpc        client: [1, id, "add", [a, b]]                 server: [2, id, a + b]
 *   broadcast  subscriber: [1, id, "$subscribe", topic]        server: [2, id, null]
 *              publisher:  [1, id, "publish", [topic, data]]   server: [2, id, null]
 *                                                              + [4, topic, data] to every subscriber
 *
 * The raw-broadcast scenario speaks no Shoal subprotocol: its connections
 * negotiate RAW_PUBSUB_PROTOCOL, a name the benchmark app declares in
 * `protocols` (so they are raw connections, handled by `onMessage`):
 *
 *   raw-broadcast  subscriber: text "sub <topic>"               server: text "sub <topic>" once subscribed
 *                  publisher:  binary [n, <topic: n bytes>, ...data]  server: text "ok"
 *                                                              + data itself, as one binary message, to every subscriber
 */
import { Packr } from 'msgpackr';
import { MSGPACK_PROTOCOL, MessageType, SUBSCRIBE_METHOD } from '../../src/codec/envelope.ts';

export { MSGPACK_PROTOCOL, MessageType, SUBSCRIBE_METHOD };

/** The benchmark app's request method that adds two numbers. */
export const ADD_METHOD = 'add';
/** The benchmark app's request method that publishes `data` to `topic` and then replies null. */
export const PUBLISH_METHOD = 'publish';
/** The topic every broadcast subscriber joins. */
export const BENCH_TOPIC = 'bench';

/** The subprotocol of the raw-broadcast scenario's connections (not a Shoal one: they stay raw). */
export const RAW_PUBSUB_PROTOCOL = 'raw-pubsub.bench.shoal.dev';
/** The text a raw subscriber sends to subscribe (followed by the topic), and that the server echoes once subscribed. */
export const RAW_SUBSCRIBE_PREFIX = 'sub ';
/** The text message answering each raw publish. */
export const RAW_PUBLISH_ACK = 'ok';

/**
 * Split a raw publish message, [n, <topic: n bytes>, ...data], or null when it
 * is shorter than its topic length says.
 */
export function parseRawPublish(message: Buffer): { topic: string; data: Buffer } | null {
  const end = 1 + (message[0] ?? 0);
  if (message.length < end || end === 1) return null;
  return { topic: message.toString('latin1', 1, end), data: message.subarray(end) };
}

/** One msgpackr instance for the whole generator thread; `useRecords: false` keeps plain msgpack. */
export const packr = new Packr({ useRecords: false });

/** The data of a broadcast publication: the publisher's send time (epoch ms, fractional) and padding. */
export interface PublicationData {
  t: number;
  pad: Uint8Array;
}
