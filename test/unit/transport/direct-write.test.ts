import net, { type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionActor } from '../../../src/actors/connection-actor.ts';
import { Opcode } from '../../../src/protocol/constants.ts';
import { encodeFrame } from '../../../src/protocol/frame-encoder.ts';
import { DirectWrite, canWriteDirect, writeDirect, writevDirect } from '../../../src/transport/direct-write.ts';
import { SocketBinding } from '../../../src/transport/socket-binding.ts';
import { parseServerFrames } from '../../conformance/frame-cases.ts';

/** Loopback socket pairs: [server side, client side], all destroyed after each test. */
const opened: Socket[] = [];
const servers: net.Server[] = [];

async function socketPairs(count: number): Promise<[Socket, Socket][]> {
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const accepted: Socket[] = [];
  const allAccepted = new Promise<void>((resolve) => {
    server.on('connection', (socket) => {
      accepted.push(socket);
      if (accepted.length === count) resolve();
    });
  });
  const clients = await Promise.all(
    Array.from({ length: count }, () => new Promise<Socket>((resolve) => {
      const client = net.connect(port, '127.0.0.1', () => resolve(client));
    })),
  );
  await allAccepted;
  opened.push(...accepted, ...clients);
  // Accepted in the order the clients connected: pair them by local/remote port.
  return accepted.map((socket) => [socket, clients.find((client) => client.localPort === socket.remotePort) as Socket]);
}

/** Reads `socket` until `bytes` bytes arrived (bounded by the test's timeout). */
function readBytes(socket: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= bytes) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
  });
}

const config = { maxMessageBytes: 1 << 20, maxBackpressureBytes: 64 << 20, handshakeTimeoutMs: 1e9, idleTimeoutMs: 0, pingIntervalMs: 0, closeTimeoutMs: 1e9 };
const delegate = { handshakeData() {}, handshakeTimedOut() {}, closed() {} };

function openBinding(socket: Socket, limits: Partial<typeof config> = {}): { binding: SocketBinding; actor: ConnectionActor } {
  const binding = new SocketBinding(socket, { ...config, ...limits }, delegate, 1);
  const actor = new ConnectionActor(binding, { address: '1.1', protocol: null, upgradeData: undefined }, { mailboxSize: 16, mailboxBytes: 1 << 20 });
  binding.accept(Buffer.alloc(0), actor);
  return { binding, actor };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function binaryFrame(text: string): Buffer {
  return encodeFrame(Opcode.BINARY, Buffer.from(text));
}

afterEach(() => {
  for (const socket of opened.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) server.close();
});

/**
 * Calls `offer` once a turn until the binding closes its connection as a slow consumer; bounded at 2,000 turns (the
 * callers offer 256 KiB a turn: 512 MiB, far past any kernel buffer).
 */
async function offerUntilSlowConsumer(binding: SocketBinding, offer: () => void): Promise<void> {
  for (let turns = 0; !binding.stats.slowConsumer && turns < 2000; turns++) {
    offer();
    await turn();
  }
}

describe('writeDirect', () => {
  it('is available for plain TCP sockets, not for a stub without a libuv handle', async () => {
    const [[server]] = await socketPairs(1);
    expect(canWriteDirect(server as Socket)).toBe(true);
    expect(canWriteDirect({} as Socket)).toBe(false);
  });

  it('writes at once when the kernel takes it, queues in libuv (in order, owner told) when it does not, and waits for what the stream holds', async () => {
    const [[server, client]] = await socketPairs(1);
    client.pause();
    let done = 0;
    const owner = { directWriteDone: (bytes: number, status: number) => (done += status === 0 ? bytes : 0) };
    const small = Buffer.from('first');
    expect(writeDirect(server as Socket, small, owner)).toBe(DirectWrite.DONE);
    // More than the kernel buffers of a paused reader: the rest stays queued in libuv.
    const big = Buffer.alloc(16 << 20, 7);
    expect(writeDirect(server as Socket, big, owner)).toBe(DirectWrite.QUEUED);
    expect(writeDirect(server as Socket, Buffer.from('queued'), owner)).toBe(DirectWrite.QUEUED);
    // The stream's own writes queue behind those in libuv; while the stream holds one, no direct write passes it.
    (server as Socket).write(Buffer.from('after'));
    expect(writeDirect(server as Socket, Buffer.from('never'), owner)).toBe(DirectWrite.UNAVAILABLE);
    client.resume();
    const received = await readBytes(client as Socket, small.length + big.length + 11);
    expect(received.subarray(0, 5).toString()).toBe('first');
    expect(received.subarray(5, 5 + big.length).every((byte) => byte === 7)).toBe(true);
    expect(received.subarray(5 + big.length).toString()).toBe('queuedafter');
    expect(done).toBe(big.length + 6);
  });

  it('reports a write to a socket whose peer is gone as FAILED and destroys the socket', async () => {
    const [[server, client]] = await socketPairs(1);
    const closed = new Promise<void>((resolve) => (server as Socket).on('close', () => resolve()));
    (server as Socket).on('error', () => {});
    client?.resetAndDestroy();
    await new Promise<void>((resolve) => (server as Socket).once('end', resolve).once('error', () => resolve()).resume());
    const owner = { directWriteDone: () => {} };
    let result: DirectWrite = DirectWrite.DONE;
    // The first write after a reset may still be taken by the kernel; the next one fails.
    for (let i = 0; i < 10 && result !== DirectWrite.FAILED && !(server as Socket).destroyed; i++) result = writeDirect(server as Socket, Buffer.from('late'), owner);
    expect((server as Socket).destroyed).toBe(true);
    await closed;
  });

  it('with streamEmpty, writes without reading the stream\'s length, and is UNAVAILABLE for a destroyed socket (no handle)', async () => {
    const [[server, client]] = await socketPairs(1);
    const socket = server as Socket;
    let lengthReads = 0;
    Object.defineProperty(socket, 'writableLength', { get: () => (lengthReads++, 0), configurable: true });
    const owner = { directWriteDone: () => {} };
    expect(writeDirect(socket, Buffer.from('known'), owner, true)).toBe(DirectWrite.DONE);
    expect(lengthReads).toBe(0);
    expect((await readBytes(client as Socket, 5)).toString()).toBe('known');
    socket.destroy();
    expect(writeDirect(socket, Buffer.from('gone'), owner, true)).toBe(DirectWrite.UNAVAILABLE);
    expect(lengthReads).toBe(0);
    Reflect.deleteProperty(socket, 'writableLength');
  });
});

describe('writevDirect', () => {
  it('writes several buffers in one go, in order; a part the kernel does not take stays queued (owner told the total), ahead of later writes', async () => {
    const [[server, client]] = await socketPairs(1);
    client.pause();
    let done = 0;
    const owner = { directWriteDone: (bytes: number, status: number) => (done += status === 0 ? bytes : 0) };
    const first = [Buffer.from('a'), Buffer.from('bc'), Buffer.from('def')];
    expect(writevDirect(server as Socket, first, 6, owner)).toBe(DirectWrite.DONE);
    const big = Buffer.alloc(16 << 20, 7);
    const second = [Buffer.from('head'), big, Buffer.from('tail')];
    expect(writevDirect(server as Socket, second, big.length + 8, owner)).toBe(DirectWrite.QUEUED);
    expect(writeDirect(server as Socket, Buffer.from('next'), owner)).toBe(DirectWrite.QUEUED);
    (server as Socket).write(Buffer.from('stream'));
    expect(writevDirect(server as Socket, [Buffer.from('never')], 5, owner)).toBe(DirectWrite.UNAVAILABLE);
    client.resume();
    const received = await readBytes(client as Socket, 6 + big.length + 8 + 4 + 6);
    expect(received.subarray(0, 10).toString()).toBe('abcdefhead');
    expect(received.subarray(10, 10 + big.length).every((byte) => byte === 7)).toBe(true);
    expect(received.subarray(10 + big.length).toString()).toBe('tailnextstream');
    expect(done).toBe(big.length + 8 + 4);
  });
});

describe('SocketBinding fan-out writes over TCP', () => {
  it('delivers the frames of a turn in order, joined once for connections with the same frames, apart for the others', async () => {
    const pairs = await socketPairs(3);
    const ends = pairs.map(([server, client]) => ({ ...openBinding(server), client }));
    const a = binaryFrame('a');
    const b = binaryFrame('bb');
    const c = binaryFrame('ccc');
    // Connections 0 and 1 get the same frames (one join for both), 2 gets others, then a direct send between.
    for (const end of ends.slice(0, 2)) {
      end.actor.sendFrame(a);
      end.actor.sendFrame(b);
    }
    ends[2]?.actor.sendFrame(b);
    ends[2]?.actor.send('direct', false);
    ends[2]?.actor.sendFrame(c);
    await turn();
    const payloads = await Promise.all(
      ends.map(async (end, i) => {
        const bytes = await readBytes(end.client, i < 2 ? a.length + b.length : b.length + 8 + c.length);
        return parseServerFrames(bytes).frames.map((frame) => frame.payload.toString());
      }),
    );
    expect(payloads).toEqual([['a', 'bb'], ['a', 'bb'], ['bb', 'direct', 'ccc']]);
  });

  it('writes a turn\'s frames straight to the handle without reading the socket\'s stream while the binding knows it empty', async () => {
    const [[server, client]] = await socketPairs(1);
    const socket = server as Socket;
    const { actor } = openBinding(socket);
    // What the turn end would read of the stream (net.Socket's getters, shadowed on this socket): counted.
    let streamReads = 0;
    const writableState = (socket as unknown as { _writableState: { length: number } })._writableState;
    Object.defineProperty(socket, 'writableLength', { get: () => (streamReads++, writableState.length), configurable: true });
    Object.defineProperty(socket, 'destroyed', { get: () => (streamReads++, false), configurable: true });
    const frames = [binaryFrame('a'), binaryFrame('bb')];
    for (const frame of frames) actor.sendFrame(frame);
    await turn();
    expect(streamReads).toBe(0);
    // net.Socket's own getters again, for the test's cleanup.
    Reflect.deleteProperty(socket, 'writableLength');
    Reflect.deleteProperty(socket, 'destroyed');
    const bytes = await readBytes(client as Socket, frames.reduce((sum, frame) => sum + frame.length, 0));
    expect(parseServerFrames(bytes).frames.map((frame) => frame.payload.toString())).toEqual(['a', 'bb']);
  });

  it('drops the pending frames of a connection whose socket was destroyed before the turn end (its kept handle closed), and writes the others\'', async () => {
    const pairs = await socketPairs(3);
    const ends = pairs.map(([server, client]) => ({ ...openBinding(server), server, client }));
    const frames = [binaryFrame('a'), binaryFrame('bb')];
    for (const end of ends) for (const frame of frames) expect(end.actor.sendFrame(frame)).toBe(true);
    const gone = ends[1] as (typeof ends)[number];
    const received: Buffer[] = [];
    gone.client.on('data', (chunk: Buffer) => received.push(chunk));
    const goneClosed = new Promise<void>((resolve) => gone.client.once('close', () => resolve()));
    // Destroyed mid-turn, before its binding hears of it ('close' comes after the turn end): still OPEN for the binding.
    gone.server.destroy();
    expect(gone.binding.isOpen).toBe(true);
    await turn();
    const bytes = frames.reduce((sum, frame) => sum + frame.length, 0);
    for (const end of [ends[0], ends[2]] as (typeof ends)[number][]) {
      expect(parseServerFrames(await readBytes(end.client, bytes)).frames.map((frame) => frame.payload.toString())).toEqual(['a', 'bb']);
    }
    await goneClosed;
    expect(Buffer.concat(received).length).toBe(0);
    expect(gone.binding.isOpen).toBe(false);
  });

  it('joins two pending frames and three or more apart: a pair after a list of the same first frames, a list after a pair', async () => {
    const pairs = await socketPairs(5);
    const ends = pairs.map(([server, client]) => ({ ...openBinding(server), client }));
    const a = binaryFrame('a');
    const b = binaryFrame('bb');
    const c = binaryFrame('ccc');
    const turnFrames = [[a, b, c], [a, b], [a, b], [a, b, c], [b, a]];
    turnFrames.forEach((frames, i) => {
      for (const frame of frames) ends[i]?.actor.sendFrame(frame);
    });
    await turn();
    const payloads = await Promise.all(
      ends.map(async (end, i) => {
        const frames = turnFrames[i] as Uint8Array[];
        const bytes = await readBytes(end.client, frames.reduce((sum, frame) => sum + frame.length, 0));
        return parseServerFrames(bytes).frames.map((frame) => frame.payload.toString());
      }),
    );
    expect(payloads).toEqual([['a', 'bb', 'ccc'], ['a', 'bb'], ['a', 'bb'], ['a', 'bb', 'ccc'], ['bb', 'a']]);
  });

  it('keeps a large frame (not joined) in order with the small ones of its turn, and drops frames once the connection is not OPEN', async () => {
    const [[server, client]] = await socketPairs(1);
    const { binding, actor } = openBinding(server as Socket);
    const small = binaryFrame('s');
    const large = binaryFrame('L'.repeat(5000));
    expect(actor.sendFrame(small)).toBe(true);
    expect(actor.sendFrame(large)).toBe(true);
    expect(actor.sendFrame(small)).toBe(true);
    await turn();
    const bytes = await readBytes(client as Socket, 2 * small.length + large.length);
    expect(parseServerFrames(bytes).frames.map((frame) => frame.payload.length)).toEqual([1, 5000, 1]);
    expect(binding.stats.bytesOut).toBe(2 * small.length + large.length);
    expect(actor.messagesOut).toBe(3);
    actor.close(1000, 'done');
    // The close frame (RFC 6455 §5.5.1: 2-byte header, 2-byte code, the reason) is all that is added.
    const afterClose = 2 * small.length + large.length + 2 + 2 + 'done'.length;
    expect(binding.stats.bytesOut).toBe(afterClose);
    expect(actor.sendFrame(small)).toBe(false);
    expect(actor.messagesOut).toBe(3);
    expect(binding.stats.bytesOut).toBe(afterClose);
  });

  it('counts direct writes queued in libuv against the send-buffer limit: a subscriber that stops reading is closed as a slow consumer', async () => {
    const [[server, client]] = await socketPairs(1);
    (client as Socket).pause();
    const { binding, actor } = openBinding(server as Socket, { maxBackpressureBytes: 1 << 20 });
    const frame = binaryFrame('x'.repeat(4000));
    // 64 frames of 4 KB a turn: at most 512 MiB offered.
    await offerUntilSlowConsumer(binding, () => {
      for (let i = 0; i < 64; i++) actor.sendFrame(frame);
    });
    expect(binding.stats.slowConsumer).toBe(true);
    expect(binding.sendBufferBytes).toBeGreaterThan(0);
  });

  it('counts what waits in the socket\'s stream against the send-buffer limit (large frames sent outside reads go through it)', async () => {
    const [[server, client]] = await socketPairs(1);
    (client as Socket).pause();
    const { binding, actor } = openBinding(server as Socket, { maxBackpressureBytes: 1 << 20 });
    const payload = Buffer.alloc(64 * 1024, 1);
    // 4 messages of 64 KiB a turn: at most 512 MiB offered.
    await offerUntilSlowConsumer(binding, () => {
      for (let i = 0; i < 4; i++) actor.send(payload);
    });
    expect(binding.stats.slowConsumer).toBe(true);
    expect((server as Socket).writableLength).toBeGreaterThan(0);
    expect(binding.sendBufferBytes).toBeGreaterThanOrEqual((server as Socket).writableLength);
  });
});
