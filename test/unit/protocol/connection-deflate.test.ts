import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConnectionState, ServerConnection, type ConnectionHandler } from '../../../src/protocol/connection.ts';
import { encodeClose, encodeFrame, encodePing, encodePong } from '../../../src/protocol/frame-encoder.ts';
import type { DeflateAgreement } from '../../../src/protocol/permessage-deflate-negotiation.ts';
import { PerMessageDeflate } from '../../../src/protocol/permessage-deflate.ts';
import { chunkings } from '../../helpers/chunkings.ts';

const KEY = Uint8Array.of(0x11, 0x22, 0x33, 0x44);
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const LIMIT = 1024 * 1024;

function agreement(overrides: Partial<DeflateAgreement> = {}): DeflateAgreement {
  return { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15, ...overrides };
}

/** The server's and a client's codec for the same agreement; the server compresses from `thresholdBytes`. */
function codecs(overrides: Partial<DeflateAgreement> = {}, thresholdBytes = 64): { server: PerMessageDeflate; client: PerMessageDeflate } {
  const agreed = agreement(overrides);
  return {
    server: new PerMessageDeflate(agreed, { level: 1, memLevel: 8, thresholdBytes }, 'server'),
    client: new PerMessageDeflate(agreed, { level: 6, memLevel: 8, thresholdBytes: 0 }, 'client'),
  };
}

/** Chat-like text: compressible, and much alike from one message to the next. */
const chat = (i: number, repeat = 4) =>
  Buffer.from(JSON.stringify({ room: 'general', user: `user-${i % 3}`, text: `hello number ${i} `.repeat(repeat) }));

/** Masked client frames; `rsv1` marks the first frame of a compressed message. */
const client = {
  data: (opcode: number, payload: Uint8Array, options: { fin?: boolean; rsv1?: boolean } = {}) =>
    encodeFrame(opcode, payload, { mask: KEY, fin: options.fin ?? true, rsv1: options.rsv1 ?? false }),
  compressed: (codec: PerMessageDeflate, opcode: number, data: Uint8Array) => encodeFrame(opcode, codec.compress(data), { mask: KEY, rsv1: true }),
  ping: (s = '') => encodePing(Buffer.from(s), KEY),
  close: (code?: number) => encodeClose(code, undefined, KEY),
};

/** Records callbacks in order; writes kept as bytes. */
class Recorder implements ConnectionHandler {
  readonly log: string[] = [];
  readonly writes: Buffer[] = [];
  readonly messages: { data: Buffer; isBinary: boolean }[] = [];
  onMessage(data: Buffer, isBinary: boolean): void {
    this.messages.push({ data: Buffer.from(data), isBinary });
    this.log.push(`message ${isBinary ? 'binary' : 'text'} ${data.length} bytes`);
  }
  onPing(data: Buffer): void {
    this.log.push(`ping ${data.toString()}`);
  }
  onPong(data: Buffer): void {
    this.log.push(`pong ${data.toString()}`);
  }
  onWrite(data: Uint8Array): void {
    this.writes.push(Buffer.from(data));
    this.log.push(`write ${Buffer.from(data).toString('hex')}`);
  }
  onClose(code: number, reason: string, wasClean: boolean): void {
    this.log.push(`close ${code} "${reason}" ${wasClean ? 'clean' : 'not clean'}`);
  }
}

const written = (frame: Buffer) => `write ${frame.toString('hex')}`;

function open(deflate: PerMessageDeflate | null | undefined, maxMessageBytes = LIMIT): { connection: ServerConnection; recorder: Recorder } {
  const recorder = new Recorder();
  return { connection: new ServerConnection(recorder, { maxMessageBytes, deflate }), recorder };
}

/**
 * Feeds `input` at every chunking to a fresh connection (a fresh codec pair
 * from `make`, since codecs with context takeover carry state) and checks
 * that each gives the same log and the messages `expected`.
 */
function expectReceived(
  make: () => { server: PerMessageDeflate; input: Buffer },
  expected: { data: Buffer; isBinary: boolean }[],
  log?: string[],
): void {
  const { input } = make();
  for (const { name, chunks } of chunkings(input, { maxTwoPieceSplits: 48, randomSplits: 4 })) {
    const { server } = make();
    const { connection, recorder } = open(server);
    for (const chunk of chunks) connection.receiveData(chunk);
    expect(recorder.messages.length, name).toBe(expected.length);
    recorder.messages.forEach((m, i) => {
      expect(m.isBinary, `${name}: message ${i}`).toBe(expected[i]!.isBinary);
      expect(m.data.equals(expected[i]!.data), `${name}: message ${i}`).toBe(true);
    });
    if (log !== undefined) expect(recorder.log, name).toEqual(log);
    expect(connection.state, name).toBe(ConnectionState.OPEN);
  }
}

/** Counts the codec's calls; can be told to fail like a bug (not bad input) would. */
class CountingDeflate extends PerMessageDeflate {
  compressCalls = 0;
  decompressCalls = 0;
  failWith: Error | null = null;
  override compress(data: Uint8Array): Buffer {
    this.compressCalls++;
    return super.compress(data);
  }
  override decompress(data: Uint8Array, maxBytes: number): Buffer {
    this.decompressCalls++;
    if (this.failWith !== null) throw this.failWith;
    return super.decompress(data, maxBytes);
  }
}

describe('receiving compressed messages (RFC 7692 §6, §7.2.2)', () => {
  it('delivers compressed text and binary inflated, beside uncompressed messages, at every chunking', () => {
    const messages = [
      { data: chat(1), isBinary: false },
      { data: Buffer.from('not compressed'), isBinary: false },
      { data: Buffer.concat([chat(2), hex('00ff80')]), isBinary: true },
    ];
    expectReceived(() => {
      const { server, client: peer } = codecs();
      const input = Buffer.concat([
        client.compressed(peer, 0x1, messages[0]!.data),
        client.data(0x1, messages[1]!.data),
        client.compressed(peer, 0x2, messages[2]!.data),
      ]);
      return { server, input };
    }, messages);
  });

  it('delivers the RFC 7692 §7.2.3.1 example, whole and in two fragments', () => {
    const hello = { data: Buffer.from('Hello'), isBinary: false };
    const { server } = codecs();
    const input = Buffer.concat([
      client.data(0x1, hex('f2 48 cd c9 c9 07 00'), { rsv1: true }),
      client.data(0x1, hex('f2 48 cd'), { fin: false, rsv1: true }),
      client.data(0x0, hex('c9 c9 07 00')),
    ]);
    expectReceived(() => ({ server: codecs().server, input }), [hello, hello]);
    expect(server.retainedBytes).toBe(0);
  });

  it('inflates a fragmented compressed message, answering a ping between its fragments first', () => {
    const data = chat(3, 20);
    const make = () => {
      const { server, client: peer } = codecs();
      const payload = peer.compress(data);
      const input = Buffer.concat([
        client.data(0x1, payload.subarray(0, 5), { fin: false, rsv1: true }),
        client.ping('p'),
        client.data(0x0, payload.subarray(5, 6), { fin: false }),
        client.data(0x0, payload.subarray(6)),
      ]);
      return { server, input };
    };
    expectReceived(make, [{ data, isBinary: false }], [written(encodePong(Buffer.from('p'))), 'ping p', `message text ${data.length} bytes`]);
  });

  it('takes over the client’s context across messages when agreed (§7.2.2, §7.2.3.2)', () => {
    const messages = [0, 1, 2, 3].map((i) => ({ data: chat(i), isBinary: false }));
    const make = () => {
      const { server, client: peer } = codecs();
      return { server, input: Buffer.concat(messages.map((m) => client.compressed(peer, 0x1, m.data))) };
    };
    expectReceived(make, messages);
    const { server, input } = make();
    const { connection } = open(server);
    connection.receiveData(input);
    expect(server.retainedBytes).toBe(32 * 1024);
  });

  it('keeps no inflate window when the client agreed to client_no_context_takeover', () => {
    const { server, client: peer } = codecs({ clientNoContextTakeover: true, serverNoContextTakeover: true });
    const { connection, recorder } = open(server);
    connection.receiveData(Buffer.concat([client.compressed(peer, 0x1, chat(1)), client.compressed(peer, 0x1, chat(1))]));
    expect(recorder.messages.map((m) => m.data.toString())).toEqual([chat(1).toString(), chat(1).toString()]);
    expect(server.retainedBytes).toBe(0);
  });

  it('neither inflates nor delivers compressed messages once a close was sent (§5.5.1)', () => {
    const { client: peer } = codecs();
    const server = new CountingDeflate(agreement(), { level: 1, memLevel: 8, thresholdBytes: 64 });
    const { connection, recorder } = open(server);
    connection.startClosingHandshake(1001);
    connection.receiveData(Buffer.concat([client.compressed(peer, 0x1, chat(1)), client.close(1001)]));
    expect(server.decompressCalls).toBe(0);
    expect(recorder.log).toEqual([written(encodeClose(1001)), 'close 1001 "" clean']);
  });
});

describe('failing compressed input (RFC 6455 §7.1.7, RFC 7692 §6)', () => {
  /** `input` at every chunking, each on a fresh connection with a fresh codec from `make`, fails with `code` and `reason`. */
  const expectFailure = (make: () => PerMessageDeflate | null | undefined, input: Buffer, code: number, reason: string, maxMessageBytes = LIMIT) => {
    for (const { name, chunks } of chunkings(input, { maxTwoPieceSplits: 24, randomSplits: 2 })) {
      const { connection, recorder } = open(make(), maxMessageBytes);
      for (const chunk of chunks) connection.receiveData(chunk);
      connection.receiveData(client.data(0x1, Buffer.from('after the failure')));
      expect(recorder.log.filter((line) => !line.startsWith('message')), name).toEqual([written(encodeClose(code, reason)), `close ${code} "${reason}" not clean`]);
      expect(connection.state, name).toBe(ConnectionState.CLOSED);
    }
  };
  const hello = hex('f2 48 cd c9 c9 07 00');

  it('fails with 1002 on RSV1 when permessage-deflate was not agreed (deflate absent or null)', () => {
    expectFailure(() => undefined, client.data(0x1, hello, { rsv1: true }), 1002, 'RSV1 must be clear');
    expectFailure(() => null, client.data(0x1, hello, { rsv1: true }), 1002, 'RSV1 must be clear');
  });

  it('fails with 1002 on RSV1 on a continuation frame or a ping', () => {
    const server = () => codecs().server;
    expectFailure(server, Buffer.concat([client.data(0x1, hello.subarray(0, 2), { fin: false, rsv1: true }), client.data(0x0, hello.subarray(2), { rsv1: true })]), 1002, 'RSV1 must be clear');
    expectFailure(server, encodeFrame(0x9, Buffer.from('p'), { mask: KEY, rsv1: true }), 1002, 'RSV1 must be clear');
  });

  it('fails with 1007 when compressed text is not UTF-8 once inflated', () => {
    const { client: peer } = codecs();
    expectFailure(() => codecs().server, client.compressed(peer, 0x1, hex('48 65 c0 af')), 1007, 'invalid UTF-8 in text message');
  });

  it('fails with 1007 on data that is not DEFLATE', () => {
    expectFailure(() => codecs().server, client.data(0x1, hex('07'), { rsv1: true }), 1007, 'invalid compressed data (Z_DATA_ERROR)');
  });

  it('fails with 1009 when the message inflates past maxMessageBytes, though its compressed form fits', () => {
    const { client: peer } = codecs();
    const input = client.compressed(peer, 0x2, Buffer.alloc(10_001));
    expect(input.length).toBeLessThan(1000);
    expectFailure(() => codecs().server, input, 1009, 'decompressed message too big', 10_000);
  });

  it('delivers the messages before a failure and nothing after it', () => {
    const { server, client: peer } = codecs();
    const { connection, recorder } = open(server);
    connection.receiveData(Buffer.concat([client.compressed(peer, 0x1, chat(1)), client.data(0x1, hex('07'), { rsv1: true }), client.compressed(peer, 0x1, chat(2))]));
    expect(recorder.messages.map((m) => m.data.toString())).toEqual([chat(1).toString()]);
    expect(recorder.log.at(-1)).toBe('close 1007 "invalid compressed data (Z_DATA_ERROR)" not clean');
  });

  it('stops at once when the handler fails the connection from onMessage of a compressed message', () => {
    const { client: peer } = codecs();
    const server = new CountingDeflate(agreement(), { level: 1, memLevel: 8, thresholdBytes: 64 });
    class FailingRecorder extends Recorder {
      connection: ServerConnection | undefined;
      override onMessage(data: Buffer, isBinary: boolean): void {
        super.onMessage(data, isBinary);
        this.connection!.failConnection(1003, 'unsupported');
      }
    }
    const recorder = new FailingRecorder();
    const connection = new ServerConnection(recorder, { maxMessageBytes: LIMIT, deflate: server });
    recorder.connection = connection;
    connection.receiveData(Buffer.concat([client.compressed(peer, 0x1, chat(1)), client.compressed(peer, 0x1, chat(2))]));
    expect(server.decompressCalls).toBe(1);
    expect(recorder.log).toEqual([`message text ${chat(1).length} bytes`, written(encodeClose(1003, 'unsupported')), 'close 1003 "unsupported" not clean']);
  });

  it('lets an error that is not a ProtocolError (a bug, not bad input) propagate to the caller', () => {
    const { client: peer } = codecs();
    const server = new CountingDeflate(agreement(), { level: 1, memLevel: 8, thresholdBytes: 64 });
    server.failWith = new TypeError('bug');
    const { connection, recorder } = open(server);
    expect(() => connection.receiveData(client.compressed(peer, 0x1, chat(1)))).toThrow(TypeError);
    expect(recorder.log).toEqual([]);
    connection.failConnection(1011, 'internal error');
    expect(recorder.log.at(-1)).toBe('close 1011 "internal error" not clean');
  });
});

describe('sending with permessage-deflate (RFC 7692 §6, §7.2.1)', () => {
  it('sends messages under the threshold exactly as without the extension', () => {
    const { server } = codecs({}, 64);
    const { connection, recorder } = open(server);
    connection.send('x'.repeat(63), false);
    connection.send(Buffer.alloc(63, 1), true);
    expect(recorder.writes).toEqual([encodeFrame(0x1, Buffer.from('x'.repeat(63))), encodeFrame(0x2, Buffer.alloc(63, 1))]);
  });

  it('compresses text and binary from the threshold up, with RSV1 set, and the peer inflates them', () => {
    const { server, client: peer } = codecs({ serverNoContextTakeover: true }, 64);
    const { connection, recorder } = open(server);
    const text = 'y'.repeat(64);
    const bytes = Buffer.concat([chat(5), hex('00ff')]);
    connection.send(text, false);
    connection.send(bytes, true);
    expect(recorder.writes).toHaveLength(2);
    const [first, second] = recorder.writes as [Buffer, Buffer];
    expect(first[0]).toBe(0xc1);
    expect(second[0]).toBe(0xc2);
    expect(first.length).toBeLessThan(2 + text.length);
    expect(peer.decompress(first.subarray(2), LIMIT).toString()).toBe(text);
    expect(peer.decompress(second.subarray(2 + (second[1] === 126 ? 2 : 0)), LIMIT)).toEqual(bytes);
  });

  it('writes a large compressed payload as a header with RSV1 and the payload, and still sends it compressed when it grew', () => {
    const { server, client: peer } = codecs({ serverNoContextTakeover: true }, 64);
    const { connection, recorder } = open(server);
    const noise = randomBytes(8 * 1024);
    connection.send(noise, true);
    expect(recorder.writes).toHaveLength(2);
    const [header, payload] = recorder.writes as [Buffer, Buffer];
    expect(header.subarray(0, 2)).toEqual(hex('c2 7e'));
    expect(header.readUInt16BE(2)).toBe(payload.length);
    expect(payload.length).toBeGreaterThan(noise.length);
    expect(peer.decompress(payload, LIMIT)).toEqual(noise);
  });

  it('takes over its context when agreed: repeats shrink, and the peer inflates them in order', () => {
    const { server, client: peer } = codecs({}, 64);
    const { connection, recorder } = open(server);
    for (let i = 0; i < 3; i++) connection.send(chat(7, 10), false);
    const sizes = recorder.writes.map((w) => w.length);
    expect(sizes[1]!).toBeLessThan(sizes[0]! / 4);
    for (const frame of recorder.writes) {
      expect(frame[0]).toBe(0xc1);
      expect(peer.decompress(frame.subarray(frame[1] === 126 ? 4 : 2), LIMIT)).toEqual(chat(7, 10));
    }
  });

  it('never compresses control frames: pong replies, pings and closes are as without the extension', () => {
    const { server } = codecs({}, 0);
    const { connection, recorder } = open(server);
    connection.receiveData(client.ping('a ping payload that is long enough'));
    connection.ping(Buffer.from('server ping'));
    connection.startClosingHandshake(1000, 'bye');
    expect(recorder.writes).toEqual([encodePong(Buffer.from('a ping payload that is long enough')), encodePing(Buffer.from('server ping')), encodeClose(1000, 'bye')]);
  });

  it('writes pre-framed bytes as they are (publications framed once go out uncompressed)', () => {
    const { server } = codecs({}, 0);
    const { connection, recorder } = open(server);
    const frame = encodeFrame(0x2, Buffer.alloc(4096, 3));
    connection.sendFrame(frame);
    expect(recorder.writes).toEqual([frame]);
  });

  it('compresses nothing once the connection is not OPEN', () => {
    const server = new CountingDeflate(agreement(), { level: 1, memLevel: 8, thresholdBytes: 0 });
    const { connection, recorder } = open(server);
    connection.startClosingHandshake();
    connection.send(chat(1), false);
    expect(server.compressCalls).toBe(0);
    expect(recorder.writes).toEqual([encodeClose(1000)]);
  });
});
