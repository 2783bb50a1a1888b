/**
 * CI smoke test of the bench modes of issue #10: `shoal bench --tls` (every
 * target without and with TLS, the TLS cost) and `shoal bench http` (the app's
 * http handler beside the peers' HTTP handlers), short and small against a
 * spawned Shoal and the ws peer; and the generator counting errors over TLS
 * and wrong HTTP bodies. Numbers must be present and errors counted; no
 * timing thresholds.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { runLoad } from '../../bench/load/generator.ts';
import type { LoadRunSpec } from '../../bench/load/generator.ts';
import { loadResultSchema, validateJson } from '../../bench/load/json-schema.ts';
import { TLS_LABEL_SUFFIX } from '../../bench/load/results.ts';
import type { BenchReport, ScenarioResult } from '../../bench/load/results.ts';
import { runHttpFlood } from '../../bench/load/scenarios/http.ts';
import { benchRunner } from '../helpers/bench-run.ts';
import { testCertificates, type TestCertificates } from '../helpers/certificates.ts';

const bench = benchRunner('shoal-bench-tls-smoke-');
const runBench = bench.run;
const tmp = bench.dir;

function resultOf(report: BenchReport, target: string, label: string): ScenarioResult {
  const result = report.results.find((r) => r.target === target && r.label === label);
  if (result === undefined) return expect.fail(`no result for ${target} / ${label}`);
  return result;
}

function expectMeasured(result: ScenarioResult): void {
  expect([result.status, result.reason]).toEqual(['ok', null]);
  expect(result.errors).toEqual({ handshakeFailures: 0, unexpectedCloses: 0, protocolErrors: 0, timeouts: 0, total: 0 });
  expect(result.rate.value).toBeGreaterThan(0);
  expect(result.latencyUs.count).toBeGreaterThan(0);
  expect(result.server.cpuCores).not.toBeNull();
}

/**
 * The bench's certificate directories (made at the start of a --tls run, removed at its end) in
 * `certTmp`, the temp dir of the run below alone: other runs on the machine use the shared one.
 */
const certTmp = path.join(tmp, 'certificates');
function benchCertificateDirs(): string[] {
  return readdirSync(certTmp).filter((name) => name.startsWith('shoal-bench-tls-'));
}

describe('shoal bench --tls against a spawned Shoal and the ws peer', () => {
  const LABELS = ['connect, 2 concurrent', 'echo 32 B x2, 2 conn', 'echo 16 KiB x2, 2 conn'];
  let run: { code: number; report: BenchReport; json: unknown };
  let dirsBefore: string[];

  beforeAll(async () => {
    mkdirSync(certTmp);
    const sharedTmp = process.env.TMPDIR;
    process.env.TMPDIR = certTmp; // os.tmpdir() for the bench's certificate, in this process
    try {
      dirsBefore = benchCertificateDirs();
      run = await runBench([
        '--tls', '--workers', '1', '--against', 'ws', '--duration', '0.6', '--warmup', '0.2',
        '--scenarios', 'connect:concurrency=2,echo:size=32:connections=2:inflight=2,echo:size=16384:connections=2:inflight=2',
      ]);
    } finally {
      if (sharedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = sharedTmp;
    }
  }, 180_000);

  it('exits with 0 and writes JSON that matches the schema', () => {
    expect(run.code).toBe(0);
    expect(validateJson(run.json, loadResultSchema())).toEqual([]);
  });

  it('runs each target without and then with TLS', () => {
    expect(run.report.targets.map((t) => [t.id, t.tls, t.status])).toEqual([
      ['shoal-w1', false, 'ok'],
      ['shoal-w1-tls', true, 'ok'],
      ['ws', false, 'ok'],
      ['ws-tls', true, 'ok'],
    ]);
    expect(run.report.targets.map((t) => t.url!.split(':')[0])).toEqual(['ws', 'wss', 'ws', 'wss']);
    expect(run.report.targets[3].description).toMatch(/https\.createServer/);
  });

  for (const target of ['shoal-w1', 'ws']) {
    for (const label of LABELS) {
      it(`${target}, ${label}: measured without and with TLS, no errors`, () => {
        expectMeasured(resultOf(run.report, target, label));
        expectMeasured(resultOf(run.report, `${target}-tls`, `${label}${TLS_LABEL_SUFFIX}`));
      });
    }
  }

  it('reports the TLS cost of every target and scenario, and the TLS ratios against the TLS peer only', () => {
    expect(run.report.tlsCost.map((c) => [c.target, c.plainTarget, c.label]).sort()).toEqual(
      ['shoal-w1', 'ws'].flatMap((target) => LABELS.map((label) => [`${target}-tls`, target, label])).sort(),
    );
    for (const cost of run.report.tlsCost) {
      expect(cost.ratio).toBeCloseTo(cost.tlsRate / cost.plainRate, 10);
      expect(cost.ratio).toBeGreaterThan(0);
    }
    expect(run.report.ratios.map((r) => [r.target, r.peer, r.label]).sort()).toEqual(
      [...LABELS.map((label) => ['shoal-w1', 'ws', label]), ...LABELS.map((label) => ['shoal-w1-tls', 'ws-tls', `${label}${TLS_LABEL_SUFFIX}`])].sort(),
    );
  });

  it('removed the certificate it made', () => {
    expect(benchCertificateDirs().filter((name) => !dirsBefore.includes(name))).toEqual([]);
  });
});

describe('shoal bench http against a spawned Shoal and the ws peer', () => {
  let run: { code: number; report: BenchReport; json: unknown };

  beforeAll(async () => {
    run = await runBench(['http', '--workers', '1', '--against', 'ws', '--http-connections', '4', '--duration', '0.6', '--warmup', '0.2']);
  }, 120_000);

  it('runs the three floods of the http scenario and matches the schema', () => {
    expect(run.code).toBe(0);
    expect(validateJson(run.json, loadResultSchema())).toEqual([]);
    expect([...new Set(run.report.results.map((r) => r.label))]).toEqual([
      'http, 4 conn: rejected upgrades (400)',
      'http, 4 conn: app handler GET /',
      'http, 4 conn: health endpoint',
    ]);
  });

  for (const target of ['shoal-w1', 'ws']) {
    it(`${target}: the app handler answered 200 with the body, requests/s and latency present`, () => {
      const result = resultOf(run.report, target, 'http, 4 conn: app handler GET /');
      expectMeasured(result);
      expect(result.rate.unit).toBe('requests/s');
      expect(Object.keys(result.extra.statusCounts as Record<string, number>)).toEqual(['200']);
      expect(result.extra.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(result.bytesPerSec).toBeGreaterThan(0);
    });
  }

  it('gives the Shoal/ws ratio of the app handler', () => {
    const ratio = run.report.ratios.find((r) => r.label === 'http, 4 conn: app handler GET /');
    expect([ratio?.target, ratio?.peer]).toEqual(['shoal-w1', 'ws']);
    expect(ratio!.ratio).toBeGreaterThan(0);
  });
});

describe('errors are counted', () => {
  let certs: TestCertificates;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(() => {
    certs = testCertificates();
  });

  afterAll(async () => {
    for (const close of closers) await close();
    certs?.remove();
  });

  /** A wss:// ws server with `certificate`, `configure` applied; returns its port. */
  async function wssServer(certificate: { cert: string; key: string }, configure: (wss: WebSocketServer) => void): Promise<number> {
    const server = https.createServer({ cert: readFileSync(certificate.cert), key: readFileSync(certificate.key) });
    const wss = new WebSocketServer({ server });
    configure(wss);
    closers.push(async () => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return (server.address() as AddressInfo).port;
  }

  function echoOverTls(port: number, ca: string): Promise<Awaited<ReturnType<typeof runLoad>>> {
    const spec: LoadRunSpec = {
      kind: 'echo',
      target: { host: '127.0.0.1', port, path: '/', protocols: [], tls: { ca, servername: 'localhost' } },
      publisherTarget: null,
      publishRate: 0,
      threads: 1,
      connections: 3,
      subscribers: 0,
      publishers: 0,
      inflight: 2,
      payloadBytes: 32,
      warmupMs: 0,
      durationMs: 500,
      maxMessages: 1_000_000,
      timeoutMs: 2000,
      connectConcurrency: 3,
      setupTimeoutMs: 30_000,
    };
    return runLoad(spec);
  }

  it('a TLS server whose certificate the generator does not trust: one handshake failure per connection', async () => {
    const trusted = certs.make('trusted');
    const other = certs.make('other');
    const port = await wssServer(other, (wss) => wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))));
    const outcome = await echoOverTls(port, readFileSync(trusted.cert, 'utf8'));
    expect(outcome.errors).toMatchObject({ handshakeFailures: 3, unexpectedCloses: 0, protocolErrors: 0, timeouts: 0 });
    expect(outcome.errorSamples[0]).toMatch(/^handshake: .*(self[- ]signed|certificate)/i);
    expect(outcome.messages).toBe(0);
  }, 60_000);

  it('a TLS server that closes after the first message: one unexpected close per connection', async () => {
    const trusted = certs.make('closer');
    const port = await wssServer(trusted, (wss) => wss.on('connection', (socket) => socket.once('message', () => socket.close(1011, 'bye'))));
    const outcome = await echoOverTls(port, readFileSync(trusted.cert, 'utf8'));
    expect(outcome.errors).toMatchObject({ unexpectedCloses: 3, handshakeFailures: 0 });
    expect(outcome.errorSamples).toContain('unexpectedClose: server closed with 1011 bye');
  }, 60_000);

  it('an HTTP handler that answers 200 with another body: every answer is a protocol error', async () => {
    const server = http.createServer((_req, res) => res.end('something else'));
    closers.push(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const outcome = await runHttpFlood({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      headers: {},
      expectStatus: 200,
      expectBody: 'hello from the bench\n',
      connections: 2,
      warmupMs: 0,
      durationMs: 400,
      maxRequests: 1_000_000,
      timeoutMs: 2000,
    });
    expect(outcome.requests).toBeGreaterThan(0);
    expect(outcome.statusCounts).toEqual({ '200': expect.any(Number) });
    expect(outcome.errors.protocolErrors).toBeGreaterThan(0);
    expect(outcome.errors.protocolErrors).toBe(outcome.statusCounts['200']);
    expect(outcome.errorSamples).toContain(`protocol: ${outcome.errors.protocolErrors} answers had another body than "hello from the bench\\n"`);
  }, 30_000);
});
