/**
 * Micro-benchmark: a worker's whole hot path for the msgpack subprotocol,
 * in one thread with the sockets stubbed out: SocketBinding -> frame decoder
 * -> ConnectionActor -> ProtocolSession -> handler -> reply through the
 * write slab, and the local fan-out of a publication. What it leaves out is
 * the kernel (reads, writev), which dominates the fan-out under real load
 * (see `shoal bench` and the notes in src/app/pubsub/deliver-publication.ts).
 *
 * Each measured run is one read followed by the end of the event-loop turn
 * (a setImmediate, whose cost is included), because frames written outside
 * a read leave at the end of the turn.
 *
 * Run: npx node bench/micro/app-hot-path.ts
 *      BENCH_ROUNDS=100 npx node bench/micro/app-hot-path.ts   (steadier minimum)
 *
 * Cases (the shapes of the `rpc` and `broadcast` load scenarios):
 * - rpc: 100 connections; each read carries 32 masked `add` requests.
 * - broadcast: 100 subscribers of one topic; one publisher whose read
 *   carries 4 `publish` requests of a 32-byte payload.
 * - raw broadcast: the same on raw connections (no subprotocol, `ctx.publish`
 *   of the 48-byte binary message as it came, as uWebSockets.js `ws.publish`).
 */
import { Packr } from 'msgpackr';
import { ConnectionActor } from '../../src/actors/connection-actor.ts';
import { createWorkerServices } from '../../src/app/services.ts';
import { createSession } from '../../src/app/session.ts';
import { CPU_WORKER_URL } from '../../src/workers/entry-urls.ts';
import { SocketBinding, type BindingConfig, type BindingDelegate } from '../../src/transport/socket-binding.ts';
import { encodeFrame } from '../../src/protocol/frame-encoder.ts';
import { Opcode } from '../../src/protocol/constants.ts';
import { MSGPACK_PROTOCOL } from '../../src/codec/envelope.ts';
import app from '../load/bench-app.ts';
import type { App } from '../../src/app/types.ts';
import { stubSocket, written } from './stub-socket.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40);
const ROUND_MS = 25;
const packr = new Packr({ useRecords: false });
const mask = Buffer.from([1, 2, 3, 4]);
const config: BindingConfig = {
  maxMessageBytes: 1 << 20,
  maxBackpressureBytes: 4 << 20,
  handshakeTimeoutMs: 1e9,
  idleTimeoutMs: 0,
  pingIntervalMs: 0,
  closeTimeoutMs: 1e9,
};
const delegate: BindingDelegate = { handshakeData() {}, handshakeTimedOut() {}, closed() {} };
const services = createWorkerServices({ workerId: 1, namespace: `shoal.bench.${process.pid}`, app: 'echo', cpuWorkerFilename: CPU_WORKER_URL });


/** An upgraded connection on `onApp`: msgpack on the bench app, or raw (protocol null) with `upgradeData`. */
function open(onApp: App = app, protocol: string | null = MSGPACK_PROTOCOL, upgradeData: unknown = undefined): SocketBinding {
  const binding = new SocketBinding(stubSocket(), config, delegate, 1);
  const address = services.router.registry.nextAddress();
  const actor = new ConnectionActor(binding, { address, protocol, upgradeData }, { mailboxSize: 1024, mailboxBytes: 4 << 20 });
  binding.accept(Buffer.alloc(0), actor);
  actor.start(createSession(onApp, actor, services));
  return binding;
}

/** Raw pub/sub: connections opened with upgradeData "sub" subscribe; every message is published as it came. */
const rawApp: App = {
  onOpen(ctx) {
    if (ctx.upgradeData === 'sub') void ctx.subscribe('raw-bench');
  },
  onMessage(ctx, data, isBinary) {
    ctx.publish('raw-bench', data, isBinary);
  },
};

/** Masked client frames of `messages`, back to back in one buffer. */
function read(messages: unknown[]): Buffer {
  return Buffer.concat(messages.map((message) => encodeFrame(Opcode.BINARY, packr.pack(message), { mask })));
}

/** ns per message: the fastest of ROUNDS short rounds (the one least disturbed by other work on the machine). */
/**
 * The end of an event-loop turn, as after each socket read in a worker: frames
 * written outside a read (fan-out) leave then. Part of every measured run.
 */
const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function measure(name: string, perRun: number, run: () => void): Promise<void> {
  for (let i = 0; i < 200; i++) {
    run();
    await endOfTurn();
  }
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    let runs = 0;
    while (performance.now() - start < ROUND_MS) {
      run();
      await endOfTurn();
      runs++;
    }
    best = Math.min(best, ((performance.now() - start) * 1e6) / (runs * perRun));
  }
  console.log(`${name.padEnd(36)} ${best.toFixed(0).padStart(6)} ns/message`);
}

const rpcConnections = Array.from({ length: 100 }, () => open());
// The decoder unmasks in place: every run feeds a fresh copy.
const rpcRead = read(Array.from({ length: 32 }, (_, id) => [1, id, 'add', [id, 7]]));
let turn = 0;
await measure('rpc: 32 add requests per read', 32, () => {
  rpcConnections[turn++ % 100].receive(Buffer.from(rpcRead));
});

const subscribers = Array.from({ length: 100 }, () => open());
for (const subscriber of subscribers) subscriber.receive(read([[1, 0, '$subscribe', 'bench']]));
const publisher = open();
const pad = new Uint8Array(32);
const publishRead = read(Array.from({ length: 4 }, (_, id) => [1, id, 'publish', ['bench', { t: 1.5, pad }]]));
await measure('broadcast: 4 publishes x 100 subs', 400, () => {
  publisher.receive(Buffer.from(publishRead));
});

for (let i = 0; i < 100; i++) open(rawApp, null, 'sub');
const rawPublisher = open(rawApp, null, 'pub');
const rawRead = Buffer.concat(Array.from({ length: 4 }, () => encodeFrame(Opcode.BINARY, Buffer.alloc(48, 7), { mask })));
const rawBytesBefore = written.bytes;
rawPublisher.receive(Buffer.from(rawRead));
await endOfTurn();
// 4 publications of 48 bytes (2-byte header) to 100 subscribers.
if (written.bytes - rawBytesBefore < 4 * 100 * 50) throw new Error('the raw subscribers received nothing: the raw case would measure nothing');
await measure('raw broadcast: 4 publishes x 100 subs', 400, () => {
  rawPublisher.receive(Buffer.from(rawRead));
});

if (written.bytes === 0) throw new Error('nothing was written: the benchmark measured nothing');
process.exit(0);
