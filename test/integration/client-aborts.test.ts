/**
 * A client that resets or closes its connection part-way (in the TLS
 * handshake, in a request head, in a body, or on an idle keep-alive
 * connection) is not refused by the server: its connection must not be
 * counted as a 400/408 HTTP refusal or an edge refusal, but as what it is —
 * an abandoned handshake (`shoal_handshakes_abandoned_total`) before the
 * first head, an aborted request (`shoal_http_requests_aborted_total`) on
 * the HTTP side. Each case is one connection; its stats are checked one by
 * one, then the admin counters as a whole.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { parseSamples } from '../helpers/prometheus.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';
import type { ConnectionStats } from '../../src/transport/messages.ts';
import { until } from '../helpers/until.ts';

const REQUEST = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
const PARTIAL_HEAD = 'GET /healthz HTTP/1.1\r\nHo';
const PARTIAL_BODY = 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789';

let certs: TestCertificates;
let pem: { cert: string; key: string };

beforeAll(() => {
  certs = testCertificates();
  pem = certs.make('aborts');
});

afterAll(() => certs?.remove());

/** One client connection: the TCP socket, the stream HTTP goes over, and everything received. */
interface Client {
  readonly raw: Socket;
  readonly stream: Duplex;
  received: string;
  readonly closed: Promise<void>;
}

async function connect(port: number, tls: boolean): Promise<Client> {
  const raw = await new Promise<Socket>((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
  raw.on('error', () => {});
  const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
  let stream: Duplex = raw;
  if (tls) {
    stream = await new Promise<TLSSocket>((resolve, reject) => {
      const socket = tlsConnect({ socket: raw, servername: 'localhost', rejectUnauthorized: false }, () => resolve(socket));
      socket.once('error', reject);
    });
    stream.on('error', () => {});
  }
  const client: Client = { raw, stream, received: '', closed };
  stream.on('data', (chunk: Buffer) => {
    client.received += chunk.toString('latin1');
  });
  return client;
}

/** Sends one request and waits for its whole (chunked) response. */
async function served(client: Client): Promise<void> {
  client.stream.write(REQUEST);
  await until(() => client.received.endsWith('ok\n\r\n0\r\n\r\n'));
  client.received = '';
}

/**
 * Writes `bytes` and resolves once the kernel has them (the write callback): on
 * loopback they are then in the server's receive queue, ahead of a reset.
 */
function send(stream: Duplex, bytes: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => stream.write(bytes, (error) => (error ? reject(error) : resolve())));
}

/** How the client leaves: an RST, or a FIN (then the server's close). */
async function leave(client: Client, how: 'reset' | 'close'): Promise<void> {
  if (how === 'reset') client.raw.resetAndDestroy();
  else client.raw.end();
  await client.closed;
}

describe.each([
  { name: 'plain', tls: false },
  { name: 'TLS', tls: true },
])('client aborts ($name, http handler)', ({ tls }) => {
  let shoal: TestServer;

  beforeAll(async () => {
    shoal = await startServer({ app: fixtureApp('http-app.ts'), workers: 1, handshakeTimeoutMs: 5000, adminPort: 0, ...(tls ? { tlsCert: pem.cert, tlsKey: pem.key } : {}) });
  }, 60_000);

  afterAll(() => shoal?.close());

  /** Runs one case on a fresh connection and returns the stats of that connection. */
  async function one(run: (client: Client) => Promise<void>): Promise<ConnectionStats> {
    const before = shoal.ended.length;
    const client = await connect(shoal.port, tls);
    await run(client);
    await until(() => shoal.ended.length > before);
    expect(shoal.ended.length).toBe(before + 1);
    return shoal.ended[before];
  }

  const notRefused = { handshakeStatus: 0, httpRefusalStatus: 0, edgeRefusal: '' };

  it.each(['reset', 'close'] as const)('a %s in the first request head: an abandoned handshake', async (how) => {
    const stats = await one(async (client) => {
      await send(client.stream, PARTIAL_HEAD);
      await leave(client, how);
    });
    expect(stats).toMatchObject({ ...notRefused, httpRequests: 0, httpRequestAborted: false });
  });

  it.each(['reset', 'close'] as const)('a %s in a later request head on a keep-alive connection: an aborted request', async (how) => {
    const stats = await one(async (client) => {
      await served(client);
      await send(client.stream, PARTIAL_HEAD);
      await leave(client, how);
    });
    expect(stats).toMatchObject({ ...notRefused, httpRequests: 1, httpRequestAborted: true });
  });

  it.each(['reset', 'close'] as const)('a %s in a request body: an aborted request', async (how) => {
    const stats = await one(async (client) => {
      await send(client.stream, PARTIAL_BODY);
      await leave(client, how);
    });
    expect(stats).toMatchObject({ ...notRefused, httpRequests: 1, httpRequestAborted: true });
  });

  it('a reset of an idle keep-alive connection: neither refused nor aborted', async () => {
    const stats = await one(async (client) => {
      await served(client);
      await leave(client, 'reset');
    });
    expect(stats).toMatchObject({ ...notRefused, httpRequests: 1, httpRequestAborted: false });
  });

  if (tls) {
    it.each(['reset', 'close'] as const)('a %s in the TLS handshake: an abandoned handshake, not a failed one', async (how) => {
      const before = shoal.ended.length;
      const raw = await new Promise<Socket>((resolve) => {
        const socket: Socket = tcpConnect({ host: '127.0.0.1', port: shoal.port }, () => resolve(socket));
      });
      raw.on('error', () => {});
      const closed = new Promise((resolve) => raw.once('close', resolve));
      // The first bytes of a TLS 1.x ClientHello record, cut short.
      await send(raw, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
      if (how === 'reset') raw.resetAndDestroy();
      else raw.end();
      await closed;
      await until(() => shoal.ended.length > before);
      expect(shoal.ended[before]).toMatchObject({ ...notRefused, httpRequests: 0 });
    });
  }

  it('counts none of them as refusals; the aborted requests and abandoned handshakes are counted', async () => {
    const metrics = parseSamples(await (await fetch(new URL('/metrics', shoal.server.adminAddress?.url))).text());
    const named = (prefix: string): number => [...metrics].filter(([name]) => name.startsWith(prefix)).reduce((sum, [, value]) => sum + value, 0);
    expect(named('shoal_http_refusals_total')).toBe(0);
    expect(named('shoal_edge_refusals_total')).toBe(0);
    expect(named('shoal_handshake_refusals_total')).toBe(0);
    // Keep-alive head (reset, close) and body (reset, close).
    expect(metrics.get('shoal_http_requests_aborted_total')).toBe(4);
    // The first head (reset, close), and with TLS the TLS handshake (reset, close).
    expect(metrics.get('shoal_handshakes_abandoned_total')).toBe(tls ? 4 : 2);
  });
});
