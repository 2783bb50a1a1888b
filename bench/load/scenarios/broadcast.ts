/**
 * `broadcast`: S subscribers join one topic, K publishers each keep P
 * `publish` requests in flight. Every publication carries its send time, so
 * each delivery is timed publish-to-delivery (epoch clock, comparable across
 * generator threads). Deliveries are the messages; answered publishes are
 * the secondary count.
 */
import { Opcode } from '../../../src/protocol/constants.ts';
import { encodeFrame } from '../../../src/protocol/frame-encoder.ts';
import type { BenchConnection } from '../bench-connection.ts';
import type { LoadRecorder } from '../load-recorder.ts';
import type { ThreadSetup } from '../messages.ts';
import { BENCH_TOPIC, MSGPACK_PROTOCOL, MessageType, PUBLISH_METHOD, SUBSCRIBE_METHOD, packr } from '../wire.ts';
import type { PublicationData } from '../wire.ts';
import { BaseDriver, ringSizeFor } from './driver.ts';

const SUBSCRIBER = 0;
const PUBLISHER = 1;
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
export function readPublicationTime(data: Buffer, padBytes: number): number {
  // fixstr "pad" (4 bytes), bin 8/16/32 header, the pad itself.
  const binHeader = padBytes < 0x100 ? 2 : padBytes < 0x1_0000 ? 3 : 5;
  for (const prefix of PUBLICATION_PREFIXES) {
    if (data.length !== prefix.length + 8 + 4 + binHeader + padBytes) continue;
    let matches = true;
    for (let i = 0; i < prefix.length && matches; i++) matches = data[i] === prefix[i];
    const at = prefix.length + 8;
    if (!matches || data[at] !== 0xa3 || data[at + 1] !== 0x70 || data[at + 2] !== 0x61 || data[at + 3] !== 0x64) continue;
    return data.readDoubleBE(prefix.length);
  }
  return Number.NaN;
}

/** Milliseconds since the epoch with sub-millisecond precision, the same clock in every thread. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Fan-out: K publishers, S subscribers, publish-to-delivery latency. */
export class BroadcastDriver extends BaseDriver {
  private readonly pad: Uint8Array;
  private readonly inflightLimit: number;
  private readonly subscribed: Set<BenchConnection>;
  private awaitingSubscribe: number;
  private subscribeDone: (() => void) | null;

  constructor(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array) {
    super(setup, recorder, mask);
    this.pad = new Uint8Array(setup.payloadBytes);
    this.inflightLimit = setup.inflight;
    this.subscribed = new Set();
    this.awaitingSubscribe = 0;
    this.subscribeDone = null;
  }

  async setup(): Promise<void> {
    const { subscribers, publishers } = this.setupInfo;
    const subscribedAll = new Promise<void>((resolve) => {
      this.subscribeDone = resolve;
    });
    await this.openConnections(subscribers + publishers, [MSGPACK_PROTOCOL], ringSizeFor(this.inflightLimit), (i) =>
      i < subscribers ? SUBSCRIBER : PUBLISHER,
    );
    if (this.awaitingSubscribe > 0) await subscribedAll;
    this.subscribeDone = null;
  }

  protected opened(conn: BenchConnection): void {
    if (conn.role === SUBSCRIBER) {
      this.awaitingSubscribe++;
      // Timed like any request, so a server that never answers the subscribe counts a timeout.
      conn.sendTimes[conn.head] = performance.now();
      conn.sendIds[conn.head] = SUBSCRIBE_ID;
      conn.inflight = 1;
      conn.write(encodeFrame(Opcode.BINARY, packr.pack([MessageType.REQUEST, SUBSCRIBE_ID, SUBSCRIBE_METHOD, BENCH_TOPIC]), { mask: this.mask }));
    } else if (this.sending) {
      this.kick(conn);
    }
  }

  protected override ended(conn: BenchConnection): void {
    if (conn.role === SUBSCRIBER && !this.subscribed.delete(conn) && conn.openedAt !== 0) this.subscribeSettled();
  }

  private subscribeSettled(): void {
    this.awaitingSubscribe--;
    if (this.awaitingSubscribe === 0) this.subscribeDone?.();
  }

  protected override kick(conn: BenchConnection): void {
    if (conn.role !== PUBLISHER) return;
    while (this.sending && conn.inflight < this.inflightLimit) this.publishOne(conn);
  }

  private publishOne(conn: BenchConnection): void {
    if (!this.takeBudget()) return;
    const id = conn.nextId++;
    const slot = (conn.head + conn.inflight) & (conn.sendTimes.length - 1);
    conn.sendTimes[slot] = performance.now();
    conn.sendIds[slot] = id;
    conn.inflight++;
    const data: PublicationData = { t: epochNow(), pad: this.pad };
    conn.write(encodeFrame(Opcode.BINARY, packr.pack([MessageType.REQUEST, id, PUBLISH_METHOD, [BENCH_TOPIC, data]]), { mask: this.mask }));
  }

  onMessage(conn: BenchConnection, data: Buffer, isBinary: boolean): void {
    if (conn.role === SUBSCRIBER && isBinary) {
      const sentAt = readPublicationTime(data, this.pad.length);
      if (!Number.isNaN(sentAt)) {
        this.recorder.record(epochNow() - sentAt, data.length);
        return;
      }
    }
    let message: unknown;
    try {
      message = isBinary ? packr.unpack(data) : undefined;
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
      this.recorder.record(epochNow() - publication.t, data.length);
      return;
    }
    if (message[0] === MessageType.REPLY && conn.inflight > 0 && message[1] === conn.sendIds[conn.head]) {
      conn.head = (conn.head + 1) & (conn.sendTimes.length - 1);
      conn.inflight--;
      if (conn.role === SUBSCRIBER) {
        this.subscribed.add(conn);
        this.subscribeSettled();
      } else {
        if (this.recorder.measuring) this.recorder.secondary++;
        if (this.sending && conn.isOpen) this.publishOne(conn);
      }
      return;
    }
    conn.fail('protocol', `unexpected message: ${JSON.stringify(message).slice(0, 120)}`);
  }
}
