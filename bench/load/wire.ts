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

/** One msgpackr instance for the whole generator thread; `useRecords: false` keeps plain msgpack. */
export const packr = new Packr({ useRecords: false });

/** The data of a broadcast publication: the publisher's send time (epoch ms, fractional) and padding. */
export interface PublicationData {
  t: number;
  pad: Uint8Array;
}
