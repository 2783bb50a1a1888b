/**
 * `broadcast` (and `cross-node` against Shoal): S subscribers join one topic
 * with `$subscribe`, K publishers each keep P `publish` requests in flight,
 * on the Shoal msgpack subprotocol (scenarios/fan-out.ts does the rest).
 * Deliveries are the messages; answered publishes are the secondary count.
 */
import { Opcode } from '../../../src/protocol/constants.ts';
import { encodeFrame } from '../../../src/protocol/frame-encoder.ts';
import type { BenchConnection } from '../bench-connection.ts';
import type { LoadRecorder } from '../load-recorder.ts';
import type { ThreadSetup } from '../messages.ts';
import { BENCH_TOPIC, MSGPACK_PROTOCOL, MessageType, PUBLISH_METHOD, SUBSCRIBE_METHOD, packr } from '../wire.ts';
import type { PublicationData } from '../wire.ts';
import { FanOutDriver, PUBLISHER, SUBSCRIBER } from './fan-out.ts';

/** The id of each subscriber's one subscribe request. */
const SUBSCRIBE_ID = 0;

/**
 * The bytes of a bench publication up to its timestamp, as msgpack writes
 * `[4, "bench", {t: <float 64>, pad: <bin>}]`: fixarray of 3, the type, the
 * topic, a map of 2 (msgpackr writes objects as map16 `de 00 02`; a fixmap
 * `82` is accepted too), the key "t", the float 64 marker 0xcb.
 */
function publicationPrefix(mapHeader: number[]): Buffer {
  return Buffer.concat([
    Buffer.from([0x90 | 3, MessageType.PUBLICATION, 0xa0 | BENCH_TOPIC.length]),
    Buffer.from(BENCH_TOPIC),
    Buffer.from([...mapHeader, 0xa1, 't'.charCodeAt(0), 0xcb]),
  ]);
}
const PUBLICATION_PREFIXES: readonly Buffer[] = [publicationPrefix([0xde, 0x00, 0x02]), publicationPrefix([0x80 | 2])];

/**
 * The timestamp of a publication that has exactly the expected layout
 * (prefix, float 64, then the "pad" key and a bin of `padBytes`), or NaN for
 * anything else, which the caller then decodes in full. The generator must
 * not be what is measured: decoding every delivery with msgpackr kept its
 * thread saturated at 574-696k deliveries/s against one Shoal worker; reading
 * the bytes, the same saturated thread carries 880k-1.04M (broadcast 4 -> 100,
 * 32-byte pad, 3 alternating runs against the same server).
 */
export function readPublicationTime(data: Buffer, padBytes: number, start: number = 0, length: number = data.length - start): number {
  for (const prefix of PUBLICATION_PREFIXES) {
    if (length !== publicationBytes(prefix, padBytes)) continue;
    let matches = true;
    for (let i = 0; i < prefix.length && matches; i++) matches = data[start + i] === prefix[i];
    const at = start + prefix.length + 8;
    if (!matches || data[at] !== 0xa3 || data[at + 1] !== 0x70 || data[at + 2] !== 0x61 || data[at + 3] !== 0x64) continue;
    return data.readDoubleBE(start + prefix.length);
  }
  return Number.NaN;
}

/** Bytes of a publication with this prefix and a pad of `padBytes`: the prefix, the float 64, fixstr "pad", a bin 8/16/32 header, the pad. */
function publicationBytes(prefix: Buffer, padBytes: number): number {
  const binHeader = padBytes < 0x100 ? 2 : padBytes < 0x1_0000 ? 3 : 5;
  return prefix.length + 8 + 4 + binHeader + padBytes;
}

/** Fan-out on the Shoal msgpack subprotocol: `$subscribe` and `publish` requests, `[4, topic, data]` deliveries. */
export class BroadcastDriver extends FanOutDriver {
  protected readonly protocols: readonly string[] = [MSGPACK_PROTOCOL];
  /**
   * Nothing of a message is kept past onMessage: deliveries are read in place, anything else is decoded from a copy
   * (msgpackr may return views of its input: bins).
   */
  readonly lendsMessages = true;
  /** The length of a delivery as msgpackr writes it (map16): its frames are read in place (onSkimmedPayload). */
  readonly skimmedMessageBytes: number;

  constructor(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array) {
    super(setup, recorder, mask);
    this.skimmedMessageBytes = publicationBytes(PUBLICATION_PREFIXES[0]!, this.pad.length);
  }

  protected beginJoin(conn: BenchConnection): void {
    conn.write(encodeFrame(Opcode.BINARY, packr.pack([MessageType.REQUEST, SUBSCRIBE_ID, SUBSCRIBE_METHOD, BENCH_TOPIC]), { mask: this.mask }));
  }

  protected writePublication(conn: BenchConnection, id: number, sentAt: number): void {
    const data: PublicationData = { t: sentAt, pad: this.pad };
    conn.write(encodeFrame(Opcode.BINARY, packr.pack([MessageType.REQUEST, id, PUBLISH_METHOD, [BENCH_TOPIC, data]]), { mask: this.mask }));
  }

  /** A binary message of a delivery's length, in the read: its time read where it lies, anything unexpected decoded in full. */
  onSkimmedPayload(conn: BenchConnection, chunk: Buffer, start: number): void {
    const length = this.skimmedMessageBytes;
    if (conn.role === SUBSCRIBER) {
      const sentAt = readPublicationTime(chunk, this.pad.length, start, length);
      if (!Number.isNaN(sentAt)) {
        this.delivered(conn, sentAt, length);
        return;
      }
    }
    this.onMessage(conn, chunk.subarray(start, start + length), true);
  }

  onMessage(conn: BenchConnection, data: Buffer, isBinary: boolean): void {
    if (conn.role === SUBSCRIBER && isBinary) {
      const sentAt = readPublicationTime(data, this.pad.length);
      if (!Number.isNaN(sentAt)) {
        this.delivered(conn, sentAt, data.length);
        return;
      }
    }
    let message: unknown;
    try {
      // `data` is lent (valid during this call only): msgpackr decodes a copy.
      message = isBinary ? packr.unpack(Buffer.from(data)) : undefined;
    } catch (error) {
      conn.fail('protocol', `message is not msgpack: ${(error as Error).message}`);
      return;
    }
    if (!Array.isArray(message)) {
      conn.fail('protocol', 'message is not a msgpack array envelope');
      return;
    }
    if (message[0] === MessageType.PUBLICATION && conn.role === SUBSCRIBER) {
      const publication = message[2] as PublicationData | undefined;
      if (message[1] !== BENCH_TOPIC || typeof publication?.t !== 'number') {
        conn.fail('protocol', 'publication without the bench topic and timestamp');
        return;
      }
      this.delivered(conn, publication.t, data.length);
      return;
    }
    if (message[0] === MessageType.REPLY && typeof message[1] === 'number') {
      if (conn.role === SUBSCRIBER && !this.hasJoined(conn) && message[1] === SUBSCRIBE_ID) {
        this.joined(conn);
        return;
      }
      if (conn.role === PUBLISHER && this.acknowledged(conn, message[1])) return;
    }
    conn.fail('protocol', `unexpected message: ${JSON.stringify(message).slice(0, 120)}`);
  }
}
