/**
 * Fan-out deliveries are timed and counted right by the generator
 * (bench/load/scenarios/fan-out.ts: one clock read per socket read, shared by
 * the messages of that read; raw-broadcast and msgpack broadcast deliveries
 * read in place from the read, bench/load/frame-skimmer.ts). A loopback
 * server subscribes the generator's subscribers, then writes rounds of
 * deliveries, each stamped with the epoch clock just before its write:
 * several in one write, one split across two writes, and (msgpack) one in a
 * layout the driver does not read in place. The server runs on the test's
 * thread, so it shares the generator's clock: a delivery's latency is never
 * below zero (it was written before the read that brought it), nor above the
 * time from its round's start to when the test looks. Each round is written
 * only once the previous one is all recorded, so a clock kept from an
 * earlier read shows as a negative latency; a time read from the wrong
 * bytes as one out of bounds; a delivery lost or counted twice in the count.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { epochNow } from '../../bench/load/epoch-clock.ts';
import { LoadRecorder } from '../../bench/load/load-recorder.ts';
import type { ThreadSetup } from '../../bench/load/messages.ts';
import { BroadcastDriver } from '../../bench/load/scenarios/broadcast.ts';
import type { FanOutDriver } from '../../bench/load/scenarios/fan-out.ts';
import { RawBroadcastDriver } from '../../bench/load/scenarios/raw-broadcast.ts';
import { BENCH_TOPIC, MessageType, RAW_SUBSCRIBE_PREFIX, SUBSCRIBE_METHOD, packr } from '../../bench/load/wire.ts';
import { Opcode } from '../../src/protocol/constants.ts';
import { FrameDecoder } from '../../src/protocol/frame-decoder.ts';
import { encodeClose, encodeFrame } from '../../src/protocol/frame-encoder.ts';
import { buildAcceptResponse } from '../../src/protocol/handshake-response.ts';
import { startLoopbackServer } from '../helpers/loopback-server.ts';
import { upgradeThenFrames } from '../helpers/upgrade-then-frames.ts';
import { until } from '../helpers/until.ts';

type Wire = 'raw' | 'msgpack';

const PAD_BYTES = 24;
const SUBSCRIBERS = 3;
const ROUNDS = 6;

/** A LoadRecorder that also keeps every latency as given (the histogram rounds to microseconds, 3 digits). */
class CapturingRecorder extends LoadRecorder {
  readonly latencies: number[];

  constructor() {
    super();
    this.latencies = [];
  }

  override record(latencyMs: number, bytes: number): void {
    this.latencies.push(latencyMs);
    super.record(latencyMs, bytes);
  }
}

/** A delivery published at `t` on `wire`; `fixmap`: msgpack with a fixmap for the data (not read in place by the driver). */
function deliveryPayload(wire: Wire, t: number, fixmap = false): Buffer {
  const pad = Buffer.alloc(PAD_BYTES, 0x61);
  if (wire === 'raw') {
    const payload = Buffer.alloc(8 + PAD_BYTES, 0x61);
    payload.writeDoubleBE(t, 0);
    return payload;
  }
  if (!fixmap) return Buffer.from(packr.pack([MessageType.PUBLICATION, BENCH_TOPIC, { t, pad }]));
  const time = Buffer.alloc(8);
  time.writeDoubleBE(t, 0);
  return Buffer.concat([
    Buffer.from([0x93, MessageType.PUBLICATION, 0xa0 | BENCH_TOPIC.length]),
    Buffer.from(BENCH_TOPIC),
    Buffer.from([0x82, 0xa1, 0x74, 0xcb]),
    time,
    Buffer.from([0xa3, 0x70, 0x61, 0x64, 0xc4, PAD_BYTES]),
    pad,
  ]);
}

/** A server that answers the upgrade with the offered subprotocol, subscribes on the wire's join message, and answers closes. */
async function startFanOutServer(wire: Wire): Promise<{ port: number; subscribers: net.Socket[]; close: () => Promise<void> }> {
  const subscribers: net.Socket[] = [];
  const server = await startLoopbackServer((socket) => {
    socket.on('error', () => {});
    const decoder = new FrameDecoder(
      {
        onMessage: (data, isBinary) => {
          if (wire === 'raw' && !isBinary && data.toString() === `${RAW_SUBSCRIBE_PREFIX}${BENCH_TOPIC}`) {
            socket.write(encodeFrame(Opcode.TEXT, data));
            subscribers.push(socket);
            return;
          }
          const message = isBinary ? (packr.unpack(data) as unknown[]) : null;
          if (wire === 'msgpack' && message?.[0] === MessageType.REQUEST && message[2] === SUBSCRIBE_METHOD) {
            socket.write(encodeFrame(Opcode.BINARY, packr.pack([MessageType.REPLY, message[1], null])));
            subscribers.push(socket);
            return;
          }
          socket.destroy();
        },
        onControl: (opcode, payload) => {
          if (opcode !== Opcode.CLOSE) return;
          socket.write(encodeClose(payload.length >= 2 ? payload.readUInt16BE(0) : 1000));
          socket.end();
        },
        onError: () => socket.destroy(),
      },
      { maxMessageBytes: 1 << 20 },
    );
    upgradeThenFrames(socket, decoder, ({ key, protocol }) => socket.write(buildAcceptResponse(key, { protocol })));
  });
  return { port: server.port, subscribers, close: server.close };
}

/**
 * One round to one subscriber, each delivery stamped just before its write: three in one write, then one split
 * inside its payload across two writes, then (msgpack) one with a fixmap. Returns how many deliveries it wrote.
 */
function writeRound(wire: Wire, socket: net.Socket): number {
  const together = [0, 1, 2].map(() => encodeFrame(Opcode.BINARY, deliveryPayload(wire, epochNow())));
  socket.write(Buffer.concat(together));
  const split = encodeFrame(Opcode.BINARY, deliveryPayload(wire, epochNow()));
  socket.write(split.subarray(0, 7));
  socket.write(split.subarray(7));
  if (wire === 'raw') return 4;
  socket.write(encodeFrame(Opcode.BINARY, deliveryPayload(wire, epochNow(), true)));
  return 5;
}

let stopServer: (() => Promise<void>) | null = null;

afterEach(async () => {
  await stopServer?.();
  stopServer = null;
});

describe('fan-out delivery timing', () => {
  for (const wire of ['raw', 'msgpack'] as const) {
    it(`${wire}: every delivery counted once, timed to the read that brought it`, async () => {
      const server = await startFanOutServer(wire);
      stopServer = server.close;
      const setup: ThreadSetup = {
        threadIndex: 0,
        threadCount: 1,
        kind: wire === 'raw' ? 'raw-broadcast' : 'broadcast',
        target: { host: '127.0.0.1', port: server.port, path: '/', protocols: [], tls: null },
        publisherTarget: null,
        publishRate: 0,
        connections: 0,
        subscribers: SUBSCRIBERS,
        publishers: 0,
        inflight: 1,
        payloadBytes: PAD_BYTES,
        maxMessages: 1000,
        timeoutMs: 30_000,
        connectConcurrency: SUBSCRIBERS,
      };
      const recorder = new CapturingRecorder();
      const mask = new Uint8Array([1, 2, 3, 4]);
      const driver: FanOutDriver = wire === 'raw' ? new RawBroadcastDriver(setup, recorder, mask) : new BroadcastDriver(setup, recorder, mask);
      await driver.setup();
      expect(driver.openCount()).toBe(SUBSCRIBERS);
      expect(server.subscribers).toHaveLength(SUBSCRIBERS);
      recorder.beginWindow(false);
      driver.start();
      let expected = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const roundStart = epochNow();
        for (const socket of server.subscribers) expected += writeRound(wire, socket);
        await until(() => recorder.latencies.length >= expected, `round ${round}`, 30_000);
        const lookedAt = epochNow();
        const latencies = recorder.latencies.slice(expected - server.subscribers.length * (wire === 'raw' ? 4 : 5));
        for (const latency of latencies) {
          expect(latency, `round ${round}`).toBeGreaterThanOrEqual(0);
          expect(latency, `round ${round}`).toBeLessThanOrEqual(lookedAt - roundStart);
        }
      }
      driver.stop();
      await driver.shutdown();

      expect(recorder.errors).toEqual({ handshakeFailures: 0, unexpectedCloses: 0, protocolErrors: 0, timeouts: 0 });
      expect(recorder.latencies).toHaveLength(expected);
      expect(recorder.messages).toBe(expected);
      expect(recorder.histogram.totalCount).toBe(expected);
      // A fractional time, as every epochNow(): msgpackr writes it as a float 64 (a whole number would be an int).
      const deliveryBytes = wire === 'raw' ? 8 + PAD_BYTES : deliveryPayload(wire, 0.5).length;
      const fixmapBytes = deliveryPayload(wire, 0.5, true).length;
      const perRound = wire === 'raw' ? 4 * deliveryBytes : 4 * deliveryBytes + fixmapBytes;
      expect(recorder.bytes).toBe(ROUNDS * SUBSCRIBERS * perRound);
    }, 60_000);
  }
});
