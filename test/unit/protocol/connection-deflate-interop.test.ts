/**
 * ServerConnection with permessage-deflate against real clients over
 * loopback: the ws package (context takeover, fragmented compressed sends,
 * a zip bomb) and Node's built-in WebSocket. The server is a small echo
 * made of the protocol core only (handshake parser, negotiation,
 * ServerConnection), wired the way the worker is meant to wire it.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerConnection } from '../../../src/protocol/connection.ts';
import { resolvePerMessageDeflateOptions, type PerMessageDeflateOptions } from '../../../src/protocol/permessage-deflate-negotiation.ts';
import { PerMessageDeflate } from '../../../src/protocol/permessage-deflate.ts';
import { acceptWithDeflate, openBuiltIn, openWsClient, roundTripBuiltIn } from '../../helpers/deflate-interop.ts';
import { startLoopbackServer } from '../../helpers/loopback-server.ts';

const MAX_MESSAGE_BYTES = 1024 * 1024;

interface EchoServer {
  url: string;
  /** Per connection: the close code and whether the close was clean. */
  closes: { code: number; wasClean: boolean }[];
  close(): Promise<void>;
}

const servers: EchoServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function startEchoServer(options: PerMessageDeflateOptions): Promise<EchoServer> {
  const closes: EchoServer['closes'] = [];
  const server = await startLoopbackServer((socket) => {
    socket.on('error', () => socket.destroy());
    acceptWithDeflate(socket, options, (negotiated) => {
      const connection: ServerConnection = new ServerConnection(
        {
          onMessage: (data, isBinary) => connection.send(data, isBinary),
          onPing() {},
          onPong() {},
          onWrite: (data) => socket.write(data),
          onClose: (code, _reason, wasClean) => {
            closes.push({ code, wasClean });
            socket.end();
          },
        },
        { maxMessageBytes: MAX_MESSAGE_BYTES, deflate: negotiated === null ? null : new PerMessageDeflate(negotiated.agreement, options) },
      );
      return (chunk) => connection.receiveData(chunk);
    });
  });
  const echo: EchoServer = {
    url: `ws://127.0.0.1:${server.port}/`,
    closes,
    close: server.close,
  };
  servers.push(echo);
  return echo;
}

/** Chat-like JSON of growing size: many cross the server's threshold. */
function messages(count: number): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ i, room: 'general', user: `user-${i % 5}`, text: 'hello deflate '.repeat(1 + (i % 30) * 7) }));
}

const TAKEOVER = resolvePerMessageDeflateOptions({ enabled: true, serverNoContextTakeover: false, clientNoContextTakeover: false, thresholdBytes: 256 });

describe('ServerConnection with permessage-deflate and the ws client', () => {
  it.each([
    ['context takeover both ways', TAKEOVER, 'permessage-deflate'],
    ['the default policy (no takeover either way)', resolvePerMessageDeflateOptions({ enabled: true }), 'permessage-deflate; server_no_context_takeover; client_no_context_takeover'],
    ['small windows', { ...TAKEOVER, serverMaxWindowBits: 9, clientMaxWindowBits: 10 }, 'permessage-deflate; server_max_window_bits=9; client_max_window_bits=10'],
  ] as const)('echoes compressed messages with %s', async (_label, policy, response) => {
    const server = await startEchoServer(policy);
    const { client, extensions, next } = await openWsClient(server.url, { threshold: 0 });
    expect(extensions).toBe(response);
    const sent = messages(40);
    for (const text of sent) {
      client.send(text);
      expect((await next()).toString()).toBe(text);
    }
    client.close(1000);
    await once(client, 'close');
    expect(server.closes).toEqual([{ code: 1000, wasClean: true }]);
  });

  it('inflates a message the client compressed and sent in fragments', async () => {
    const server = await startEchoServer(TAKEOVER);
    const { client, next } = await openWsClient(server.url, { threshold: 0 });
    const parts = ['{"part":1,"text":"', 'fragmented '.repeat(200), '"}'];
    parts.forEach((part, i) => client.send(part, { fin: i === parts.length - 1, compress: true }));
    expect((await next()).toString()).toBe(parts.join(''));
    client.send(Buffer.from(parts.join('')), { binary: true, compress: true });
    expect(await next()).toEqual(Buffer.from(parts.join('')));
    client.terminate();
  });

  it('closes with 1009 when a compressed message inflates past the limit', async () => {
    const server = await startEchoServer(TAKEOVER);
    const { client } = await openWsClient(server.url, { threshold: 0 });
    client.send(Buffer.alloc(8 * MAX_MESSAGE_BYTES), { compress: true });
    const [code] = (await once(client, 'close')) as [number];
    expect(code).toBe(1009);
    expect(server.closes).toEqual([{ code: 1009, wasClean: false }]);
  });
});

describe("ServerConnection with permessage-deflate and Node's built-in WebSocket", () => {
  it('negotiates from its offer and exchanges compressed messages both ways', async () => {
    const server = await startEchoServer(TAKEOVER);
    const client = await openBuiltIn(server.url);
    expect(client.extensions).toContain('permessage-deflate');
    const sent = messages(20);
    for (const text of sent) expect(await roundTripBuiltIn(client, text)).toBe(text);
    const closed = new Promise((resolve) => {
      client.onclose = resolve;
    });
    client.close(1000);
    await closed;
    expect(server.closes).toEqual([{ code: 1000, wasClean: true }]);
  });
});
