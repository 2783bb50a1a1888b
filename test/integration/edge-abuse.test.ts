/**
 * Abuse at the connection edge (robustness audit): a real server with TLS,
 * --proxy-protocol and an app `http` handler (and the same abuse against a
 * plain server without PROXY) gets, concurrently over loopback, random bytes
 * at every stage (before and inside the PROXY header, after it where TLS
 * starts, after the TLS handshake where the HTTP head goes, after a 101
 * where frames go), resets mid TLS handshake, mid head and mid body,
 * slowloris trickles (a byte every 200 ms) at every stage, and a client that
 * stops reading a streamed HTTP response. Every abuse is bounded in count
 * and bytes; each connection must be closed by the server. Afterwards the
 * workers are the same threads (none crashed or was replaced), no
 * connection was lost with a worker, no connection is left open, a
 * well-behaved client still echoes, and the refusals were counted.
 *
 * Random inputs come from fast-check (`fc.sample` with a fixed seed, so that
 * a failure reproduces; sampled rather than `fc.assert` so that they run
 * concurrently and the file stays short).
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Opcode } from '../../src/protocol/constants.ts';
import { testCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { clientFrame, upgradeRequest } from '../helpers/raw-socket.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { until } from '../helpers/until.ts';

const SEED = 20261206;
const HANDSHAKE_TIMEOUT_MS = 1000;
const IDLE_TIMEOUT_MS = 1500;
const PROXY_V1 = Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n');
/** Bytes a trickler sends at most (a byte every 200 ms: 40 s) before giving up; the server must close first. */
const TRICKLE_MAX_BYTES = 200;

const appPath = fileURLToPath(new URL('./apps/edge-abuse-app.ts', import.meta.url));

let certs: TestCertificates;
let pem: { cert: string; key: string };

beforeAll(() => {
  certs = testCertificates();
  pem = certs.make('abuse');
});

afterAll(() => certs?.remove());

interface Variant {
  readonly name: string;
  readonly tls: boolean;
  readonly proxy: boolean;
}

/** A client connection: the TCP socket and the stream HTTP goes over (the TLS socket, or the TCP one). */
interface Stage {
  readonly raw: Socket;
  readonly stream: Duplex;
  /** Resolves when the connection has closed; `byServer` is false when the client gave up and closed it. */
  readonly closed: Promise<void>;
  byServer: boolean;
}

function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function stageOf(raw: Socket, stream: Duplex): Stage {
  const stage: Stage = {
    raw,
    stream,
    byServer: true,
    closed: new Promise((resolve) => raw.once('close', () => resolve())),
  };
  // Resets and TLS errors are expected here: only the close matters.
  raw.on('error', () => {});
  stream.on('error', () => {});
  // Read and drop what the server answers, so that its close is seen.
  stream.resume();
  return stage;
}

/** Connects and goes through the PROXY header and the TLS handshake (as the variant has them): the stream is at the HTTP head. */
async function headStage(variant: Variant, port: number): Promise<Stage> {
  const raw = await rawConnect(port);
  if (variant.proxy) raw.write(PROXY_V1);
  if (!variant.tls) return stageOf(raw, raw);
  const secure = await new Promise<TLSSocket>((resolve, reject) => {
    const socket = tlsConnect({ socket: raw, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => resolve(socket));
    socket.once('error', reject);
  });
  return stageOf(raw, secure);
}

/** The first stage's bytes: for a PROXY server a cut of a valid header, so that garbage lands inside it. */
function beforeHead(variant: Variant, cut: number): Buffer {
  return variant.proxy ? PROXY_V1.subarray(0, cut % PROXY_V1.length) : Buffer.alloc(0);
}

/** Writes `bytes` one every 200 ms until the server closes the connection (or TRICKLE_MAX_BYTES, then gives up: a failure). */
async function trickle(stage: Stage, bytes: Buffer): Promise<void> {
  let closed = false;
  void stage.closed.then(() => {
    closed = true;
  });
  for (let i = 0; i < TRICKLE_MAX_BYTES && !closed; i++) {
    stage.stream.write(bytes.subarray(i % bytes.length, (i % bytes.length) + 1));
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (!closed) {
    stage.byServer = false;
    stage.raw.destroy();
  }
  await stage.closed;
}

/** A well-behaved client: upgrade over the variant's stages, send a text message, expect it echoed. */
async function echoes(variant: Variant, port: number, text: string): Promise<string> {
  const stage = await headStage(variant, port);
  stage.stream.pause();
  let received = Buffer.alloc(0);
  stage.stream.removeAllListeners('data');
  stage.stream.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  stage.stream.resume();
  stage.stream.write(upgradeRequest('/'));
  await until(() => received.includes('\r\n\r\n'));
  const headEnd = received.indexOf('\r\n\r\n') + 4;
  expect(received.subarray(0, 12).toString('latin1')).toBe('HTTP/1.1 101');
  stage.stream.write(clientFrame(Opcode.TEXT, text));
  // A short unmasked text frame from the server: 0x81, length, payload.
  await until(() => received.length >= headEnd + 2 + text.length);
  const frame = received.subarray(headEnd);
  stage.stream.end();
  stage.raw.destroy();
  await stage.closed;
  expect(frame[0]).toBe(0x81);
  return frame.subarray(2, 2 + frame[1]).toString();
}

const variants: Variant[] = [
  { name: 'TLS + PROXY protocol + http handler', tls: true, proxy: true },
  { name: 'plain, no PROXY, http handler', tls: false, proxy: false },
];

describe.each(variants)('edge abuse: $name', (variant) => {
  let shoal: TestServer;
  const lost: unknown[] = [];

  beforeAll(async () => {
    shoal = await startServer({
      app: appPath,
      workers: 2,
      handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
      closeTimeoutMs: 1000,
      proxyProtocol: variant.proxy,
      adminPort: 0,
      maxBodyBytes: 64 * 1024,
      ...(variant.tls ? { tlsCert: pem.cert, tlsKey: pem.key } : {}),
    });
    shoal.server.on('connectionLost', (error: unknown) => lost.push(error));
  }, 60_000);

  afterAll(() => shoal?.close());

  it('survives random bytes, resets, trickles and a stalled reader at every stage; workers unchanged, refusals counted', async () => {
    const port = shoal.port;
    const workersBefore = [...shoal.server.workerIds].sort();
    expect(workersBefore).toHaveLength(2);
    expect(await echoes(variant, port, 'before')).toBe('before');

    const garbage = fc.sample(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 3000, size: 'large' }), fc.nat()), { seed: SEED, numRuns: 8 });
    const pending = new Set<string>();
    const abuse = {
      list: [] as Promise<void>[],
      count: 0,
      push(label: string, work: Promise<void>): void {
        const name = `${label} #${++this.count}`;
        pending.add(name);
        this.list.push(work.finally(() => pending.delete(name)));
      },
    };

    // Random bytes at the very start (for PROXY: inside a cut of a valid header).
    for (const [bytes, cut] of garbage) {
      abuse.push('garbage at the start', 
        (async () => {
          const raw = await rawConnect(port);
          const stage = stageOf(raw, raw);
          raw.write(Buffer.concat([beforeHead(variant, cut), bytes]));
          await stage.closed;
        })(),
      );
    }
    if (variant.tls) {
      // A complete PROXY header, then garbage where the TLS ClientHello goes.
      for (const [bytes] of garbage) {
        abuse.push('garbage after the PROXY header', 
          (async () => {
            const raw = await rawConnect(port);
            const stage = stageOf(raw, raw);
            raw.write(Buffer.concat([variant.proxy ? PROXY_V1 : Buffer.alloc(0), bytes]));
            await stage.closed;
          })(),
        );
      }
    }
    // Through every stage, then garbage where the HTTP head goes.
    for (const [bytes] of garbage) {
      abuse.push('garbage head', 
        (async () => {
          const stage = await headStage(variant, port);
          // Half of them end like a head (the parser then judges them at once; else the handshake timeout does).
          stage.stream.write(bytes.length % 2 === 0 ? Buffer.concat([bytes, Buffer.from('\r\n\r\n')]) : bytes);
          await stage.closed;
        })(),
      );
    }
    // A valid upgrade, then random frames; the client ends its side after them (a frame may announce more bytes than follow).
    for (const [bytes] of garbage) {
      abuse.push('garbage frames', 
        (async () => {
          const stage = await headStage(variant, port);
          stage.stream.write(Buffer.concat([Buffer.from(upgradeRequest('/')), bytes]));
          stage.stream.end();
          await stage.closed;
        })(),
      );
    }
    // Resets: mid TLS handshake (or mid head without TLS), mid head, mid body.
    for (let i = 0; i < 4; i++) {
      abuse.push('reset mid handshake', 
        (async () => {
          const raw = await rawConnect(port);
          const stage = stageOf(raw, raw);
          if (variant.tls) {
            if (variant.proxy) raw.write(PROXY_V1);
            const secure = tlsConnect({ socket: raw, servername: 'localhost', rejectUnauthorized: false });
            secure.on('error', () => {});
            // The first key material exists once the ServerHello is in: mid handshake, before the client's Finished.
            await new Promise((resolve) => secure.once('keylog', resolve));
          } else {
            await new Promise((resolve) => raw.write('GET / HTTP/1.1\r\nHost: x\r\nUpg', resolve));
          }
          raw.resetAndDestroy();
          await stage.closed;
        })(),
      );
      abuse.push('reset mid body', 
        (async () => {
          const stage = await headStage(variant, port);
          await new Promise((resolve) => stage.stream.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n${'b'.repeat(20_000)}`, resolve));
          stage.raw.resetAndDestroy();
          await stage.closed;
        })(),
      );
    }
    // Slowloris: a byte every 200 ms at each stage; the server must close each by its timeouts.
    const tricklers: Stage[] = [];
    const trickleAt = async (prefixStage: () => Promise<Stage>, bytes: Buffer): Promise<void> => {
      const stage = await prefixStage();
      tricklers.push(stage);
      await trickle(stage, bytes);
    };
    const tcpOnly = async (): Promise<Stage> => {
      const raw = await rawConnect(port);
      return stageOf(raw, raw);
    };
    const head = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ' + 'p'.repeat(150) + '\r\n\r\n');
    if (variant.proxy) abuse.push('trickled PROXY header', trickleAt(tcpOnly, PROXY_V1));
    if (variant.tls) {
      // A TLS handshake that never completes: a PROXY header, a record header announcing a 512-byte ClientHello, its bytes trickled.
      abuse.push('trickled ClientHello', 
        trickleAt(async () => {
          const stage = await tcpOnly();
          stage.raw.write(Buffer.concat([variant.proxy ? PROXY_V1 : Buffer.alloc(0), Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])]));
          return stage;
        }, Buffer.from([0x00])),
      );
    }
    for (let i = 0; i < 2; i++) {
      abuse.push('trickled head', trickleAt(() => headStage(variant, port), head));
      abuse.push('trickled body', 
        trickleAt(async () => {
          const stage = await headStage(variant, port);
          stage.stream.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
          return stage;
        }, Buffer.from('c')),
      );
    }
    // A client that stops reading a streamed response: the server must let the connection go.
    abuse.push('stalled reader', 
      (async () => {
        const stage = await headStage(variant, port);
        stage.stream.pause();
        stage.stream.removeAllListeners('data');
        stage.stream.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
        // The server ends it (its stats arrive) while the client still reads nothing.
        await shoal.waitForEnd((stats) => stats.httpRequests === 1 && stats.bytesOut > 1024 * 1024);
        stage.stream.resume();
        await stage.closed;
      })(),
    );

    // Bounded: what is still pending after 40 s is named in the failure.
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connections the server did not close: ${[...pending].join(', ')}`)), 40_000);
    });
    try {
      await Promise.race([Promise.all(abuse.list), bound]);
    } finally {
      clearTimeout(timer);
    }
    expect(tricklers.filter((stage) => !stage.byServer)).toHaveLength(0);

    // Nothing crashed: the same worker threads, no connection lost with a worker.
    expect([...shoal.server.workerIds].sort()).toEqual(workersBefore);
    expect(lost).toEqual([]);
    expect(await echoes(variant, port, 'after')).toBe('after');

    // Nothing left open (no socket kept by a path without a timer), and the refusals counted.
    const admin = shoal.server.adminAddress?.url as string;
    type Stats = { workers: { workerId: number; connections: number }[]; edgeRefusals: Record<string, number> };
    let stats: Stats = { workers: [], edgeRefusals: {} };
    await expect
      .poll(async () => {
        stats = (await (await fetch(new URL('/stats', admin))).json()) as Stats;
        return stats.workers.map((worker) => worker.connections);
      }, { timeout: 15_000 })
      .toEqual([0, 0]);
    expect(stats.workers.map((worker) => worker.workerId).sort()).toEqual(workersBefore);
    if (variant.proxy) {
      expect(stats.edgeRefusals.proxy_header_malformed).toBeGreaterThan(0);
      expect(stats.edgeRefusals.proxy_header_timeout).toBeGreaterThan(0);
    }
    if (variant.tls) {
      expect(stats.edgeRefusals.tls_handshake_failed).toBeGreaterThan(0);
      expect(stats.edgeRefusals.tls_handshake_timeout).toBeGreaterThan(0);
    }
    const statuses = new Set(shoal.ended.map((ended) => ended.handshakeStatus));
    const httpRefusals = new Set(shoal.ended.map((ended) => ended.httpRefusalStatus));
    // Garbage heads refused with 400 (upgrade path or Node's parser), trickled heads and bodies with 408.
    expect([...statuses, ...httpRefusals]).toContain(400);
    expect([...statuses, ...httpRefusals]).toContain(408);
  }, 60_000);
});
