/**
 * How the TCP connection ends after the WebSocket closing handshake (RFC 6455
 * §7.1.1: "the server SHOULD close the underlying TCP connection first").
 * Once the client's close frame has been answered the server closes its
 * socket at once, without waiting for the client's FIN; a connection failed
 * by the server (a protocol error) is half-closed instead, and the server
 * reads until the client closes, so that bytes still in flight get no reset.
 * The clients here are half-open: they never close unless the test says so.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Opcode } from '../../src/protocol/constants.ts';
import { parseServerFrames } from '../conformance/frame-cases.ts';
import { clientFrame, upgradeRequest } from '../helpers/raw-socket.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;

beforeAll(async () => {
  // A close timeout far beyond the test's: a server waiting for the client's FIN would show as closeTimedOut.
  server = await startServer({ app: 'echo', workers: 1, closeTimeoutMs: 2000 });
});
afterAll(() => server.close());

interface HalfOpenClient {
  socket: Socket;
  received: () => Buffer;
  ended: Promise<unknown>;
  errors: Error[];
}

/** A client that has completed the opening handshake and keeps its side open after the server's FIN. */
async function openClient(): Promise<HalfOpenClient> {
  const socket = connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  const errors: Error[] = [];
  socket.on('error', (error) => errors.push(error));
  const upgraded = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).includes('\r\n\r\n')) resolve();
    });
  });
  const ended = once(socket, 'end');
  socket.write(upgradeRequest('/'));
  await upgraded;
  return {
    socket,
    received: () => {
      const all = Buffer.concat(chunks);
      return all.subarray(all.indexOf('\r\n\r\n') + 4);
    },
    ended,
    errors,
  };
}

describe('the TCP close after the closing handshake', () => {
  it('closes the socket once the close frame is answered, without waiting for the client to close', async () => {
    const client = await openClient();
    const endedBefore = server.ended.length;
    client.socket.write(clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8])));
    await client.ended;
    const frames = parseServerFrames(client.received()).frames;
    expect(frames.map((frame) => frame.opcode)).toEqual([Opcode.CLOSE]);
    expect(frames[0]?.payload.readUInt16BE(0)).toBe(1000);
    // The client never closed its side: the server did not wait for it (no close timeout).
    const stats = await server.waitForEnd((entry) => server.ended.indexOf(entry) >= endedBefore);
    expect(stats).toMatchObject({ handshakeStatus: 101, closeCode: 1000, wasClean: true, closeTimedOut: false });
    expect(client.socket.writableEnded).toBe(false);
    expect(client.errors).toEqual([]);
    client.socket.destroy();
  });

  it('answers a close with a code and reason with the code, and closes the same way', async () => {
    const client = await openClient();
    const endedBefore = server.ended.length;
    client.socket.write(clientFrame(Opcode.CLOSE, Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('bye')])));
    await client.ended;
    const frames = parseServerFrames(client.received()).frames;
    expect(frames.map((frame) => frame.payload.readUInt16BE(0))).toEqual([4000]);
    const stats = await server.waitForEnd((entry) => server.ended.indexOf(entry) >= endedBefore);
    expect(stats).toMatchObject({ closeCode: 4000, closeReason: 'bye', wasClean: true, closeTimedOut: false });
    client.socket.destroy();
  });

  it('half-closes a connection it failed and reads until the client closes', async () => {
    const client = await openClient();
    const endedBefore = server.ended.length;
    // An unmasked frame from a client is a protocol error (RFC 6455 §5.1): 1002.
    client.socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    await client.ended;
    const frames = parseServerFrames(client.received()).frames;
    expect(frames.map((frame) => frame.payload.readUInt16BE(0))).toEqual([1002]);
    // The server still reads: more bytes from the client get no reset, and it ends when the client does.
    client.socket.write(Buffer.alloc(1000, 1));
    client.socket.end();
    const stats = await server.waitForEnd((entry) => server.ended.indexOf(entry) >= endedBefore);
    expect(stats).toMatchObject({ closeCode: 1002, wasClean: false, closeTimedOut: false });
    expect(stats.bytesIn).toBe(Buffer.byteLength(upgradeRequest('/')) + 4 + 1000);
    expect(client.errors).toEqual([]);
  });
});
