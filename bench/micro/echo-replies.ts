/**
 * Micro-benchmark: the load generator's path for echo replies, in one thread
 * without sockets: 50 connections' streams of SIZE-byte binary replies, each
 * read (32-256 KiB, seeded sizes, so most replies span reads) copied into
 * one buffer shared by every connection, as `onread` does, then handed on
 * as borrowed either to the connection's FrameDecoder (lent messages; a
 * reply that spans reads is assembled) or to a FrameSkimmer in front of it
 * (bench/load/frame-skimmer.ts: the reply is counted unread). Prints the
 * process CPU per reply, the copy into the read buffer included (its garbage
 * collection too: CPU of every thread).
 *
 * Run: npx node bench/micro/echo-replies.ts            (16 KiB, 64 KiB, 1 MiB)
 *      SIZES=65536 ROUNDS=3 npx node bench/micro/echo-replies.ts
 */
import { Opcode } from '../../src/protocol/constants.ts';
import { FrameDecoder } from '../../src/protocol/frame-decoder.ts';
import { encodeFrame, encodeFrameHeader } from '../../src/protocol/frame-encoder.ts';
import { FrameSkimmer } from '../load/frame-skimmer.ts';
import { seededRandom } from '../../test/helpers/chunkings.ts';

const CONNECTIONS = 50;
const READ_BUFFER_BYTES = 256 * 1024;
const sizes = (process.env.SIZES ?? '16384,65536,1048576').split(',').map(Number);
const rounds = Number(process.env.ROUNDS ?? 2);

/** CPU microseconds per reply for `replies` replies of `size` bytes, through the skimmer or the decoder alone. */
function measure(size: number, skim: boolean, replies: number): number {
  const frame = encodeFrame(Opcode.BINARY, Buffer.alloc(size, 7));
  // Each connection cycles through a stream of at least 4 MiB of back-to-back replies.
  const stream = Buffer.concat(Array.from({ length: Math.max(4, Math.ceil((4 << 20) / frame.length)) }, () => frame));
  const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  let count = 0;
  const sink = {
    onMessage: (data: Buffer) => {
      if (data.length === size) count++;
    },
    onControl: () => {},
    onError: (error: Error) => {
      throw error;
    },
  };
  const conns = Array.from({ length: CONNECTIONS }, () => {
    const decoder = new FrameDecoder(sink, { maxMessageBytes: Math.max(1 << 20, size * 2), requireMask: false, lendMessages: true });
    const skimmer = new FrameSkimmer(encodeFrameHeader(Opcode.BINARY, size, true, null), size, decoder, () => count++);
    return { decoder, skimmer, at: 0 };
  });
  const random = seededRandom(7);
  const run = (target: number): void => {
    count = 0;
    while (count < target) {
      for (const conn of conns) {
        const length = Math.min(32 * 1024 + Math.floor(random() * (READ_BUFFER_BYTES - 32 * 1024)), stream.length - conn.at);
        stream.copy(readBuffer, 0, conn.at, conn.at + length);
        conn.at = (conn.at + length) % stream.length;
        const chunk = readBuffer.subarray(0, length);
        if (skim) conn.skimmer.push(chunk, true);
        else conn.decoder.push(chunk, true);
      }
    }
  };
  run(replies / 5); // warm-up
  const start = process.cpuUsage();
  run(replies);
  const cpu = process.cpuUsage(start);
  return (cpu.user + cpu.system) / count;
}

for (let round = 1; round <= rounds; round++) {
  for (const size of sizes) {
    const replies = size >= 1 << 20 ? 4000 : 100_000;
    const decoded = measure(size, false, replies);
    const skimmed = measure(size, true, replies);
    console.log(`round ${round}, ${size} B replies: decoder ${decoded.toFixed(2)} us CPU/reply, skimmer ${skimmed.toFixed(2)} us CPU/reply`);
  }
}
