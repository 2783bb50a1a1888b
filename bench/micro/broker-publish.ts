/**
 * Micro-benchmark: the CPU the publishing node spends per publication in the
 * Redis broker (redis-broker.ts: the message encoded, the turn's flush, the
 * ioredis command or pipeline, Redis's reply), with the number of
 * publications per event-loop turn held fixed (under `shoal bench
 * --scenarios cross-node` it moves with load). A redis-server of its own on a
 * free loopback port, persistence off, stopped by its pid at the end; a
 * publish-only broker (as the primary's), one topic, 60-byte frames.
 * Reported: process CPU (user + system, process.cpuUsage) per publication for
 * K = 1 and 4 publications per turn, best of 3 rounds after a warm-up one.
 * K = 4 on one topic is one PUBLISH of a batch (broker-wire.ts) since
 * batches, a pipeline of four PUBLISHes before; K = 1 is a batch of one
 * (one message format), a message of its own before.
 *
 * Run: npx node bench/micro/broker-publish.ts
 *      SHOAL_ROOT=/path/to/other/checkout npx node bench/micro/broker-publish.ts   (the same load on another tree's src/: before/after)
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = process.env.SHOAL_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { RedisBroker } = (await import(pathToFileURL(path.join(root, 'src/app/redis-broker.ts')).href)) as typeof import('../../src/app/redis-broker.ts');
const { PublicationForm } = (await import(pathToFileURL(path.join(root, 'src/app/pubsub/deliver-publication.ts')).href)) as typeof import('../../src/app/pubsub/deliver-publication.ts');

const PUBLICATIONS = Number(process.env.BENCH_PUBLICATIONS ?? 40_000);
const ROUNDS = 3;

const port = await new Promise<number>((resolve) => {
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as net.AddressInfo;
    probe.close(() => resolve(port));
  });
});
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const broker = new RedisBroker({ url: `redis://127.0.0.1:${port}`, nodeId: 'bench', password: null }, 0, { subscriber: false });
const frame = new Uint8Array(60);
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

try {
  const readyBy = Date.now() + 10_000;
  while (broker.state !== 'ready') {
    if (Date.now() > readyBy) throw new Error(`redis-server on port ${port} not ready after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  console.log(`root ${root}: CPU per publication, ${PUBLICATIONS} publications per round, best of ${ROUNDS}`);
  for (const perTurn of [1, 4]) {
    let best = Infinity;
    for (let round = 0; round <= ROUNDS; round++) {
      const start = process.cpuUsage();
      for (let i = 0; i < PUBLICATIONS; i += perTurn) {
        for (let k = 0; k < perTurn; k++) broker.publish('bench', PublicationForm.RAW, frame);
        // The flush runs on the next turn (setImmediate); the second turn lets Redis's replies in.
        await turn();
        await turn();
      }
      while (broker.stats.outgoingBytes > 0) await turn();
      const used = process.cpuUsage(start);
      if (round > 0) best = Math.min(best, (used.user + used.system) / PUBLICATIONS);
    }
    console.log(`  ${perTurn} per turn: ${best.toFixed(2)} us (lost ${broker.stats.lost})`);
  }
} finally {
  await broker.close();
  redis.kill();
}
