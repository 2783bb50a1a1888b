import { captureLogs } from '../../helpers/log-capture.ts';
import type { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { ConnectionActor } from '../../../src/actors/connection-actor.ts';
import type { Session } from '../../../src/app/types.ts';
import { Opcode } from '../../../src/protocol/constants.ts';
import { clock } from '../../../src/transport/heartbeat.ts';
import { BindingPhase, IDLE_TIMEOUT_REASON, SocketBinding, type BindingDelegate } from '../../../src/transport/socket-binding.ts';
import { clientFrame } from '../../helpers/raw-socket.ts';
import { StubSocket, UPGRADE_RESPONSE } from '../../helpers/stub-socket.ts';
import { chunkings } from '../../helpers/chunkings.ts';
import { encodeFrame } from '../../../src/protocol/frame-encoder.ts';

const config = { maxMessageBytes: 1 << 20, maxBackpressureBytes: 1000, handshakeTimeoutMs: 100, idleTimeoutMs: 1000, pingIntervalMs: 300, closeTimeoutMs: 50 };

function delegate(): BindingDelegate & { timedOut: number; closedCount: number } {
  return {
    timedOut: 0,
    closedCount: 0,
    handshakeData() {},
    handshakeTimedOut() {
      this.timedOut++;
    },
    closed() {
      this.closedCount++;
    },
  };
}

/** An open binding whose session is `session` (an echo by default). */
function openBinding(session?: (actor: ConnectionActor) => Session, mailboxSize = 100) {
  const socket = new StubSocket();
  const binding = new SocketBinding(socket as unknown as Socket, config, delegate(), 1);
  const actor = new ConnectionActor(binding, { address: '1.1', protocol: null, upgradeData: undefined }, { mailboxSize, mailboxBytes: 1 << 20 });
  binding.accept(Buffer.from(UPGRADE_RESPONSE), actor);
  actor.start(
    session?.(actor) ?? {
      onOpen() {},
      onMessage: (data, isBinary) => actor.send(data, isBinary),
      onClose() {},
    },
  );
  binding.resumeAfterUpgrade(Buffer.alloc(0));
  socket.writes = [];
  return { socket, binding, actor };
}

describe('SocketBinding writes', () => {
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('writes the 101 at the end of the turn, with the frames onOpen sent, as one write', async () => {
    const { socket, binding, actor } = openBinding((actor) => ({
      onOpen() {
        actor.send(Buffer.from('hello'), true);
        actor.send('world', false);
      },
      onMessage() {},
      onClose() {},
    }));
    expect(binding.phase).toBe(BindingPhase.OPEN);
    // Nothing has left yet: the 101 and both frames wait for the end of the turn.
    expect(socket.upgradeWrites).toHaveLength(0);
    expect(socket.writes).toHaveLength(0);
    await turn();
    expect(socket.upgradeWrites).toHaveLength(1);
    expect(socket.writes).toHaveLength(1);
    expect(socket.frames().map((f) => f.payload.toString())).toEqual(['hello', 'world']);
    expect(actor.messagesOut).toBe(2);
  });

  it('writes the 101 at the end of the turn while onOpen awaits, with what it sent after its await, as one write', async () => {
    const socket = new StubSocket();
    const binding = new SocketBinding(socket as unknown as Socket, config, delegate(), 1);
    const actor = new ConnectionActor(binding, { address: '1.1', protocol: null, upgradeData: undefined }, { mailboxSize: 100, mailboxBytes: 1 << 20 });
    binding.accept(Buffer.from(UPGRADE_RESPONSE), actor);
    actor.start({
      async onOpen() {
        actor.send('before', false);
        await Promise.resolve();
        actor.send('after', false);
      },
      onMessage() {},
      onClose() {},
    });
    binding.resumeAfterUpgrade(Buffer.alloc(0));
    expect(socket.upgradeWrites).toHaveLength(0);
    await turn();
    expect(socket.upgradeWrites).toHaveLength(1);
    expect(socket.writes).toHaveLength(1);
    expect(socket.frames().map((f) => f.payload.toString())).toEqual(['before', 'after']);
  });

  it('writes the 101 before the replies to frames pipelined behind the head', () => {
    const socket = new StubSocket();
    const binding = new SocketBinding(socket as unknown as Socket, config, delegate(), 1);
    const actor = new ConnectionActor(binding, { address: '1.1', protocol: null, upgradeData: undefined }, { mailboxSize: 100, mailboxBytes: 1 << 20 });
    binding.accept(Buffer.from(UPGRADE_RESPONSE), actor);
    actor.start({ onOpen() {}, onMessage: (data, isBinary) => actor.send(data, isBinary), onClose() {} });
    binding.resumeAfterUpgrade(clientFrame(Opcode.TEXT, 'pipelined'));
    // The 101 leaves first, on its own, then the echo of the pipelined frame.
    expect(socket.upgradeWrites).toHaveLength(1);
    expect(socket.upgradeWrites[0]?.toString('latin1')).toBe(UPGRADE_RESPONSE);
    expect(socket.frames().map((f) => f.payload.toString())).toEqual(['pipelined']);
  });

  it('writes the 101 before the close frame when the connection closes in the same turn', () => {
    const socket = new StubSocket();
    const binding = new SocketBinding(socket as unknown as Socket, config, delegate(), 1);
    const actor = new ConnectionActor(binding, { address: '1.1', protocol: null, upgradeData: undefined }, { mailboxSize: 100, mailboxBytes: 1 << 20 });
    binding.accept(Buffer.from(UPGRADE_RESPONSE), actor);
    actor.start({ onOpen() {}, onMessage() {}, onClose() {} });
    binding.resumeAfterUpgrade(clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8])));
    expect(socket.upgradeWrites).toHaveLength(1);
    const frames = socket.frames();
    expect(frames.map((f) => f.opcode)).toEqual([Opcode.CLOSE]);
    expect(frames[0]?.payload.readUInt16BE(0)).toBe(1000);
    expect(socket.ended).toBe(true);
  });

  it('answers a read of many frames with one socket write, corked during the read', () => {
    const { socket } = openBinding();
    const read = Buffer.concat(Array.from({ length: 40 }, (_, i) => clientFrame(i % 2 ? Opcode.TEXT : Opcode.BINARY, `message ${i}`)));
    const corksBefore = socket.corks;
    let corkedDuringWrite = false;
    const write = socket.write.bind(socket);
    socket.write = (data: Uint8Array) => {
      corkedDuringWrite = socket.corks > corksBefore;
      return write(data);
    };
    socket.emit('data', read);
    expect(socket.writes).toHaveLength(1);
    expect(corkedDuringWrite).toBe(true);
    expect(socket.corks).toBe(corksBefore);
    const frames = socket.frames();
    expect(frames.map((f) => f.payload.toString())).toEqual(Array.from({ length: 40 }, (_, i) => `message ${i}`));
    expect(frames.map((f) => f.opcode)).toEqual(Array.from({ length: 40 }, (_, i) => (i % 2 ? Opcode.TEXT : Opcode.BINARY)));
  });

  it('writes a large reply as its own buffer, after what was coalesced before it', () => {
    const { socket } = openBinding();
    const big = Buffer.alloc(100_000, 1);
    socket.emit('data', Buffer.concat([clientFrame(Opcode.BINARY, 'small'), clientFrame(Opcode.BINARY, big)]));
    const frames = socket.frames();
    expect(frames.map((f) => f.payload.length)).toEqual([5, 100_000]);
    expect(socket.writes.some((write) => write.length === 100_000)).toBe(true);
  });

  it('echoes every size class, split across reads at every kind of boundary, with minimal headers and exact byte counts', () => {
    // Payload lengths around each header size and the slab's coalescing limit.
    const sizes = [0, 125, 126, 4095, 4096, 4097, 16 * 1024, 0xffff, 0x10000, 70_000];
    const payloads = sizes.map((size, i) => Buffer.alloc(size, i + 1));
    const input = Buffer.concat(payloads.map((payload, i) => clientFrame(i % 2 ? Opcode.TEXT : Opcode.BINARY, payload)));
    const expected = Buffer.concat(payloads.map((payload, i) => encodeFrame(i % 2 ? Opcode.TEXT : Opcode.BINARY, payload)));
    for (const { name, chunks } of chunkings(input, { maxTwoPieceSplits: 64, randomSplits: 8, maxBytewiseLength: 0 })) {
      const { socket, binding } = openBinding();
      for (const chunk of chunks) socket.emit('data', chunk);
      const written = Buffer.concat(socket.writes);
      expect(written.equals(expected), name).toBe(true);
      expect(binding.stats.bytesOut, name).toBe(expected.length);
      // Nothing but slab regions and the large payloads themselves: no header allocated per message.
      for (const write of socket.writes) expect(write.length <= 64 * 1024 || sizes.includes(write.length), name).toBe(true);
    }
  });

  it('holds small sends made outside a read until the end of the event-loop turn, then writes them as one buffer', async () => {
    const { socket, actor } = openBinding();
    const other = openBinding();
    await new Promise((resolve) => setImmediate(resolve));
    const before = socket.writes.length;
    actor.send('a');
    other.actor.send('x');
    actor.send('b');
    await new Promise((resolve) => process.nextTick(resolve));
    expect(socket.writes.length).toBe(before);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.writes.length).toBe(before + 1);
    expect(socket.corks).toBe(0);
    expect(socket.frames().map((f) => f.payload.toString())).toEqual(['a', 'b']);
    expect(other.socket.frames().map((f) => f.payload.toString())).toEqual(['x']);
  });

  it('keeps the order of small and large sends outside a read, corking the large ones until the end of the turn', async () => {
    const { socket, actor } = openBinding();
    await new Promise((resolve) => setImmediate(resolve));
    const large = Buffer.alloc(5000, 7);
    actor.send('a');
    actor.send(large);
    actor.send('b');
    expect(socket.corks).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.corks).toBe(0);
    expect(socket.frames().map((f) => f.payload.length)).toEqual([1, 5000, 1]);
    expect(socket.frames().map((f) => f.payload[0])).toEqual([0x61, 7, 0x62]);
  });

  it('counts frames held for the end of the turn against the send-buffer limit (slow consumer)', async () => {
    const { socket, actor } = openBinding();
    await new Promise((resolve) => setImmediate(resolve));
    const chunk = Buffer.alloc(600, 1);
    actor.send(chunk);
    actor.send(chunk);
    actor.send(chunk);
    await new Promise((resolve) => setImmediate(resolve));
    const frames = socket.frames();
    expect(frames.map((f) => f.opcode)).toEqual([Opcode.BINARY, Opcode.BINARY, Opcode.CLOSE]);
    expect(frames[2]?.payload.readUInt16BE(0)).toBe(1008);
    expect(socket.ended).toBe(true);
  });
});

describe('SocketBinding peer address', () => {
  it("reads the socket's remote address only when asked ('' once it is gone)", () => {
    const { socket, binding } = openBinding();
    let reads = 0;
    let address: string | undefined = '192.0.2.1';
    Object.defineProperty(socket, 'remoteAddress', {
      get: () => {
        reads++;
        return address;
      },
    });
    expect(reads).toBe(0);
    expect(binding.remoteAddress).toBe('192.0.2.1');
    expect(reads).toBe(1);
    address = undefined;
    expect(binding.remoteAddress).toBe('');
  });
});

describe('SocketBinding flow control', () => {
  it('pauses reading while the mailbox is full and resumes when it drains', async () => {
    const gates: (() => void)[] = [];
    const { socket } = openBinding(
      () => ({ onOpen() {}, onMessage: () => new Promise<void>((resolve) => gates.push(resolve)), onClose() {} }),
      2,
    );
    socket.emit('data', Buffer.concat([clientFrame(Opcode.TEXT, '1'), clientFrame(Opcode.TEXT, '2'), clientFrame(Opcode.TEXT, '3')]));
    expect(socket.paused).toBe(true);
    while (gates.length > 0) {
      gates.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(socket.paused).toBe(false);
  });

  it('pauses reading while replies wait for the socket to drain', () => {
    const { socket, binding } = openBinding();
    socket.writableNeedDrain = true;
    socket.writableLength = 100;
    socket.emit('data', clientFrame(Opcode.TEXT, 'x'));
    expect(socket.paused).toBe(true);
    expect(binding.stats.writePauses).toBe(1);
    socket.writableNeedDrain = false;
    socket.writableLength = 0;
    socket.emit('drain');
    expect(socket.paused).toBe(false);
  });

  it('keeps reading when replies over the high-water mark were all written at once (drain pending, nothing queued)', () => {
    const { socket, binding } = openBinding();
    socket.writableNeedDrain = true;
    socket.emit('data', clientFrame(Opcode.TEXT, 'x'));
    expect(socket.paused).toBe(false);
    expect(binding.stats.writePauses).toBe(0);
    socket.writableNeedDrain = false;
    socket.emit('drain');
    expect(socket.paused).toBe(false);
  });

  it('closes a slow consumer with 1008, sends nothing more, and destroys it after the close timeout', () => {
    const { socket, binding, actor } = openBinding();
    socket.writableLength = 5000;
    actor.send('dropped');
    const frames = socket.frames();
    expect(frames).toHaveLength(1);
    expect(frames[0].opcode).toBe(Opcode.CLOSE);
    expect(frames[0].payload.readUInt16BE(0)).toBe(1008);
    expect(frames[0].payload.subarray(2).toString()).toBe('slow consumer: send buffer over 1000 bytes');
    expect(socket.ended).toBe(true);
    expect(binding.stats.slowConsumer).toBe(true);
    actor.send('also dropped');
    expect(socket.frames()).toHaveLength(1);
    binding.sweep(clock.now + config.closeTimeoutMs - 1);
    expect(socket.destroyed).toBe(false);
    binding.sweep(clock.now + config.closeTimeoutMs + 1);
    expect(socket.destroyed).toBe(true);
    expect(binding.stats.closeTimedOut).toBe(true);
  });
});

describe('SocketBinding fan-out frames', () => {
  it('does not count a frame that closes a slow consumer as written (sendFrame false, messagesOut unchanged)', () => {
    const { socket, binding, actor } = openBinding();
    const frame = new Uint8Array([0x82, 1, 7]);
    expect(actor.sendFrame(frame)).toBe(true);
    expect(actor.messagesOut).toBe(1);
    socket.writableLength = 5000;
    expect(actor.sendFrame(frame)).toBe(false);
    expect(actor.messagesOut).toBe(1);
    expect(binding.stats.slowConsumer).toBe(true);
    expect(actor.sendFrame(frame)).toBe(false);
  });
  it('counts the frames the pub/sub writes straight to it (frameWriter) in the actor\'s messagesOut, the final stats and bytesOut', () => {
    const { socket, binding, actor } = openBinding();
    const writer = actor.frameWriter;
    expect(writer).toBe(binding);
    const bytesBefore = binding.stats.bytesOut;
    const frame = new Uint8Array([0x82, 1, 7]);
    expect(writer.sendFrame(frame)).toBe(true);
    expect(writer.sendFrames(new Uint8Array([0x82, 1, 8, 0x82, 1, 9]), 2)).toBe(true);
    actor.send('x');
    expect(actor.messagesOut).toBe(4);
    expect(binding.stats.bytesOut - bytesBefore).toBe(3 + 6 + 3);
    socket.emit('close');
    expect(writer.sendFrame(frame)).toBe(false);
    expect(binding.stats).toMatchObject({ messagesOut: 4, bytesOut: bytesBefore + 12 });
  });
});

describe('SocketBinding isolation', () => {
  it('fails only its own connection (1011) when something below the handlers throws during a read', () => {
    const { socket, binding } = openBinding();
    const errors = captureLogs();
    (binding.connection as unknown as { receiveData: () => void }).receiveData = () => {
      throw new Error('decoder bug');
    };
    expect(() => socket.emit('data', clientFrame(Opcode.TEXT, 'x'))).not.toThrow();
    const close = socket.frames().at(-1);
    expect(close?.opcode).toBe(Opcode.CLOSE);
    expect(close?.payload.readUInt16BE(0)).toBe(1011);
    expect(socket.ended).toBe(true);
    expect(errors.lines).toHaveLength(1);
    errors.restore();
  });
});

describe('SocketBinding deadlines', () => {
  it('pings after the ping interval of silence, then closes with 1001 at the idle timeout', async () => {
    const { socket, binding } = openBinding();
    const start = binding.lastReadAt;
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    binding.sweep(start + config.pingIntervalMs - 1);
    await turn();
    expect(socket.frames()).toHaveLength(0);
    binding.sweep(start + config.pingIntervalMs);
    await turn();
    expect(socket.frames().map((f) => f.opcode)).toEqual([Opcode.PING]);
    binding.sweep(start + config.pingIntervalMs + 10);
    await turn();
    expect(socket.frames()).toHaveLength(1);
    binding.sweep(start + config.idleTimeoutMs);
    await turn();
    const close = socket.frames().at(-1);
    expect(close?.opcode).toBe(Opcode.CLOSE);
    expect(close?.payload.readUInt16BE(0)).toBe(1001);
    expect(close?.payload.subarray(2).toString()).toBe(IDLE_TIMEOUT_REASON);
  });

  it('reports a handshake that does not finish in time', () => {
    const socket = new StubSocket();
    const events = delegate();
    const binding = new SocketBinding(socket as unknown as Socket, config, events, 1);
    binding.sweep(binding.startedAt + config.handshakeTimeoutMs - 1);
    expect(events.timedOut).toBe(0);
    binding.sweep(binding.startedAt + config.handshakeTimeoutMs);
    expect(events.timedOut).toBe(1);
  });

  it('hands the final stats to the delegate once when the socket closes, with 1006 for a dropped connection', () => {
    const { socket, binding } = openBinding();
    socket.emit('data', clientFrame(Opcode.TEXT, 'hello'));
    socket.emit('close');
    socket.emit('close');
    expect(binding.phase).toBe(BindingPhase.DONE);
    expect(binding.stats).toMatchObject({ closeCode: 1006, messagesIn: 1, messagesOut: 1, handshakeStatus: 101 });
  });
});
