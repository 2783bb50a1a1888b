/**
 * Frames that break RFC 6455 over raw sockets: each fails only its own
 * connection, with the close code the RFC names and a reason, and the
 * server keeps serving everyone else.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Opcode } from '../../src/protocol/constants.ts';
import { encodeFrame } from '../../src/protocol/frame-encoder.ts';
import { clientFrame, RawClient, TEST_MASK } from '../helpers/raw-socket.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let bystander: WebSocket;

beforeAll(async () => {
  server = await startServer({ app: 'echo', maxMessageBytes: 1024 });
  bystander = new WebSocket(`${server.origin}/`);
  await once(bystander, 'open');
});
afterAll(async () => {
  bystander.close();
  await server.close();
});

/** A masked frame header + payload built by hand, for what the encoder refuses to make. */
function handmadeFrame(firstByte: number, payload: Uint8Array): Buffer {
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] ^= TEST_MASK[i % 4];
  return Buffer.concat([Buffer.from([firstByte, 0x80 | payload.length]), TEST_MASK, masked]);
}

const CASES: { name: string; bytes: () => Buffer; code: number; reason: RegExp }[] = [
  { name: 'an unmasked frame', bytes: () => encodeFrame(Opcode.TEXT, Buffer.from('hi')), code: 1002, reason: /mask/i },
  { name: 'a reserved opcode (0x3)', bytes: () => handmadeFrame(0x83, Buffer.from('x')), code: 1002, reason: /opcode/i },
  { name: 'RSV1 without an extension', bytes: () => handmadeFrame(0xc1, Buffer.from('x')), code: 1002, reason: /rsv|reserved/i },
  { name: 'a fragmented ping', bytes: () => handmadeFrame(0x09, Buffer.from('p')), code: 1002, reason: /control|fragment/i },
  { name: 'a continuation with no message open', bytes: () => clientFrame(Opcode.CONTINUATION, 'x'), code: 1002, reason: /continuation/i },
  { name: 'invalid UTF-8 in a text message', bytes: () => clientFrame(Opcode.TEXT, Buffer.from([0xce, 0xba, 0xe1, 0xbd])), code: 1007, reason: /utf-?8/i },
  { name: 'a message over --max-message-size', bytes: () => clientFrame(Opcode.BINARY, Buffer.alloc(1025)), code: 1009, reason: /.+/ },
  { name: 'a close frame with a reserved code (1005)', bytes: () => clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xed])), code: 1002, reason: /code/i },
];

describe('bad frames fail only their own connection', () => {
  it.each(CASES)('$name -> close $code', async ({ bytes, code, reason }) => {
    const client = await RawClient.open(server.port);
    client.write(bytes());
    const close = await client.closeFrame();
    expect(close.code).toBe(code);
    expect(close.reason).toMatch(reason);
    await client.closed;
    const stats = await server.waitForEnd((s) => s.closeCode === code && s.closeReason === close.reason);
    expect(stats.wasClean).toBe(false);

    bystander.send(`after ${code}`);
    const [echo] = (await once(bystander, 'message')) as [Buffer];
    expect(echo.toString()).toBe(`after ${code}`);
  });

  it('a frame split across many TCP writes is still decoded', async () => {
    const client = await RawClient.open(server.port);
    const frame = clientFrame(Opcode.TEXT, 'split into single bytes');
    for (const byte of frame) {
      client.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await client.waitFor(() => client.events().length === 1);
    expect(client.events()[0].data.toString()).toBe('split into single bytes');
    client.destroy();
  });

  it('a client that drops TCP without a close frame ends as 1006', async () => {
    const client = await RawClient.open(server.port);
    client.write(clientFrame(Opcode.TEXT, 'then vanish'));
    await client.waitFor(() => client.events().length === 1);
    client.destroy();
    const stats = await server.waitForEnd((s) => s.closeCode === 1006 && s.messagesIn === 1);
    expect(stats.wasClean).toBe(false);
  });
});
