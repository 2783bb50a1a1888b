import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { runHttpFlood } from '../../bench/load/scenarios/http.ts';

const servers: http.Server[] = [];
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
}

const flood = (url: string) =>
  runHttpFlood({ url, headers: {}, expectStatus: 200, connections: 2, warmupMs: 0, durationMs: 400, maxRequests: 1_000_000, timeoutMs: 2000 });

describe('health endpoint flood (autocannon)', () => {
  it('counts requests, bytes, latency and statuses', async () => {
    const outcome = await flood(await serve((_req, res) => res.end('ok')));
    expect(outcome.requests).toBeGreaterThan(0);
    expect(outcome.bytes).toBeGreaterThan(0);
    expect(outcome.latency.count).toBe(outcome.requests);
    expect(Object.keys(outcome.statusCounts)).toEqual(['200']);
    expect(outcome.errors).toEqual({ handshakeFailures: 0, unexpectedCloses: 0, protocolErrors: 0, timeouts: 0 });
  });
  it('counts every answer with another status as a protocol error', async () => {
    const outcome = await flood(await serve((_req, res) => {
      res.statusCode = 503;
      res.end('down');
    }));
    expect(outcome.statusCounts['503']).toBeGreaterThan(0);
    expect(outcome.errors.protocolErrors).toBe(outcome.statusCounts['503']);
    expect(outcome.errorSamples[0]).toMatch(/were not 200/);
  });
});
