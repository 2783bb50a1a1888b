/**
 * Micro-benchmark: a worker's path for large raw messages, in one thread with
 * the socket stubbed out: SocketBinding -> FrameDecoder (frames split across
 * reads, unmasking) -> ConnectionActor -> raw echo -> the reply's header and
 * payload through the write slab. What it leaves out is the kernel and Node's
 * stream machinery (`shoal bench --scenarios echo:size=16384:inflight=4`
 * measures those).
 *
 * Run: npx node bench/micro/large-messages.ts
 *      SHOAL_ROOT=/path/to/other/checkout npx node bench/micro/large-messages.ts
 *      (the same cases against another checkout's src/, to compare old and new)
 *
 * Cases: SIZE-byte binary echoes, 4 frames back to back per connection, cut
 * into reads of READ bytes (the loopback reads of `shoal bench` are up to
 * 64 KiB), so most frames span two reads. "borrowed": the app borrows its
 * messages (`borrowMessages`, as the built-in echo app), and the stub socket
 * has no handle to write to directly, so each reply is copied into the write
 * slab (the path of a large borrowed reply over TLS), a slab of the reply's
 * size past 64 KiB.
 */
import { pathToFileURL } from 'node:url';
import { stubSocket, written } from './stub-socket.ts';

const root = pathToFileURL(`${process.env.SHOAL_ROOT ?? new URL('../../', import.meta.url).pathname}/`);
const load = async <T>(path: string): Promise<T> => (await import(new URL(path, root).href)) as T;

const { SocketBinding } = await load<typeof import('../../src/transport/socket-binding.ts')>('src/transport/socket-binding.ts');
const { ConnectionActor } = await load<typeof import('../../src/actors/connection-actor.ts')>('src/actors/connection-actor.ts');
const { RawSession } = await load<typeof import('../../src/app/raw-session.ts')>('src/app/raw-session.ts');
const { encodeFrame } = await load<typeof import('../../src/protocol/frame-encoder.ts')>('src/protocol/frame-encoder.ts');
const { createWorkerServices } = await load<typeof import('../../src/app/services.ts')>('src/app/services.ts');
const { CPU_WORKER_URL } = await load<typeof import('../../src/workers/entry-urls.ts')>('src/workers/entry-urls.ts');
/** Raw sessions take the worker's services (pub/sub, routing) since issue #11; older trees ignore the argument. */
const services = createWorkerServices({ workerId: 1, namespace: `shoal.bench.${process.pid}`, app: 'echo', cpuWorkerFilename: CPU_WORKER_URL });
type SocketBinding = import('../../src/transport/socket-binding.ts').SocketBinding;

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const ROUND_MS = 25;
const config = {
  maxMessageBytes: 16 << 20,
  maxBackpressureBytes: 64 << 20,
  handshakeTimeoutMs: 1e9,
  idleTimeoutMs: 0,
  pingIntervalMs: 0,
  closeTimeoutMs: 1e9,
};
const delegate = { handshakeData() {}, handshakeTimedOut() {}, closed() {} };


const echoApp = {
  onMessage(ctx: { sendRaw(data: Uint8Array, isBinary: boolean): void }, data: Buffer, isBinary: boolean) {
    ctx.sendRaw(data, isBinary);
  },
};

function open(borrowed: boolean): SocketBinding {
  const binding = new SocketBinding(stubSocket(), config, delegate, 1);
  const actor = new ConnectionActor(binding, { address: '1.1', protocol: null, upgradeData: undefined }, { mailboxSize: 1024, mailboxBytes: 64 << 20 });
  binding.accept(Buffer.alloc(0), actor, null, borrowed);
  actor.start(new RawSession((borrowed ? { ...echoApp, borrowMessages: true } : echoApp) as never, actor, services));
  return binding;
}

/**
 * CPU ns per message (process.cpuUsage, so time the machine gave to other
 * work does not count): the lowest of ROUNDS rounds of ROUND_MS of CPU time.
 */
function measure(name: string, perRun: number, run: () => void): void {
  for (let i = 0; i < 50; i++) run();
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.cpuUsage();
    let used = 0;
    let runs = 0;
    while (used < ROUND_MS * 1000) {
      run();
      runs++;
      const now = process.cpuUsage(start);
      used = now.user + now.system;
    }
    best = Math.min(best, (used * 1000) / (runs * perRun));
  }
  console.log(`${name.padEnd(48)} ${best.toFixed(0).padStart(8)} ns/message`);
}

const mask = Buffer.from([0x11, 0x22, 0x33, 0x44]);
for (const [size, read, borrowed] of [
  [1024, 64 * 1024, false],
  [16 * 1024, 64 * 1024, false],
  [16 * 1024, 16 * 1024 + 3, false],
  [64 * 1024, 64 * 1024, false],
  [1024 * 1024, 64 * 1024, false],
  [16 * 1024, 64 * 1024, true],
  [256 * 1024, 64 * 1024, true],
  [1024 * 1024, 64 * 1024, true],
] as const) {
  const frames = Buffer.concat(Array.from({ length: 4 }, () => encodeFrame(0x2, Buffer.alloc(size, 7), { mask })));
  const reads: Buffer[] = [];
  for (let at = 0; at < frames.length; at += read) reads.push(frames.subarray(at, at + read));
  const connections = Array.from({ length: 8 }, () => open(borrowed));
  let turn = 0;
  measure(`echo ${size / 1024} KiB, reads of ${read} B${borrowed ? ', borrowed' : ''}`, 4, () => {
    const binding = connections[turn++ % connections.length];
    // The decoder unmasks binary payloads in place; feeding the same reads
    // again toggles them between masked and not, which an echo does not check.
    for (const chunk of reads) binding.receive(chunk);
  });
}
console.log(`(${written.writes} socket writes)`);
if (written.bytes === 0) throw new Error('nothing was written: the benchmark measured nothing');
process.exit(0);
