/**
 * Operating Shoal (issue #13) over loopback: live message counters and
 * request histograms scraped from /metrics while connections are open, a
 * flood of failing requests against the per-cause log limit, ctx.log lines
 * reaching a programmatic pino logger from a worker thread, /livez and
 * /readyz (503 during the drain), and `shoal serve --log-format json`,
 * whose every stderr line must parse as JSON.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/telemetry/logger.ts';
import { RawClient } from '../helpers/raw-socket.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';
import { EnvelopeClient } from './shoal-helpers.ts';
import { parseSamples } from '../helpers/prometheus.ts';

const BIN = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url));
const APP = fixtureApp('logging-app.ts');
const servers: TestServer[] = [];
const clients: EnvelopeClient[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Log lines a programmatic pino logger received, parsed. */
function captureLogger(level = 'info'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

async function start(options: Parameters<typeof startServer>[0] = {}): Promise<{ server: TestServer; admin: string }> {
  const server = await startServer({ adminPort: 0, workers: 1, app: APP, ...options });
  servers.push(server);
  const admin = server.server.adminAddress;
  if (admin === null) throw new Error('no admin address');
  return { server, admin: admin.url.slice(0, -1) };
}

async function open(server: TestServer): Promise<EnvelopeClient> {
  const client = await EnvelopeClient.open(`${server.origin}/`);
  clients.push(client);
  return client;
}

function http(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sample lines of /metrics: `name{labels}` -> value. */
async function scrape(admin: string): Promise<Map<string, number>> {
  const answer = await http(`${admin}/metrics`);
  expect(answer.status).toBe(200);
  return parseSamples(answer.body);
}

/** Polls until `check` passes (workers report every 0.5 s); fails with the last error after `timeoutMs`. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('live metrics', () => {
  it('shows the messages of a connection that is still open, and its worker gauges', async () => {
    const { server, admin } = await start();
    const client = await open(server);
    for (let id = 1; id <= 51; id++) expect(await client.call(id, 'add', { a: id, b: 1 })).toEqual([2, id, id + 1]);
    const values = await eventually(async () => {
      const values = await scrape(admin);
      expect(values.get('shoal_messages_received_total')).toBe(51);
      return values;
    });
    expect(values.get('shoal_connections_active')).toBe(1);
    expect(values.get('shoal_connections_completed_total')).toBe(0);
    expect(values.get('shoal_messages_sent_total')).toBe(51);
    expect(values.get('shoal_received_bytes_total')).toBeGreaterThan(51 * 10);
    const worker = server.server.workerIds[0];
    expect(values.get(`shoal_worker_mailbox_depth{worker="${worker}"}`)).toBe(0);
    expect(values.get(`shoal_worker_send_buffer_bytes{worker="${worker}"}`)).toBe(0);
    expect(values.get(`shoal_worker_event_loop_utilization{worker="${worker}"}`)).toBeGreaterThanOrEqual(0);
    expect(values.has(`shoal_worker_event_loop_lag_p99_seconds{worker="${worker}"}`)).toBe(true);
    expect(values.get('shoal_handshake_duration_seconds_count')).toBe(1);
    // The connection's own numbers, once it ends, match what the live counters said.
    client.close();
    const ended = await server.waitForEnd();
    expect(ended.messagesIn).toBe(51);
    const after = await scrape(admin);
    expect(after.get('shoal_messages_received_total')).toBe(51);
  });

  it('counts requests in the latency histogram by method and outcome, folding unknown methods and app codes into other', async () => {
    const { server, admin } = await start({ logger: captureLogger().logger });
    const client = await open(server);
    let id = 0;
    for (let i = 0; i < 20; i++) await client.call(++id, 'add', { a: 1, b: 2 });
    for (let i = 0; i < 3; i++) expect(await client.call(++id, 'boom', null)).toMatchObject([3, id, { code: 'HANDLER_ERROR' }]);
    for (let i = 0; i < 2; i++) expect(await client.call(++id, `nope${i}`, null)).toMatchObject([3, id, { code: 'UNKNOWN_METHOD' }]);
    expect(await client.call(++id, 'refuse', null)).toMatchObject([3, id, { code: 'APP_SPECIFIC' }]);
    const values = await eventually(async () => {
      const values = await scrape(admin);
      expect(values.get('shoal_requests_total{method="add",outcome="ok"}')).toBe(20);
      expect(values.get('shoal_requests_total{method="refuse",outcome="other"}')).toBe(1);
      return values;
    });
    expect(values.get('shoal_requests_total{method="boom",outcome="HANDLER_ERROR"}')).toBe(3);
    expect(values.get('shoal_requests_total{method="other",outcome="UNKNOWN_METHOD"}')).toBe(2);
    // The latency histogram times the requests of one read in 8: 20 reads of one request each give 2 or 3.
    const timed = values.get('shoal_request_duration_seconds_count{method="add",outcome="ok"}') ?? 0;
    expect(timed).toBeGreaterThanOrEqual(1);
    expect(timed).toBeLessThanOrEqual(20);
    expect(values.get('shoal_request_duration_seconds_bucket{method="add",outcome="ok",le="+Inf"}')).toBe(timed);
    expect([...values.keys()].some((key) => key.includes('nope'))).toBe(false);
    // Buckets are cumulative.
    const buckets = [...values].filter(([key]) => key.startsWith('shoal_request_duration_seconds_bucket{') && key.includes('method="add"')).map(([, value]) => value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });
});

describe('logs', () => {
  it('writes a bounded number of lines for a flood of failing requests, then the suppressed count', async () => {
    const { logger, lines } = captureLogger();
    const { server } = await start({ logger, logRateLimit: { lines: 3, intervalMs: 1000 } });
    const client = await open(server);
    const flood = 200;
    const replies: Promise<unknown>[] = [];
    for (let id = 1; id <= flood; id++) replies.push(client.call(id, 'boom', null));
    await Promise.all(replies);
    const cause = 'method_failed:boom';
    // Every failure is either written or counted in a summary line once its window has ended.
    const summaries = await eventually(async () => {
      const written = lines.filter((line) => line.cause === cause && line.suppressed === undefined).length;
      const summaries = lines.filter((line) => line.cause === cause && typeof line.suppressed === 'number');
      const suppressed = summaries.reduce((sum, line) => sum + (line.suppressed as number), 0);
      expect(written + suppressed).toBe(flood);
      return summaries;
    });
    const written = lines.filter((line) => line.cause === cause && line.suppressed === undefined);
    // At most 3 lines per started window, and far fewer windows than failures.
    expect(written.length).toBeLessThanOrEqual(3 * (summaries.length + 1));
    expect(written.length).toBeLessThan(flood / 4);
    expect(summaries[0]).toMatchObject({ level: 50, msg: expect.stringMatching(/^suppressed \d+ lines of this cause$/) });
    expect(written[0]).toMatchObject({ level: 50, worker: server.server.workerIds[0], conn: expect.stringMatching(/^\d+\.\d+$/), method: 'boom' });
    expect((written[0]?.err as { message: string }).message).toBe('fixture: boom');
  });

  it('hands ctx.log lines of a worker to the programmatic logger, with worker, conn and peer, at its level', async () => {
    const { logger, lines } = captureLogger('info');
    const { server } = await start({ logger });
    const client = await open(server);
    await client.call(1, 'note', 'hello');
    const line = await eventually(async () => {
      const line = lines.find((entry) => entry.msg === 'app note');
      expect(line).toBeDefined();
      return line as Record<string, unknown>;
    });
    expect(line).toMatchObject({ level: 30, note: 'hello', worker: server.server.workerIds[0], peer: '127.0.0.1', conn: expect.stringMatching(/^\d+\.\d+$/) });
    // debug is below the logger's level: the worker does not even send it.
    expect(lines.some((entry) => entry.msg === 'app debug note')).toBe(false);
  });
});

describe('/livez and /readyz', () => {
  it('answer 200 while serving; /readyz turns 503 at the drain while /livez stays 200', async () => {
    const { server, admin } = await start({ app: 'echo', drainTimeoutMs: 10_000, closeTimeoutMs: 10_000 });
    expect(await http(`${admin}/livez`)).toEqual({ status: 200, body: 'ok\n' });
    expect(await http(`${admin}/readyz`)).toEqual({ status: 200, body: 'ok\n' });
    expect((await scrape(admin)).get('shoal_ready')).toBe(1);
    // A client that never answers the close frame holds the drain open.
    const deaf = await RawClient.open(server.port);
    const closing = server.server.close();
    await deaf.closeFrame();
    expect(await http(`${admin}/readyz`)).toEqual({ status: 503, body: 'server is shutting down\n' });
    expect(await http(`${admin}/livez`)).toEqual({ status: 200, body: 'ok\n' });
    expect((await scrape(admin)).get('shoal_ready')).toBe(0);
    await server.server.close(true);
    await closing;
  });
});

describe('shoal serve --log-format json', () => {
  it('writes only JSON lines to stderr, each with time, level, worker and msg', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--workers', '1', '--app', APP, '--log-format', 'json', '--log-level', 'info'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /listening on (ws:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
        if (match !== null) resolve(match[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`shoal exited early (${code}): ${stdout}${stderr}`)));
    });
    const client = await EnvelopeClient.open(url);
    clients.push(client);
    await client.call(1, 'note', 'multi\nline "quoted"');
    await client.call(2, 'boom', null);
    await eventually(async () => expect(stderr).toContain('method handler failed'));
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
    const lines = stderr.split('\n').filter((line) => line !== '');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(typeof entry.time).toBe('string');
      expect(Number.isNaN(Date.parse(entry.time as string))).toBe(false);
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(entry.level);
      expect(typeof entry.worker).toBe('number');
      expect(typeof entry.msg).toBe('string');
    }
    const note = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.msg === 'app note');
    expect(note).toMatchObject({ level: 'info', note: 'multi\nline "quoted"', peer: '127.0.0.1' });
    expect(lines.some((line) => line.includes('app debug note'))).toBe(false);
  });
});
