/**
 * permessage-deflate against real clients over loopback: the ws package and
 * Node's built-in WebSocket negotiate with `negotiatePerMessageDeflate` and
 * exchange compressed messages with `PerMessageDeflate`. The server here is
 * a small echo built from the protocol core alone (handshake parser, frame
 * decoder and encoder), so this checks the deflate modules, not the worker.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Opcode } from '../../../src/protocol/constants.ts';
import type { ProtocolError } from '../../../src/protocol/errors.ts';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.ts';
import { encodeClose, encodeFrame, encodePong } from '../../../src/protocol/frame-encoder.ts';
import { resolvePerMessageDeflateOptions } from '../../../src/protocol/permessage-deflate-negotiation.ts';
import type { DeflateAgreement, PerMessageDeflateOptions } from '../../../src/protocol/permessage-deflate-negotiation.ts';
import { PerMessageDeflate } from '../../../src/protocol/permessage-deflate.ts';
import { acceptWithDeflate, openBuiltIn, openWsClient, roundTripBuiltIn } from '../../helpers/deflate-interop.ts';
import { startLoopbackServer } from '../../helpers/loopback-server.ts';

const MAX_MESSAGE_BYTES = 1024 * 1024;

interface EchoServer {
  url: string;
  /** What each connection agreed, in accept order (null: no compression). */
  agreements: (DeflateAgreement | null)[];
  /** Messages received with RSV1 set, and echoed compressed. */
  stats: { compressedIn: number; compressedOut: number; errors: ProtocolError[] };
  close(): Promise<void>;
}

const servers: EchoServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** An echo server that compresses replies whenever the connection agreed on permessage-deflate. */
async function startEchoServer(options: PerMessageDeflateOptions): Promise<EchoServer> {
  const agreements: (DeflateAgreement | null)[] = [];
  const stats = { compressedIn: 0, compressedOut: 0, errors: [] as ProtocolError[] };
  const server = await startLoopbackServer((socket) => {
    socket.on('error', () => socket.destroy());
    const fail = (error: ProtocolError) => {
      stats.errors.push(error);
      socket.end(encodeClose(error.closeCode, error.message));
    };
    acceptWithDeflate(socket, options, (negotiated) => {
      agreements.push(negotiated?.agreement ?? null);
      const codec = negotiated === null ? null : new PerMessageDeflate(negotiated.agreement, options);
      const decoder = new FrameDecoder(
        {
          onMessage(data, isBinary, compressed) {
            let payload = data;
            if (compressed) {
              stats.compressedIn++;
              try {
                payload = codec!.decompress(data, MAX_MESSAGE_BYTES);
              } catch (error) {
                fail(error as ProtocolError);
                return;
              }
            }
            const opcode = isBinary ? Opcode.BINARY : Opcode.TEXT;
            if (codec !== null && codec.shouldCompress(payload.length)) {
              stats.compressedOut++;
              socket.write(encodeFrame(opcode, codec.compress(payload), { rsv1: true }));
            } else {
              socket.write(encodeFrame(opcode, payload));
            }
          },
          onControl(opcode, payload) {
            if (opcode === Opcode.PING) socket.write(encodePong(payload));
            if (opcode === Opcode.CLOSE) socket.end(encodeClose(1000));
          },
          onError: fail,
        },
        { maxMessageBytes: MAX_MESSAGE_BYTES, rsv1Allowed: codec !== null },
      );
      return (chunk) => decoder.push(chunk);
    });
  });
  const echo: EchoServer = {
    url: `ws://127.0.0.1:${server.port}/`,
    agreements,
    stats,
    close: server.close,
  };
  servers.push(echo);
  return echo;
}

/** Chat-like JSON messages of growing size, so several cross the thresholds. */
function messages(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({ i, room: 'general', user: `user-${i % 5}`, text: 'hello deflate '.repeat(1 + (i % 40) * 5) }),
  );
}

/** Sends each message through a ws client and waits for its echo; returns the echoes and the 101's Sec-WebSocket-Extensions. */
async function echoWithWs(url: string, sent: string[], clientOptions: WebSocket.PerMessageDeflateOptions | false): Promise<{ echoes: string[]; extensions: string }> {
  // next() rejects on a close before the last echo: the test fails at once, with the close code.
  const { client, extensions, next } = await openWsClient(url, clientOptions);
  const echoes: string[] = [];
  for (const text of sent) {
    client.send(text);
    echoes.push((await next()).toString());
  }
  client.close(1000);
  await once(client, 'close');
  return { echoes, extensions };
}

const OPEN = resolvePerMessageDeflateOptions({
  enabled: true,
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  thresholdBytes: 0,
});

describe('permessage-deflate with the ws client', () => {
  it.each([
    ['context takeover both ways', OPEN, { threshold: 0 }, 'permessage-deflate'],
    [
      'the default policy (no takeover either way)',
      resolvePerMessageDeflateOptions({ enabled: true, thresholdBytes: 0 }),
      { threshold: 0 },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    ],
    [
      'small windows chosen by the server',
      { ...OPEN, serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
      { threshold: 0 },
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits=9',
    ],
    [
      '8-bit windows requested by the client',
      OPEN,
      { threshold: 0, serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
      'permessage-deflate; server_max_window_bits=8; client_max_window_bits=8',
    ],
    [
      'a client that asks the server not to take over context',
      OPEN,
      { threshold: 0, serverNoContextTakeover: true },
      'permessage-deflate; server_no_context_takeover',
    ],
  ] as const)('echoes compressed messages both ways with %s', async (_label, policy, clientOptions, response) => {
    const server = await startEchoServer(policy);
    const sent = messages(60);
    const { echoes, extensions } = await echoWithWs(server.url, sent, clientOptions);
    expect(extensions).toBe(response);
    expect(echoes).toEqual(sent);
    expect(server.stats.errors).toEqual([]);
    expect(server.stats.compressedIn).toBe(sent.length);
    expect(server.stats.compressedOut).toBe(sent.length);
  });

  it('sends short messages uncompressed under the threshold, and the client still reads them', async () => {
    const server = await startEchoServer({ ...OPEN, thresholdBytes: 200 });
    const sent = ['short', 'x'.repeat(199), 'y'.repeat(200), 'z'.repeat(5000)];
    const { echoes } = await echoWithWs(server.url, sent, { threshold: 0 });
    expect(echoes).toEqual(sent);
    expect(server.stats.compressedOut).toBe(2);
  });

  it('completes the handshake without compression when the client does not offer it', async () => {
    const server = await startEchoServer(OPEN);
    const sent = messages(3);
    const { echoes, extensions } = await echoWithWs(server.url, sent, false);
    expect(extensions).toBe('');
    expect(echoes).toEqual(sent);
    expect(server.agreements).toEqual([null]);
    expect(server.stats.compressedIn + server.stats.compressedOut).toBe(0);
  });

  it('closes with 1009 when a compressed message inflates past the limit', async () => {
    const server = await startEchoServer(OPEN);
    const client = new WebSocket(server.url, { perMessageDeflate: { threshold: 0 } });
    await once(client, 'open');
    // 4 MiB of one letter compresses to a few KiB: under the frame limit, over it once inflated.
    client.send('a'.repeat(4 * MAX_MESSAGE_BYTES));
    const [code] = (await once(client, 'close')) as [number];
    expect(code).toBe(1009);
    expect(server.stats.errors.map((error) => error.code)).toEqual(['WS_ERR_MESSAGE_TOO_BIG']);
  });
});

describe("permessage-deflate with Node's built-in WebSocket", () => {
  it('negotiates from its offer and it reads compressed replies (with and without takeover)', async () => {
    for (const policy of [OPEN, resolvePerMessageDeflateOptions({ enabled: true, thresholdBytes: 0 })]) {
      const server = await startEchoServer(policy);
      const client = await openBuiltIn(server.url);
      const sent = messages(30);
      const echoes: string[] = [];
      for (const text of sent) echoes.push(await roundTripBuiltIn(client, text));
      expect(client.extensions).toContain('permessage-deflate');
      expect(echoes).toEqual(sent);
      expect(server.stats.compressedOut).toBe(sent.length);
      expect(server.stats.errors).toEqual([]);
      client.close(1000);
    }
  });
});
