/**
 * Micro-benchmark: the CPU one fan-out delivery costs the server process
 * through the real socket path, with the batching per event-loop turn held
 * fixed (under `shoal bench` it moves with load, and so does CPU per
 * delivery). 200 loopback TCP connections, read and discarded by a child
 * process (its CPU is not counted); each turn delivers K 50-byte frames (a
 * 48-byte raw publication) to every connection, all subscribed to one topic,
 * through the pub/sub fan-out (LocalSubscriptions, the topic batch of the turn
 * and deliverPublication as PubSub.publish uses them, then
 * ConnectionActor.sendFrame), and the turn's writes leave at its end.
 * Reported: server process CPU (user + system, process.cpuUsage) per delivery,
 * for K = 1, 4 and 16 publications per turn.
 *
 * With BENCH_STUB=1 the sockets are stubs (stub-socket.ts: writes counted
 * and dropped, no kernel, no child): what is left is the user-space cost of
 * a delivery, the queueing per connection and the turn end's hand-off, which
 * the kernel's loopback send otherwise buries in noise. Also K = 2 then.
 * With BENCH_STUB=duplex the stubs are real Duplex streams with a handle
 * that takes every write (stub-socket.ts): the binding's direct writes and
 * Node's stream getters, still no kernel. Also reported: user CPU per write
 * (one write per connection per turn).
 *
 * Run: npx node bench/micro/fan-out-writes.ts
 *      BENCH_STUB=1 npx node bench/micro/fan-out-writes.ts
 *      BENCH_STUB=duplex BENCH_TURNS=20000 npx node bench/micro/fan-out-writes.ts
 *      SHOAL_ROOT=/path/to/other/checkout npx node bench/micro/fan-out-writes.ts   (the same load on another tree's src/: before/after)
 *      BENCH_K=1,2 BENCH_TURNS=6000 ...   (only these publications per turn, warm-up included; longer runs)
 *      BENCH_STUB=duplex BENCH_CONNECTIONS=20000 BENCH_SHUFFLE=1 BENCH_TURNS=200 ...   (objects out of the caches: see
 *                              CONNECTIONS and BENCH_SHUFFLE)
 *      BENCH_TOPICS=own ...   (each connection subscribed to a topic of its own, as per-user topics are; each turn
 *                              publishes K times to every topic, the topics in turn: consecutive publications never
 *                              share a topic, so none joins a batch)
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { seededRandom } from '../../test/helpers/chunkings.ts';
import { duplexStubSocket, stubSocket } from './stub-socket.ts';

const root = process.env.SHOAL_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { SocketBinding } = (await import(pathToFileURL(path.join(root, 'src/transport/socket-binding.ts')).href)) as typeof import('../../src/transport/socket-binding.ts');
const { ConnectionActor } = (await import(pathToFileURL(path.join(root, 'src/actors/connection-actor.ts')).href)) as typeof import('../../src/actors/connection-actor.ts');
const { LocalSubscriptions } = (await import(pathToFileURL(path.join(root, 'src/app/pubsub/local-subscriptions.ts')).href)) as typeof import('../../src/app/pubsub/local-subscriptions.ts');
const { deliverPublication } = (await import(pathToFileURL(path.join(root, 'src/app/pubsub/deliver-publication.ts')).href)) as typeof import('../../src/app/pubsub/deliver-publication.ts');
/** What PubSub.publish delivers through: the topic batch per turn where the tree has it (topic-batch.ts), else deliverPublication (older trees). */
const topicBatch = existsSync(path.join(root, 'src/app/pubsub/topic-batch.ts'))
  ? ((await import(pathToFileURL(path.join(root, 'src/app/pubsub/topic-batch.ts')).href)) as typeof import('../../src/app/pubsub/topic-batch.ts'))
  : null;
const scheduleClose = (close: () => void): void => void setImmediate(close);
/** PubSub counts each delivery in its stats here; the bench counts nothing. */
const count = (): void => {};
const deliver: typeof deliverPublication = topicBatch === null ? deliverPublication : (entry, frames) => topicBatch.deliverInTurn(entry, frames, count, scheduleClose);

/**
 * Connections (subscribers). More than fit in the core's caches (BENCH_CONNECTIONS=20000 with the Duplex stubs: a few
 * KB of binding, actor, socket and stream per connection) make every object a delivery reads a cache miss, as the
 * kernel's ~3 us per write makes it end to end, without the kernel's noise.
 */
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 200);
const TURNS = Number(process.env.BENCH_TURNS ?? 1500);
/** Turns between waits for every send buffer to empty (bounds memory; the wait costs both trees the same). */
const DRAIN_EVERY = 25;
const config = { maxMessageBytes: 1 << 20, maxBackpressureBytes: 64 << 20, handshakeTimeoutMs: 1e9, idleTimeoutMs: 0, pingIntervalMs: 0, closeTimeoutMs: 1e9 };
const delegate = { handshakeData() {}, handshakeTimedOut() {}, closed() {} };

const stubKind = process.env.BENCH_STUB;
const stub = stubKind === '1' || stubKind === 'duplex';
const server = net.createServer({ noDelay: true });
const accepted: Socket[] = [];
let reader: ReturnType<typeof spawn> | null = null;
if (stub) {
  for (let i = 0; i < CONNECTIONS; i++) accepted.push(stubKind === 'duplex' ? duplexStubSocket() : stubSocket());
} else {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const allAccepted = new Promise<void>((resolve) => {
    server.on('connection', (socket) => {
      accepted.push(socket);
      if (accepted.length === CONNECTIONS) resolve();
    });
  });
  reader = spawn(
    process.execPath,
    ['-e', `const net = require('node:net'); for (let i = 0; i < ${CONNECTIONS}; i++) net.connect(${port}, '127.0.0.1').on('error', () => {}).resume(); process.stdin.on('end', () => process.exit(0)).resume();`],
    { stdio: ['pipe', 'inherit', 'inherit'] },
  );
  await allAccepted;
}

const actors = accepted.map((socket, i) => {
  const binding = new SocketBinding(socket, config, delegate, 1);
  const actor = new ConnectionActor(binding, { address: `1.${i}`, protocol: null, upgradeData: undefined }, { mailboxSize: 1024, mailboxBytes: 1 << 20 });
  binding.accept(Buffer.alloc(0), actor);
  return actor;
});

/** Every connection subscribed as a raw subscriber, as pubsub.ts keeps them: all to one topic, or each to its own. */
const ownTopics = process.env.BENCH_TOPICS === 'own';
const local = new LocalSubscriptions();
/**
 * BENCH_SHUFFLE=1: subscribed (and so walked, and written at the turn end) in a shuffled order, not the order the
 * connections' objects were allocated in, which the hardware prefetcher follows; end to end, connections are accepted
 * over time among other allocations.
 */
const order = actors.map((_, i) => i);
if (process.env.BENCH_SHUFFLE === '1') {
  const random = seededRandom(11);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
}
order.forEach((i) => {
  const actor = actors[i] as (typeof actors)[number];
  const name = ownTopics ? `t${i}` : 't';
  // `writer`: what the walks write to (the binding; undefined with a tree from before ConnectionHandle.frameWriter, whose walks use `handle`).
  local.add({ handle: actor, writer: actor.frameWriter, codec: null, topics: new Set([name]) }, name);
});
type Topic = NonNullable<ReturnType<typeof local.get>>;
/** The topics a turn publishes to, each once per publication round. */
const topics: Topic[] = ownTopics ? actors.map((_, i) => local.get(`t${i}`) as Topic) : [local.get('t') as Topic];

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
async function drained(): Promise<void> {
  while (accepted.some((socket) => socket.writableLength > 0)) await new Promise<void>((resolve) => setTimeout(resolve, 1));
}

/** CPU ns per delivery and user CPU ns per write over TURNS turns of `perTurn` publications to every connection. */
async function run(perTurn: number): Promise<string> {
  const publications = Array.from({ length: perTurn }, (_, i) => {
    const frame = Buffer.alloc(50, i);
    frame[0] = 0x82;
    frame[1] = 48;
    return { msgpack: null, raw: frame, others: null };
  });
  await drained();
  const start = process.cpuUsage();
  for (let t = 0; t < TURNS; t++) {
    for (const publication of publications) for (const topic of topics) deliver(topic, publication);
    await turn();
    if (t % DRAIN_EVERY === DRAIN_EVERY - 1) await drained();
  }
  await drained();
  const used = process.cpuUsage(start);
  const perDelivery = ((used.user + used.system) * 1000) / (TURNS * perTurn * CONNECTIONS);
  const userPerWrite = (used.user * 1000) / (TURNS * CONNECTIONS);
  return `${perDelivery.toFixed(0)} ns/delivery (user ${userPerWrite.toFixed(0)} ns/write)`;
}

const perTurnCounts = process.env.BENCH_K !== undefined ? process.env.BENCH_K.split(',').map(Number) : stub ? [1, 2, 4, 16] : [1, 4, 16];
// Warm-up: every K once, so that no measured K pays for compiling (or recompiling) a path the others did not take
// (one K=4 warm-up left K=1 and K=2 of the topic batch's tree paying for it: process CPU counts the compiler threads).
for (const perTurn of perTurnCounts) await run(perTurn);
const results: string[] = [];
for (const perTurn of perTurnCounts) results.push(`K=${perTurn}: ${await run(perTurn)}`);
console.log(`fan-out writes${stubKind === 'duplex' ? ', Duplex stub sockets' : stub ? ', stub sockets' : ''}${ownTopics ? ', a topic per connection' : ''} (${root}): ${results.join(', ')}`);
if (reader !== null) {
  reader.stdin?.end();
  for (const socket of accepted) socket.destroy();
  server.close();
}
