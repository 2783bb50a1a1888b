/**
 * Interop: an independent client in Python (test/interop/client.py, written
 * from docs/subprotocol.md with Debian's python3-websockets and
 * python3-msgpack) runs RPC, events, pub/sub and the bad-input paths against
 * a real server with 2 workers; this test checks what it reports.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.ts';

const PYTHON = '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('./client.py', import.meta.url));
const TEST_APP = fileURLToPath(new URL('../integration/apps/shoal-test-app.ts', import.meta.url));

let server: TestServer;
let checks: Map<string, Record<string, unknown>[]>;

beforeAll(async () => {
  server = await startServer({ app: TEST_APP, workers: 2 });
  // Asynchronous on purpose: the server's primary thread runs in this process and must keep accepting.
  const { stdout } = await promisify(execFile)(PYTHON, [CLIENT, `${server.origin}/`], { encoding: 'utf8', timeout: 60_000 });
  checks = new Map();
  for (const line of stdout.trim().split('\n')) {
    const { check, ...values } = JSON.parse(line) as { check: string } & Record<string, unknown>;
    checks.set(check, [...(checks.get(check) ?? []), values]);
  }
}, 90_000);

afterAll(() => server?.close());

const only = (name: string): Record<string, unknown> => {
  const found = checks.get(name);
  expect(found, `the Python client did not report ${name}`).toHaveLength(1);
  return (found as Record<string, unknown>[])[0];
};

describe('Python client (docs/subprotocol.md only)', () => {
  it('ran to the end', () => {
    expect(checks.has('done')).toBe(true);
  });

  it('negotiates each subprotocol and gets the welcome event', () => {
    expect(only('protocols')).toEqual({ a: 'v1.msgpack.shoal.dev', b: 'v1.json.shoal.dev' });
    expect(only('welcome')).toEqual({ a: 'welcome', b: 'welcome' });
  });

  it('calls methods on both protocols, and msgpack and JSON data round-trip', () => {
    expect(only('add')).toEqual({ msgpack: 42, json: 3 });
    const sample = { int: -7, big: 2 ** 40, float: 1.5, text: 'héllo ✓', list: [1, null, true, 'x'], map: { k: { n: 1 } } };
    expect(only('echo')).toEqual({ msgpack: sample, json: sample });
    expect(only('echo-bytes')).toEqual({ value: '0001ff' });
  });

  it('gets error replies with the documented codes', () => {
    expect(only('unknown-method')).toEqual({ error: { code: 'UNKNOWN_METHOD', message: 'unknown method "nope"', data: null } });
    expect(only('app-error')).toEqual({ error: { code: 'NOT_ALLOWED', message: 'you may not', data: { why: 'test' } } });
    expect(only('handler-error')).toEqual({ error: { code: 'HANDLER_ERROR', message: 'internal error in the handler', data: null } });
    expect((only('timeout').error as { code: string }).code).toBe('TIMEOUT');
    expect((only('forbidden').error as { code: string }).code).toBe('FORBIDDEN');
  });

  it('sends and receives events, and gets $error for an unknown one', () => {
    expect(only('event')).toEqual({ event: ['noted', { from: 'python' }] });
    expect(only('unknown-event')).toEqual({ event: ['$error', { code: 'UNKNOWN_EVENT', message: 'unknown event "mystery"', data: { event: 'mystery' } }] });
  });

  it('subscribes, and both clients receive every publication in order per publisher', () => {
    expect(only('subscribe')).toEqual({ a: null, b: null });
    // Order is promised per publisher only (docs/subprotocol.md §7): a's
    // publications and b's may interleave in either way, so each client's
    // feed is checked per publisher, and as a whole for exactly-once.
    type Received = [string, { from: string; seq: number }][];
    const publications = checks.get('publications') as { client: string; received: Received }[];
    expect(publications.map((p) => p.client)).toEqual(['a', 'b']);
    for (const { received } of publications) {
      expect(received.every(([topic]) => topic === 'py')).toBe(true);
      const seqsFrom = (from: string): number[] => received.filter(([, data]) => data.from === from).map(([, data]) => data.seq);
      expect(seqsFrom('a')).toEqual([0, 1, 2]);
      expect(seqsFrom('b')).toEqual([0]);
      expect(received).toHaveLength(4);
    }
    expect(only('unsubscribe')).toEqual({ first: true, second: false });
  });

  it('sees the documented close codes for bad input', () => {
    expect(only('text-on-msgpack')).toEqual({ close: { code: 1003, reason: 'text message on the msgpack protocol' } });
    expect(only('binary-on-json')).toEqual({ close: { code: 1003, reason: 'binary message on the JSON protocol' } });
    expect(only('not-msgpack')).toEqual({ close: { code: 1007, reason: 'message is not one valid msgpack value' } });
    expect(only('not-an-envelope')).toEqual({ close: { code: 1007, reason: 'message must be a non-empty array' } });
  });
});
