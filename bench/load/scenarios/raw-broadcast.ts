/**
 * `raw-broadcast`: the broadcast scenario on raw connections (no Shoal
 * subprotocol): the connections negotiate RAW_PUBSUB_PROTOCOL, subscribers
 * send text "sub bench", publishers binary [n, topic, t, pad] messages whose
 * data (t: float 64 big-endian epoch ms, then the pad) the server publishes
 * as it is and answers with text "ok" (bench/load/wire.ts). What is measured
 * is `ctx.publish` of raw bytes in Shoal, `app.publish` in uWebSockets.js,
 * `server.publish` in Bun.
 */
import { Opcode } from '../../../src/protocol/constants.ts';
import { encodeFrame } from '../../../src/protocol/frame-encoder.ts';
import type { BenchConnection } from '../bench-connection.ts';
import type { LoadRecorder } from '../load-recorder.ts';
import type { ThreadSetup } from '../messages.ts';
import { BENCH_TOPIC, RAW_PUBLISH_ACK, RAW_PUBSUB_PROTOCOL, RAW_SUBSCRIBE_PREFIX } from '../wire.ts';
import { FanOutDriver, PUBLISHER, SUBSCRIBER } from './fan-out.ts';

const SUBSCRIBE_TEXT = `${RAW_SUBSCRIBE_PREFIX}${BENCH_TOPIC}`;
/** The publish message up to its data: the topic's length and the topic. */
const PUBLISH_HEAD = Buffer.from([BENCH_TOPIC.length, ...Buffer.from(BENCH_TOPIC, 'latin1')]);
/** The answer to a publish, as bytes (compared without making a string per answer). */
const ACK_BYTES = Buffer.from(RAW_PUBLISH_ACK);
/** Bytes of the time at the start of the data. */
const TIME_BYTES = 8;

/** Fan-out with raw messages: text commands, binary data published as it is. */
export class RawBroadcastDriver extends FanOutDriver {
  protected readonly protocols: readonly string[] = [RAW_PUBSUB_PROTOCOL];
  /** A message is classified (its length, time and text read) inside onMessage, nothing of it kept. */
  readonly lendsMessages = true;
  /** A delivery's length: its frames are read in place, their time at the payload's start (onSkimmedPayload). */
  readonly skimmedMessageBytes: number;

  constructor(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array) {
    super(setup, recorder, mask);
    this.skimmedMessageBytes = TIME_BYTES + this.pad.length;
  }

  protected beginJoin(conn: BenchConnection): void {
    conn.write(encodeFrame(Opcode.TEXT, Buffer.from(SUBSCRIBE_TEXT), { mask: this.mask }));
  }

  protected writePublication(conn: BenchConnection, _id: number, sentAt: number): void {
    const message = Buffer.allocUnsafe(PUBLISH_HEAD.length + TIME_BYTES + this.pad.length);
    PUBLISH_HEAD.copy(message, 0);
    message.writeDoubleBE(sentAt, PUBLISH_HEAD.length);
    message.set(this.pad, PUBLISH_HEAD.length + TIME_BYTES);
    conn.write(encodeFrame(Opcode.BINARY, message, { mask: this.mask }));
  }

  /** A binary message of a delivery's length, in the read: a delivery on a subscriber, else classified as any message. */
  onSkimmedPayload(conn: BenchConnection, chunk: Buffer, start: number): void {
    if (conn.role === SUBSCRIBER) this.delivered(conn, chunk.readDoubleBE(start), this.skimmedMessageBytes);
    else this.onMessage(conn, chunk.subarray(start, start + this.skimmedMessageBytes), true);
  }

  onMessage(conn: BenchConnection, data: Buffer, isBinary: boolean): void {
    if (conn.role === SUBSCRIBER) {
      if (isBinary && data.length === TIME_BYTES + this.pad.length) {
        this.delivered(conn, data.readDoubleBE(0), data.length);
        return;
      }
      if (!isBinary && !this.hasJoined(conn) && data.toString() === SUBSCRIBE_TEXT) {
        this.joined(conn);
        return;
      }
    } else if (conn.role === PUBLISHER && !isBinary && data.equals(ACK_BYTES) && this.acknowledged(conn, null)) {
      return;
    }
    conn.fail('protocol', `unexpected ${isBinary ? 'binary' : 'text'} message of ${data.length} bytes: ${JSON.stringify(data.toString('latin1', 0, 60))}`);
  }
}
