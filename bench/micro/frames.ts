/**
 * Micro-benchmark: Shoal's frame decoder and encoder against the `ws`
 * package's own Receiver and Sender, side by side in one run (the machines
 * are noisy; only ratios measured together mean much).
 *
 * Run: npx node bench/micro/frames.ts            (about 1 s per case and side)
 *      BENCH_BUDGET_MS=300 npx node bench/micro/frames.ts   (quicker, noisier)
 *
 * Decoder inputs are masked client frames, fed as one chunk holding many
 * frames, as 64 KiB reads (large frames then span reads), or in 1-byte chunks.
 * Masking keys and text are ASCII so that unmasking the same input again
 * (both decoders unmask in place) still gives valid UTF-8: every pass does the
 * full work.
 *
 * ws masks with the native `bufferutil` addon when it can load it (it can
 * here: an optional dependency pulls it in), else with a JS byte loop. Both
 * are measured: "ws" as installed, "ws-js" with WS_NO_BUFFER_UTIL=1 (a second
 * copy of ws's modules loaded with that setting).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FrameDecoder, type FrameSink } from '../../src/protocol/frame-decoder.ts';
import { encodeFrame, encodeFrameParts } from '../../src/protocol/frame-encoder.ts';

const BUDGET_MS = Number(process.env.BENCH_BUDGET_MS ?? 1000);
/** Each side runs in this many alternating slices, so drift in machine load hits both alike. */
const ROUNDS = 4;
const KEY = Buffer.from([0x12, 0x34, 0x56, 0x78]);
const MAX = 64 * 1024 * 1024;

/** A unit of work that can be repeated; returns how many frames and payload bytes it handled. */
interface Work {
  run(): void;
  frames: number;
  bytes: number;
}

type Side = 'shoal' | 'ws' | 'wsJs';
const SIDES: readonly Side[] = ['shoal', 'ws', 'wsJs'];

interface Case {
  group: 'decode' | 'encode';
  name: string;
  unit: 'frames/s' | 'MB/s';
  make: Record<Side, () => Work>;
}

/** The slice of ws's API the benchmark drives. */
interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
}
interface WsLib {
  Receiver: new (options: object) => WsReceiver;
  Sender: { frame(data: Buffer, options: object): Buffer[] };
  nativeMask: boolean;
}

const require = createRequire(import.meta.url);
const WS_LIB_DIR = join(dirname(require.resolve('ws/package.json')), 'lib');

/** A fresh copy of ws's Receiver and Sender, with or without bufferutil. */
function loadWs(pureJs: boolean): WsLib {
  for (const key of Object.keys(require.cache)) if (key.startsWith(WS_LIB_DIR)) delete require.cache[key];
  if (pureJs) process.env.WS_NO_BUFFER_UTIL = '1';
  else delete process.env.WS_NO_BUFFER_UTIL;
  const bufferUtil = require(join(WS_LIB_DIR, 'buffer-util.js'));
  const lib = {
    Receiver: require(join(WS_LIB_DIR, 'receiver.js')),
    Sender: require(join(WS_LIB_DIR, 'sender.js')),
    // The JS fallback is a function declared in buffer-util.js named _mask.
    nativeMask: bufferUtil.mask.name !== '_mask',
  };
  delete process.env.WS_NO_BUFFER_UTIL;
  return lib;
}

const WS = loadWs(false);
const WS_JS = loadWs(true);

function asciiPayload(length: number): Buffer {
  const payload = Buffer.alloc(length);
  for (let i = 0; i < length; i++) payload[i] = 0x20 + ((i * 7) % 0x5f);
  return payload;
}

function binaryPayload(length: number): Buffer {
  const payload = Buffer.alloc(length);
  for (let i = 0; i < length; i++) payload[i] = (i * 31) & 0xff;
  return payload;
}

type Mode = 'one chunk' | '64 KiB reads' | '1-byte chunks';

/** The input cut the way `mode` says; chunks are views of one buffer. */
function chunked(stream: Buffer, mode: Mode): Buffer[] {
  if (mode === 'one chunk') return [stream];
  const size = mode === '1-byte chunks' ? 1 : 64 * 1024;
  const chunks: Buffer[] = [];
  for (let at = 0; at < stream.length; at += size) chunks.push(stream.subarray(at, at + size));
  return chunks;
}

function decodeCase(label: string, opcode: 1 | 2, payloadLength: number, framesPerPass: number, mode: Mode): Case {
  const payload = opcode === 1 ? asciiPayload(payloadLength) : binaryPayload(payloadLength);
  const frame = encodeFrame(opcode, payload, { mask: KEY });
  const stream = Buffer.concat(Array.from({ length: framesPerPass }, () => frame));
  const bytes = framesPerPass * payloadLength;

  const shoal = (): Work => {
    const chunks = chunked(Buffer.from(stream), mode);
    let received = 0;
    const sink: FrameSink = {
      onMessage: () => {
        received++;
      },
      onControl() {},
      onError: (error) => {
        throw error;
      },
    };
    const decoder = new FrameDecoder(sink, { maxMessageBytes: MAX });
    return {
      run() {
        received = 0;
        for (let i = 0; i < chunks.length; i++) decoder.push(chunks[i]!);
        if (received !== framesPerPass) throw new Error(`shoal decoded ${received} of ${framesPerPass} messages`);
      },
      frames: framesPerPass,
      bytes,
    };
  };

  const ws = (lib: WsLib) => (): Work => {
    const chunks = chunked(Buffer.from(stream), mode);
    let received = 0;
    const receiver = new lib.Receiver({ isServer: true, maxPayload: MAX });
    receiver.on('message', () => {
      received++;
    });
    receiver.on('error', (error: Error) => {
      throw error;
    });
    return {
      run() {
        received = 0;
        // As ws's WebSocket feeds it from the socket's 'data' events.
        for (let i = 0; i < chunks.length; i++) receiver.write(chunks[i]!);
        if (received !== framesPerPass) throw new Error(`ws decoded ${received} of ${framesPerPass} messages`);
      },
      frames: framesPerPass,
      bytes,
    };
  };

  const unit = payloadLength >= 1024 ? 'MB/s' : 'frames/s';
  return { group: 'decode', name: `${label}, ${mode}`, unit, make: { shoal, ws: ws(WS), wsJs: ws(WS_JS) } };
}

/**
 * Unmasked server frames: `parts` gives header + the payload itself on both
 * sides (ws's Sender.frame always does); otherwise Shoal copies the payload
 * behind the header (what ServerConnection.send does below 16 KiB, to save a
 * write call). Masked client frames: one buffer with a masked copy on both sides.
 */
function encodeCase(label: string, payloadLength: number, kind: 'parts' | 'one buffer' | 'masked'): Case {
  const payload = binaryPayload(payloadLength);
  const framesPerPass = payloadLength >= 1024 ? 16 : 1000;
  const bytes = framesPerPass * payloadLength;
  let sink = 0;

  const shoal = (): Work => ({
    run() {
      for (let i = 0; i < framesPerPass; i++) {
        if (kind === 'masked') sink += encodeFrame(0x2, payload, { mask: KEY }).length;
        else if (kind === 'parts') sink += encodeFrameParts(0x2, payload)[0].length;
        else sink += encodeFrame(0x2, payload).length;
      }
    },
    frames: framesPerPass,
    bytes,
  });

  const generateMask = (mask: Buffer) => KEY.copy(mask);
  const options =
    kind === 'masked'
      ? { fin: true, opcode: 0x2, mask: true, readOnly: true, rsv1: false, generateMask }
      : { fin: true, opcode: 0x2, mask: false, readOnly: false, rsv1: false };
  const ws = (lib: WsLib) => (): Work => ({
    run() {
      for (let i = 0; i < framesPerPass; i++) sink += lib.Sender.frame(payload, options)[0]!.length;
    },
    frames: framesPerPass,
    bytes,
  });

  const how =
    kind === 'masked' ? 'masked client frame, one buffer' : kind === 'parts' ? 'server frame, header + payload' : 'server frame (shoal: one buffer)';
  return {
    group: 'encode',
    name: `${label} ${how}`,
    unit: payloadLength >= 1024 ? 'MB/s' : 'frames/s',
    make: { shoal, ws: ws(WS), wsJs: ws(WS_JS) },
  };
}

/** Runs `work` repeatedly for about `ms` milliseconds; returns [frames, bytes, seconds]. */
function runFor(work: Work, ms: number): [number, number, number] {
  let frames = 0;
  let bytes = 0;
  const start = performance.now();
  const deadline = start + ms;
  do {
    work.run();
    frames += work.frames;
    bytes += work.bytes;
  } while (performance.now() < deadline);
  return [frames, bytes, (performance.now() - start) / 1000];
}

/** Lets pending ticks run (ws's Writable defers its write callbacks to process.nextTick). */
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

async function measure(benchCase: Case): Promise<Record<Side, number>> {
  const work = { shoal: benchCase.make.shoal(), ws: benchCase.make.ws(), wsJs: benchCase.make.wsJs() };
  // Warm-up so every side is optimised before the clock starts.
  for (const side of SIDES) runFor(work[side], Math.min(200, BUDGET_MS / 4));
  const totals = { shoal: [0, 0, 0], ws: [0, 0, 0], wsJs: [0, 0, 0] };
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so drift in machine load hits all sides alike.
    for (let k = 0; k < SIDES.length; k++) {
      const side = SIDES[(round + k) % SIDES.length]!;
      await yieldToLoop();
      const [frames, bytes, seconds] = runFor(work[side], BUDGET_MS / ROUNDS);
      totals[side][0]! += frames;
      totals[side][1]! += bytes;
      totals[side][2]! += seconds;
    }
  }
  const rate = (t: number[]) => (benchCase.unit === 'MB/s' ? t[1]! / t[2]! / 1e6 : t[0]! / t[2]!);
  return { shoal: rate(totals.shoal), ws: rate(totals.ws), wsJs: rate(totals.wsJs) };
}

function format(value: number, unit: string): string {
  if (unit === 'MB/s') return `${value.toFixed(0)} MB/s`;
  return value >= 1e6 ? `${(value / 1e6).toFixed(2)} M/s` : `${(value / 1e3).toFixed(0)} k/s`;
}

const KiB = 1024;
const CASES: Case[] = [
  decodeCase('32 B binary', 2, 32, 1800, 'one chunk'),
  decodeCase('32 B binary', 2, 32, 1800, '1-byte chunks'),
  decodeCase('125 B binary', 2, 125, 500, 'one chunk'),
  decodeCase('125 B binary', 2, 125, 500, '1-byte chunks'),
  decodeCase('125 B text', 1, 125, 500, 'one chunk'),
  decodeCase('64 KiB binary', 2, 64 * KiB, 16, 'one chunk'),
  decodeCase('64 KiB binary', 2, 64 * KiB, 16, '64 KiB reads'),
  decodeCase('64 KiB binary', 2, 64 * KiB, 1, '1-byte chunks'),
  decodeCase('64 KiB text', 1, 64 * KiB, 16, 'one chunk'),
  encodeCase('32 B', 32, 'parts'),
  encodeCase('32 B', 32, 'one buffer'),
  encodeCase('125 B', 125, 'parts'),
  encodeCase('125 B', 125, 'one buffer'),
  encodeCase('64 KiB', 64 * KiB, 'parts'),
  encodeCase('32 B', 32, 'masked'),
  encodeCase('125 B', 125, 'masked'),
  encodeCase('64 KiB', 64 * KiB, 'masked'),
];

const wsVersion = require('ws/package.json').version;
console.log(`Shoal frames vs ws ${wsVersion}, Node ${process.version}, ${BUDGET_MS} ms per side per case`);
console.log(`ws: bufferutil ${WS.nativeMask ? 'loaded (native masking)' : 'not loaded'}; ws-js: masking in JS ${WS_JS.nativeMask ? '(FAILED to disable bufferutil)' : ''}`);
console.log('');
const widths = [6, 52, 11, 11, 11, 8, 8];
const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(line(['', 'case', 'shoal', 'ws', 'ws-js', '/ws', '/ws-js']));
for (const benchCase of CASES) {
  const rates = await measure(benchCase);
  const unit = benchCase.unit;
  console.log(
    line([
      benchCase.group,
      benchCase.name,
      format(rates.shoal, unit),
      format(rates.ws, unit),
      format(rates.wsJs, unit),
      `${(rates.shoal / rates.ws).toFixed(2)}x`,
      `${(rates.shoal / rates.wsJs).toFixed(2)}x`,
    ]),
  );
}
