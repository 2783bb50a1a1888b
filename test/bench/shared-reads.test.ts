/**
 * The generator's connections read into one buffer per thread
 * (bench/load/bench-connection.ts, net.Socket `onread`): against a real
 * server on loopback that writes its 101, its replies and pings in small
 * slices (so most reads hold a sliver of a frame, the 101 is split and a
 * ping rides behind it), several connections sharing the buffer still get
 * every message whole and exact, kept or lent, and the echo scenario
 * (its replies skimmed, bench/load/frame-skimmer.ts) counts exactly what
 * the server sent.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BenchConnection, type ConnectionOwner } from '../../bench/load/bench-connection.ts';
import { LoadRecorder } from '../../bench/load/load-recorder.ts';
import type { ThreadSetup } from '../../bench/load/messages.ts';
import { EchoDriver } from '../../bench/load/scenarios/echo.ts';
import { Opcode } from '../../src/protocol/constants.ts';
import { FrameDecoder } from '../../src/protocol/frame-decoder.ts';
import { encodeClose, encodeFrame, encodePing } from '../../src/protocol/frame-encoder.ts';
import { buildAcceptResponse } from '../../src/protocol/handshake-response.ts';
import { seededRandom } from '../helpers/chunkings.ts';
import { startLoopbackServer } from '../helpers/loopback-server.ts';
import { upgradeThenFrames } from '../helpers/upgrade-then-frames.ts';
import { until } from '../helpers/until.ts';

/** What the slicing server did, for the assertions. */
interface ServerCounts {
  replies: number;
  pings: number;
  pongs: number;
  badPongs: number;
}

/**
 * An echo server on a raw socket: answers the upgrade, then echoes every
 * binary message, every third one fragmented in two, with a ping before
 * every fifth; everything it sends leaves in slices of 1 to `maxSlice`
 * bytes, one per event-loop turn.
 */
async function startSlicingServer(maxSlice: number): Promise<{ port: number; counts: ServerCounts; close: () => Promise<void> }> {
  const counts: ServerCounts = { replies: 0, pings: 0, pongs: 0, badPongs: 0 };
  const random = seededRandom(11);
  const server = await startLoopbackServer((socket) => {
    socket.on('error', () => {});
    const queue: Buffer[] = [];
    let writing = false;
    let endAfterQueue = false;
    const pump = (): void => {
      const next = queue[0];
      if (next === undefined || socket.destroyed) {
        writing = false;
        if (endAfterQueue) socket.end();
        return;
      }
      const take = Math.min(next.length, 1 + Math.floor(random() * maxSlice));
      socket.write(next.subarray(0, take));
      if (take === next.length) queue.shift();
      else queue[0] = next.subarray(take);
      setImmediate(pump);
    };
    const send = (bytes: Buffer): void => {
      queue.push(bytes);
      if (!writing) {
        writing = true;
        setImmediate(pump);
      }
    };
    /** Payloads of the pings not answered yet, oldest first: the generator answers each ping, in order (RFC 6455 §5.5.2). */
    const pings: string[] = [];
    const ping = (): Buffer => {
      const payload = `ping ${counts.pings++}`;
      pings.push(payload);
      return encodePing(Buffer.from(payload));
    };
    const decoder = new FrameDecoder(
      {
        onMessage: (data) => {
          const n = counts.replies++;
          if (n % 5 === 0) send(ping());
          if (n % 3 === 0 && data.length > 1) {
            const half = data.length >> 1;
            send(encodeFrame(Opcode.BINARY, data.subarray(0, half), { fin: false }));
            send(encodeFrame(Opcode.CONTINUATION, data.subarray(half)));
          } else {
            send(encodeFrame(Opcode.BINARY, data));
          }
        },
        onControl: (opcode, payload) => {
          if (opcode === Opcode.PONG) {
            counts.pongs++;
            if (payload.toString() !== pings.shift()) counts.badPongs++;
          } else if (opcode === Opcode.CLOSE) {
            send(encodeClose(payload.length >= 2 ? payload.readUInt16BE(0) : 1000));
            endAfterQueue = true;
          }
        },
        onError: () => socket.destroy(),
      },
      { maxMessageBytes: 1 << 20 },
    );
    upgradeThenFrames(socket, decoder, ({ key }) => {
      // A ping right behind the 101, in the same slices (RFC 6455 §4.1: frames may follow the response at once).
      send(Buffer.concat([buildAcceptResponse(key), ping()]));
    });
  });
  return { port: server.port, counts, close: server.close };
}

let stopServer: (() => Promise<void>) | null = null;

afterEach(async () => {
  await stopServer?.();
  stopServer = null;
});

const MASK = new Uint8Array([0x12, 0x34, 0x56, 0x78]);

describe('generator connections reading into one shared buffer', () => {
  for (const lendsMessages of [false, true]) {
    it(`get every message whole from a server that writes in slivers (${lendsMessages ? 'lent' : 'kept'} messages)`, async () => {
      const server = await startSlicingServer(700);
      stopServer = server.close;
      const CONNECTIONS = 4;
      const MESSAGES = 12;
      // Sizes around the decoder's and the read buffer's edges: tiny, 16-bit and 64-bit lengths.
      const sizes = [1, 125, 126, 3000, 65535, 65536, 70_000, 300_000];
      const sent = new Map<BenchConnection, Buffer[]>();
      const received = new Map<BenchConnection, (Buffer | string)[]>();
      let ended = 0;
      const owner: ConnectionOwner = {
        lendsMessages,
        onOpen: (conn) => {
          const payloads = Array.from({ length: MESSAGES }, (_, i) => randomBytes(sizes[(conn.index + i) % sizes.length]!));
          sent.set(conn, payloads);
          for (const payload of payloads) conn.write(encodeFrame(Opcode.BINARY, payload, { mask: MASK }));
        },
        onMessage: (conn, data, isBinary) => {
          // A lent message is compared now (it is gone after this call); a kept one only at the end.
          const list = received.get(conn) ?? [];
          received.set(conn, list);
          if (!isBinary) list.push('text');
          else if (lendsMessages) list.push(data.toString('hex'));
          else list.push(data);
          if (list.length === MESSAGES) conn.close();
        },
        onEnd: () => ended++,
      };
      const target = { host: '127.0.0.1', port: server.port, path: '/', protocols: [], tls: null };
      const conns = Array.from({ length: CONNECTIONS }, (_, i) => new BenchConnection(i, owner, target, 16, MASK, 1 << 20));
      for (const conn of conns) conn.connect();
      await until(() => ended === CONNECTIONS, 'every connection to finish', 60_000);

      for (const conn of conns) {
        expect([conn.failure, conn.failureReason]).toEqual([null, '']);
        const expected = sent.get(conn)!.map((payload) => payload.toString('hex'));
        const got = (received.get(conn) ?? []).map((message) => (typeof message === 'string' ? message : message.toString('hex')));
        expect(got.length).toBe(MESSAGES);
        expect(got).toEqual(expected);
      }
      expect(server.counts.replies).toBe(CONNECTIONS * MESSAGES);
      // Every ping answered with its own payload (the one behind the 101 included).
      expect(server.counts.pings).toBeGreaterThan(CONNECTIONS);
      expect([server.counts.pongs, server.counts.badPongs]).toEqual([server.counts.pings, 0]);
    }, 90_000);
  }

  it('the echo scenario counts exactly the replies, skimmed, fragmented or behind a ping', async () => {
    const server = await startSlicingServer(3000);
    stopServer = server.close;
    const PAYLOAD_BYTES = 20_000;
    const MAX_MESSAGES = 300;
    const setup: ThreadSetup = {
      threadIndex: 0,
      threadCount: 1,
      kind: 'echo',
      target: { host: '127.0.0.1', port: server.port, path: '/', protocols: [], tls: null },
      publisherTarget: null,
      publishRate: 0,
      connections: 3,
      subscribers: 0,
      publishers: 0,
      inflight: 4,
      payloadBytes: PAYLOAD_BYTES,
      maxMessages: MAX_MESSAGES,
      timeoutMs: 30_000,
      connectConcurrency: 3,
    };
    const recorder = new LoadRecorder();
    const driver = new EchoDriver(setup, recorder, MASK);
    await driver.setup();
    expect(driver.openCount()).toBe(3);
    recorder.beginWindow(false);
    driver.start();
    // The driver stops sending at its cap; every request it sent is answered.
    await until(() => recorder.total >= MAX_MESSAGES, 'every echo', 60_000);
    recorder.measuring = false;
    driver.stop();
    await driver.shutdown();

    expect(recorder.errors).toEqual({ handshakeFailures: 0, unexpectedCloses: 0, protocolErrors: 0, timeouts: 0 });
    expect(driver.hitMessageCap()).toBe(true);
    expect(server.counts.replies).toBe(MAX_MESSAGES);
    expect(recorder.messages).toBe(MAX_MESSAGES);
    expect(recorder.bytes).toBe(MAX_MESSAGES * PAYLOAD_BYTES);
    expect([server.counts.pongs, server.counts.badPongs]).toEqual([server.counts.pings, 0]);
  }, 90_000);
});
