/**
 * Every byte a client sends is counted once in its connection's `bytesIn`
 * and in `shoal_received_bytes_total`, and every byte it receives in
 * `bytesOut` and `shoal_sent_bytes_total`, whatever the stages: a PROXY
 * header, TLS records (the handshake included), request heads and bodies on
 * the HTTP side and their responses, a WebSocket upgrade (its 101) after
 * HTTP requests on the same connection, frames. The client's TCP socket
 * says how many.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Opcode } from '../../src/protocol/constants.ts';
import { testCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { parseSamples } from '../helpers/prometheus.ts';
import { clientFrame, upgradeRequest } from '../helpers/raw-socket.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';
import { until } from '../helpers/until.ts';

const PROXY_V1 = 'PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n';

let certs: TestCertificates;
let pem: { cert: string; key: string };

beforeAll(() => {
  certs = testCertificates();
  pem = certs.make('wire');
});

afterAll(() => certs?.remove());

describe.each([
  { name: 'plain', tls: false, proxy: false },
  { name: 'PROXY header', tls: false, proxy: true },
  { name: 'TLS', tls: true, proxy: false },
  { name: 'PROXY header + TLS', tls: true, proxy: true },
])('bytes received ($name)', ({ tls, proxy }) => {
  let shoal: TestServer;

  beforeAll(async () => {
    shoal = await startServer({ app: fixtureApp('http-app.ts'), workers: 1, proxyProtocol: proxy, adminPort: 0, ...(tls ? { tlsCert: pem.cert, tlsKey: pem.key } : {}) });
  }, 60_000);

  afterAll(() => shoal?.close());

  /** Opens a connection through the variant's stages; runs `talk` on the stream HTTP goes over; returns what the client's TCP socket sent and the server's count. */
  async function exchange(talk: (stream: Duplex, received: () => string) => Promise<void>): Promise<{ sent: number; counted: number; received: number; countedOut: number }> {
    const before = shoal.ended.length;
    const raw = await new Promise<Socket>((resolve, reject) => {
      const socket = tcpConnect({ host: '127.0.0.1', port: shoal.port }, () => resolve(socket));
      socket.once('error', reject);
    });
    const closed = new Promise((resolve) => raw.once('close', resolve));
    if (proxy) raw.write(PROXY_V1);
    const stream: Duplex = tls
      ? await new Promise((resolve, reject) => {
          const socket = tlsConnect({ socket: raw, servername: 'localhost', rejectUnauthorized: false }, () => resolve(socket));
          socket.once('error', reject);
        })
      : raw;
    let received = '';
    stream.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    await talk(stream, () => received);
    stream.end();
    await closed;
    await until(() => shoal.ended.length > before);
    const stats = shoal.ended[before];
    return { sent: raw.bytesWritten, counted: stats.bytesIn, received: raw.bytesRead, countedOut: stats.bytesOut };
  }

  async function upgradeAndEcho(stream: Duplex, received: () => string, count: number): Promise<void> {
    const start = received().length;
    stream.write(upgradeRequest('/'));
    await until(() => received().indexOf('\r\n\r\n', start) !== -1);
    const headEnd = received().indexOf('\r\n\r\n', start) + 4;
    expect(received().slice(start, start + 12)).toBe('HTTP/1.1 101');
    for (let i = 0; i < count; i++) stream.write(clientFrame(Opcode.BINARY, Buffer.alloc(1000, i)));
    // Each echo: a 4-byte header and the 1,000 bytes.
    await until(() => received().length >= headEnd + count * 1004);
  }

  it('a WebSocket connection', async () => {
    const { sent, counted, received, countedOut } = await exchange((stream, received) => upgradeAndEcho(stream, received, 20));
    expect(counted).toBe(sent);
    expect(countedOut).toBe(received);
  });

  it('HTTP requests with a body, then an upgrade on the same connection', async () => {
    const { sent, counted, received, countedOut } = await exchange(async (stream, received) => {
      const body = 'b'.repeat(3000);
      stream.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await until(() => received().endsWith(`${body}\r\n0\r\n\r\n`));
      stream.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => received().endsWith('ok\n\r\n0\r\n\r\n'));
      await upgradeAndEcho(stream, received, 5);
    });
    expect(counted).toBe(sent);
    expect(countedOut).toBe(received);
  });

  it('HTTP only', async () => {
    const { sent, counted, received, countedOut } = await exchange(async (stream, received) => {
      stream.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => received().endsWith('ok\n\r\n0\r\n\r\n'));
    });
    expect(counted).toBe(sent);
    expect(countedOut).toBe(received);
  });

  it('shoal_received_bytes_total and shoal_sent_bytes_total are the sums of the connections', async () => {
    const totalIn = shoal.ended.reduce((sum, stats) => sum + stats.bytesIn, 0);
    const totalOut = shoal.ended.reduce((sum, stats) => sum + stats.bytesOut, 0);
    const totals = async (): Promise<[number | undefined, number | undefined]> => {
      const samples = parseSamples(await (await fetch(new URL('/metrics', shoal.server.adminAddress?.url))).text());
      return [samples.get('shoal_received_bytes_total'), samples.get('shoal_sent_bytes_total')];
    };
    await expect.poll(totals, { timeout: 10_000 }).toEqual([totalIn, totalOut]);
  });
});
