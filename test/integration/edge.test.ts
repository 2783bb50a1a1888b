/**
 * The edge before the app (issue #10): --allowed-origins (403 before the
 * upgrade hook), --trust-proxy (client address from Forwarded /
 * X-Forwarded-For of trusted peers only) and --proxy-protocol (v1 and v2,
 * strict, within the handshake timeout, counted).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXY_V2_SIGNATURE } from '../../src/protocol/proxy-header.ts';
import { Opcode } from '../../src/protocol/constants.ts';
import { clientFrame, parseResponse, RawClient, upgradeRequest } from '../helpers/raw-socket.ts';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';

/** Sends "whoami" on an open raw connection and returns the app's answer. */
async function whoami(client: RawClient): Promise<{ remoteAddress: string; upgradeRemoteAddress: string }> {
  client.write(clientFrame(Opcode.TEXT, 'whoami'));
  await client.waitFor(() => client.events().some((event) => event.type === 'text'));
  return JSON.parse((client.events().find((event) => event.type === 'text') as { data: Buffer }).data.toString());
}

/** Opens a WebSocket after `prefix` bytes (a PROXY header) and returns the client past the 101. */
async function openAfter(port: number, prefix: Buffer, headers: Record<string, string> = {}): Promise<RawClient> {
  const client = await RawClient.connect(port);
  client.write(Buffer.concat([prefix, Buffer.from(upgradeRequest('/', headers))]));
  await client.waitFor(() => client.received.includes('\r\n\r\n'));
  const end = client.received.indexOf('\r\n\r\n') + 4;
  const status = parseResponse(client.received.subarray(0, end).toString('latin1')).status;
  if (status !== 101) throw new Error(`expected 101, got ${client.received.toString('latin1')}`);
  client.received = client.received.subarray(end);
  return client;
}

describe('--allowed-origins and --trust-proxy', () => {
  let shoal: TestServer;
  beforeAll(async () => {
    shoal = await startServer({ app: fixtureApp('http-app.ts'), workers: 1, allowedOrigins: ['https://chat.example.com', 'https://*.example.org'], trustProxy: ['127.0.0.1'], adminPort: 0 });
  });
  afterAll(() => shoal?.close());

  it('refuses another origin with 403 and a reason, before the upgrade hook; accepts listed ones and none', async () => {
    const refused = await RawClient.connect(shoal.port);
    refused.write(upgradeRequest('/', { Origin: 'https://evil.example.com' }));
    const response = parseResponse(await refused.responseText());
    expect(response.status).toBe(403);
    expect(response.body).toContain('origin "https://evil.example.com" is not allowed');
    for (const origin of ['https://chat.example.com', 'https://a.b.example.org']) (await openAfter(shoal.port, Buffer.alloc(0), { Origin: origin })).destroy();
    (await openAfter(shoal.port, Buffer.alloc(0))).destroy();
    await expect.poll(() => shoal.ended.filter((stats) => stats.edgeRefusal === 'origin_not_allowed').length).toBe(1);
    const stats = (await (await fetch(new URL('/stats', shoal.server.adminAddress?.url))).json()) as { edgeRefusals: Record<string, number> };
    expect(stats.edgeRefusals.origin_not_allowed).toBe(1);
  });

  it('takes the client address from X-Forwarded-For / Forwarded of a trusted peer, for ctx and the upgrade hook', async () => {
    const viaXff = await openAfter(shoal.port, Buffer.alloc(0), { 'X-Forwarded-For': '6.6.6.6, 198.51.100.4' });
    expect(await whoami(viaXff)).toMatchObject({ remoteAddress: '198.51.100.4', upgradeRemoteAddress: '198.51.100.4' });
    viaXff.destroy();
    const viaForwarded = await openAfter(shoal.port, Buffer.alloc(0), { Forwarded: 'for="[2001:db8::7]:1234";proto=https' });
    expect(await whoami(viaForwarded)).toMatchObject({ remoteAddress: '2001:db8::7' });
    viaForwarded.destroy();
  });
});

describe('headers of an untrusted peer', () => {
  it('are ignored', async () => {
    const shoal = await startServer({ app: fixtureApp('http-app.ts'), workers: 1, trustProxy: ['10.0.0.0/8'] });
    try {
      const client = await openAfter(shoal.port, Buffer.alloc(0), { 'X-Forwarded-For': '198.51.100.4' });
      expect(await whoami(client)).toMatchObject({ remoteAddress: '127.0.0.1', upgradeRemoteAddress: '127.0.0.1' });
      client.destroy();
    } finally {
      await shoal.close();
    }
  });
});

describe('--proxy-protocol', () => {
  let shoal: TestServer;
  beforeAll(async () => {
    shoal = await startServer({ app: fixtureApp('http-app.ts'), workers: 1, proxyProtocol: true, handshakeTimeoutMs: 1000, adminPort: 0 });
  });
  afterAll(() => shoal?.close());

  it('v1: the header address becomes the client address (WebSocket and HTTP)', async () => {
    const client = await openAfter(shoal.port, Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n'));
    expect(await whoami(client)).toMatchObject({ remoteAddress: '192.0.2.1', upgradeRemoteAddress: '192.0.2.1' });
    client.destroy();
    const http = await RawClient.connect(shoal.port);
    http.write('PROXY TCP6 2001:db8::1 2001:db8::2 1000 80\r\nGET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(await http.responseText()).toContain('"remoteAddress":"2001:db8::1"');
  });

  it('v2 with TLVs, sent byte by byte', async () => {
    const addresses = Buffer.from([203, 0, 113, 9, 127, 0, 0, 1, 0x30, 0x39, 0x1f, 0x90]);
    const tlvs = Buffer.from([0x01, 0x00, 0x08, ...Buffer.from('http/1.1'), 0x04, 0x00, 0x02, 0x00, 0x00]);
    const header = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x00, addresses.length + tlvs.length]), addresses, tlvs]);
    const client = await RawClient.connect(shoal.port);
    for (const byte of header) {
      client.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    client.write(upgradeRequest('/'));
    await client.waitFor(() => client.received.includes('\r\n\r\n'));
    const end = client.received.indexOf('\r\n\r\n') + 4;
    expect(parseResponse(client.received.subarray(0, end).toString('latin1')).status).toBe(101);
    client.received = client.received.subarray(end);
    expect(await whoami(client)).toMatchObject({ remoteAddress: '203.0.113.9' });
    client.destroy();
  });

  it('a missing or malformed header closes that connection only, and is counted', async () => {
    const other = await openAfter(shoal.port, Buffer.from('PROXY UNKNOWN\r\n'));
    for (const bad of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n', 'PROXY TCP4 1.2.3.4\n']) {
      const client = await RawClient.connect(shoal.port);
      client.write(bad);
      expect(await client.responseText()).toBe('');
    }
    // Silence past the handshake timeout: closed without an answer.
    const silent = await RawClient.connect(shoal.port);
    silent.write('PROXY TCP4 1.2.3.4 5.6.7.8');
    expect(await silent.responseText()).toBe('');
    expect(await whoami(other)).toMatchObject({ remoteAddress: '127.0.0.1' });
    other.destroy();
    await expect.poll(() => shoal.ended.filter((stats) => stats.edgeRefusal === 'proxy_header_malformed').length).toBe(3);
    await expect.poll(() => shoal.ended.filter((stats) => stats.edgeRefusal === 'proxy_header_timeout').length).toBe(1);
    const metrics = await (await fetch(new URL('/metrics', shoal.server.adminAddress?.url))).text();
    expect(metrics).toMatch(/^shoal_edge_refusals_total\{reason="proxy_header_malformed"\} 3$/m);
    expect(metrics).toMatch(/^shoal_edge_refusals_total\{reason="proxy_header_timeout"\} 1$/m);
    expect(metrics).toMatch(/^shoal_handshakes_abandoned_total 0$/m);
  });
});
