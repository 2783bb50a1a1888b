import { once } from 'node:events';
import { connect, createServer, Socket, type Server } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionActor } from '../../../src/actors/connection-actor.ts';
import { Opcode } from '../../../src/protocol/constants.ts';
import { acceptHandles, type TcpHandle } from '../../../src/transport/accept-handles.ts';
import type { OnRead } from '../../../src/transport/adopt-socket.ts';
import { BareTcp, type BareTcpReader } from '../../../src/transport/bare-tcp.ts';
import { DirectWrite, writeHandle } from '../../../src/transport/direct-write.ts';
import { SocketBinding, sharedReads } from '../../../src/transport/socket-binding.ts';
import { clientFrame } from '../../helpers/raw-socket.ts';

let server: Server | null = null;
const clients: Socket[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  server?.close();
  server = null;
});

/** A connection accepted as a bare handle (as the primary hands them over), and its client. */
async function bareConnection(): Promise<{ handle: TcpHandle; client: Socket }> {
  server = createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const handles: TcpHandle[] = [];
  expect(acceptHandles(server, (handle) => handles.push(handle))).toBe(true);
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  clients.push(client);
  await once(client, 'connect');
  while (handles.length === 0) await turn();
  return { handle: handles[0] as TcpHandle, client };
}

/** What a reader saw: the reads' text (copied out of the buffer at once), the ends. */
function recordingReader(onread: OnRead): BareTcpReader & { reads: string[]; ended: number } {
  return {
    reads: [],
    ended: 0,
    bareRead(length: number) {
      this.reads.push(onread.buffer.subarray(0, length).toString());
    },
    bareReadEnded() {
      this.ended++;
    },
  };
}

/** Resolves once `socket` has received `text` in all. */
async function receive(socket: Socket, text: string): Promise<string> {
  let received = '';
  socket.setEncoding('latin1');
  while (received.length < text.length) {
    const [chunk] = (await once(socket, 'data')) as [string];
    received += chunk;
  }
  return received;
}

const owner = { directWriteDone() {} };

describe('BareTcp', () => {
  it('takes only a TCP handle', async () => {
    const { handle } = await bareConnection();
    expect(BareTcp.accepts(handle)).toBe(true);
    expect(BareTcp.accepts({})).toBe(false);
    expect(BareTcp.accepts(new Socket())).toBe(false);
    handle.close();
  });

  it('reads into the given buffer, writes straight to the handle, and closes without a Socket, keeping its byte counts', async () => {
    const { handle, client } = await bareConnection();
    const onread: OnRead = { buffer: Buffer.alloc(64), callback: () => true };
    const tcp = new BareTcp(handle, onread);
    const reader = recordingReader(onread);
    expect(tcp.start(reader)).toBe(true);
    expect(tcp.remoteAddress).toBe('127.0.0.1');
    client.write('hello');
    while (reader.reads.length === 0) await turn();
    expect(reader.reads).toEqual(['hello']);
    expect(writeHandle(tcp.handle as object, Buffer.from('bye'), owner)).toBe(DirectWrite.DONE);
    const clientEnded = once(client, 'end');
    const received = receive(client, 'bye');
    tcp.close();
    expect(tcp.closed).toBe(true);
    expect(tcp.handle).toBeNull();
    expect(tcp.bytesRead).toBe(5);
    expect(tcp.bytesWritten).toBe(3);
    // The peer gets what was written, then the FIN of the closed descriptor.
    expect(await received).toBe('bye');
    await clientEnded;
    expect(reader.ended).toBe(0);
    // After the close, a Socket asked for is an inert, destroyed one.
    const late = tcp.toSocket();
    expect(late.destroyed).toBe(true);
  });

  it('makes a Socket on demand that goes on reading into the same callback, with the byte counts so far', async () => {
    const { handle, client } = await bareConnection();
    const seen: string[] = [];
    const onread: OnRead = {
      buffer: Buffer.alloc(64),
      callback(length) {
        seen.push(`${this instanceof Socket ? 'socket' : 'other'}:${onread.buffer.subarray(0, length).toString()}`);
        return true;
      },
    };
    const tcp = new BareTcp(handle, onread);
    const reader = recordingReader(onread);
    tcp.start(reader);
    client.write('first');
    while (reader.reads.length === 0) await turn();
    const socket = tcp.toSocket();
    expect(tcp.toSocket()).toBe(socket);
    expect(tcp.handle).toBeNull();
    expect(socket.destroyed).toBe(false);
    client.write('second');
    while (seen.length === 0) await turn();
    expect(seen).toEqual(['socket:second']);
    expect(reader.reads).toEqual(['first']);
    expect(socket.bytesRead).toBe(11);
    // The stream's writes and end work as on any socket; pause stops the handle's reads.
    socket.pause();
    expect((socket as unknown as { _handle: { reading: boolean } })._handle.reading).toBe(false);
    socket.resume();
    expect((socket as unknown as { _handle: { reading: boolean } })._handle.reading).toBe(true);
    const received = receive(client, 'answer');
    socket.end('answer');
    expect(await received).toBe('answer');
    socket.destroy();
  });

  it('hands the end of input to the Socket its reader takes then: it ends and closes as any socket', async () => {
    const { handle, client } = await bareConnection();
    const onread: OnRead = { buffer: Buffer.alloc(64), callback: () => true };
    const tcp = new BareTcp(handle, onread);
    const events: string[] = [];
    const reader: BareTcpReader = {
      bareRead() {},
      bareReadEnded() {
        const socket = tcp.toSocket();
        socket.on('end', () => events.push('end'));
        socket.on('close', () => events.push('close'));
      },
    };
    tcp.start(reader);
    client.end();
    while (!events.includes('close')) await turn();
    expect(events).toEqual(['end', 'close']);
  });

  it('hands a read error to the Socket: an error, then close', async () => {
    const { handle, client } = await bareConnection();
    const onread: OnRead = { buffer: Buffer.alloc(64), callback: () => true };
    const tcp = new BareTcp(handle, onread);
    const events: string[] = [];
    tcp.start({
      bareRead() {},
      bareReadEnded() {
        const socket = tcp.toSocket();
        socket.on('error', (error: NodeJS.ErrnoException) => events.push(`error:${error.code}`));
        socket.on('close', () => events.push('close'));
      },
    });
    client.resetAndDestroy();
    while (!events.includes('close')) await turn();
    expect(events).toEqual(['error:ECONNRESET', 'close']);
  });
});

describe('SocketBinding over a BareTcp', () => {
  const config = { maxMessageBytes: 1 << 20, maxBackpressureBytes: 64 << 20, handshakeTimeoutMs: 1e9, idleTimeoutMs: 0, pingIntervalMs: 0, closeTimeoutMs: 1e9 };
  const RESPONSE = Buffer.from('HTTP/1.1 101 Switching Protocols\r\n\r\n');
  const CLOSE_1000 = Buffer.from([0x88, 0x02, 0x03, 0xe8]);

  /** A binding on a bare connection, past its upgrade (the 101 pending), and what its delegate saw. */
  async function openBareBinding() {
    const { handle, client } = await bareConnection();
    const seen = { closed: 0, head: 0 };
    const delegate = { handshakeData: () => seen.head++, handshakeTimedOut() {}, closed: () => seen.closed++ };
    const binding = new SocketBinding(new BareTcp(handle, sharedReads), config, delegate, 1);
    const actor = new ConnectionActor(binding, { address: '1.1', protocol: null, upgradeData: undefined }, { mailboxSize: 16, mailboxBytes: 1 << 20 });
    binding.accept(RESPONSE, actor);
    binding.resumeAfterUpgrade(Buffer.alloc(0));
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    return { binding, client, seen, received };
  }

  it('writes the 101, answers a clean close and closes the connection without ever making a Socket', async () => {
    const { binding, client, seen, received } = await openBareBinding();
    const ended = once(client, 'end');
    while (Buffer.concat(received).length < RESPONSE.length) await turn();
    client.write(clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8])));
    await ended;
    expect(Buffer.concat(received)).toEqual(Buffer.concat([RESPONSE, CLOSE_1000]));
    expect(seen.closed).toBe(1);
    expect(binding.stats.wasClean).toBe(true);
    expect(binding.stats.closeCode).toBe(1000);
    // Still the bare connection: no Socket was made on the way; its byte counts survive the close.
    const wire = binding.wire as BareTcp;
    expect(wire).toBeInstanceOf(BareTcp);
    expect(wire.closed).toBe(true);
    expect(wire.bytesRead).toBe(8);
    expect(wire.bytesWritten).toBe(RESPONSE.length + CLOSE_1000.length);
  });

  it('makes the Socket when the client closes without a closing handshake, and closes once through it', async () => {
    const { binding, client, seen, received } = await openBareBinding();
    while (Buffer.concat(received).length < RESPONSE.length) await turn();
    client.end();
    while (seen.closed === 0) await turn();
    expect(binding.wire).toBeInstanceOf(Socket);
    expect(binding.socket.destroyed).toBe(true);
    expect(binding.stats.wasClean).toBe(false);
    for (let i = 0; i < 5; i++) await turn();
    expect(seen.closed).toBe(1);
  });
});
