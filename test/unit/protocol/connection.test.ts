import { describe, expect, it } from 'vitest';
import { ConnectionState, ServerConnection, type ConnectionHandler } from '../../../src/protocol/connection.ts';
import { encodeClose, encodeFrame, encodePing, encodePong } from '../../../src/protocol/frame-encoder.ts';
import { chunkings } from '../../helpers/chunkings.ts';

const KEY = Uint8Array.of(0x11, 0x22, 0x33, 0x44);
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Client frames (masked), as a peer would send them. */
const client = {
  text: (s: string, fin = true) => encodeFrame(0x1, Buffer.from(s), { mask: KEY, fin }),
  binary: (b: Buffer) => encodeFrame(0x2, b, { mask: KEY }),
  continuation: (s: string, fin = true) => encodeFrame(0x0, Buffer.from(s), { mask: KEY, fin }),
  ping: (s = '') => encodePing(Buffer.from(s), KEY),
  pong: (s = '') => encodePong(Buffer.from(s), KEY),
  close: (code?: number, reason?: string) => encodeClose(code, reason, KEY),
  closeRaw: (payload: Buffer) => encodeFrame(0x8, payload, { mask: KEY }),
};

/** Records every callback in order; written bytes as hex so frames can be compared. */
class Recorder implements ConnectionHandler {
  readonly log: string[] = [];
  readonly writes: Uint8Array[] = [];
  onMessage(data: Buffer, isBinary: boolean): void {
    this.log.push(`message ${isBinary ? 'binary' : 'text'} ${data.toString()}`);
  }
  onPing(data: Buffer): void {
    this.log.push(`ping ${data.toString()}`);
  }
  onPong(data: Buffer): void {
    this.log.push(`pong ${data.toString()}`);
  }
  onWrite(data: Uint8Array): void {
    this.writes.push(data);
    this.log.push(`write ${Buffer.from(data).toString('hex')}`);
  }
  onClose(code: number, reason: string, wasClean: boolean): void {
    this.log.push(`close ${code} "${reason}" ${wasClean ? 'clean' : 'not clean'}`);
  }
}

const written = (frame: Buffer) => `write ${frame.toString('hex')}`;

function open(maxMessageBytes = 1024 * 1024): { connection: ServerConnection; recorder: Recorder } {
  const recorder = new Recorder();
  return { connection: new ServerConnection(recorder, { maxMessageBytes }), recorder };
}

/** Runs `input` through a fresh connection at every chunking; all must give the same log. */
function expectLog(input: Buffer, expected: string[], maxMessageBytes?: number): ServerConnection {
  let last: ServerConnection | undefined;
  for (const { name, chunks } of chunkings(input)) {
    const { connection, recorder } = open(maxMessageBytes);
    for (const chunk of chunks) connection.receiveData(chunk);
    expect(recorder.log, name).toEqual(expected);
    last = connection;
  }
  return last!;
}

describe('data messages (RFC 6455 §6.2)', () => {
  it('delivers text and binary messages in order', () => {
    expectLog(Buffer.concat([client.text('one'), client.binary(Buffer.from('two')), client.text('thr', false), client.continuation('ee')]), [
      'message text one',
      'message binary two',
      'message text three',
    ]);
  });

  it('starts OPEN', () => {
    const { connection } = open();
    expect(connection.state).toBe(ConnectionState.OPEN);
    expect(connection.closeSent).toBe(false);
    expect(connection.closeReceived).toBe(false);
  });
});

describe('ping and pong (RFC 6455 §5.5.2, §5.5.3)', () => {
  it('answers a ping with a pong carrying the same payload, written before onPing', () => {
    expectLog(client.ping('are you there'), [written(encodePong(Buffer.from('are you there'))), 'ping are you there']);
  });

  it('answers a ping that arrives between the fragments of a message', () => {
    expectLog(Buffer.concat([client.text('frag', false), client.ping('p'), client.continuation('ment')]), [
      written(encodePong(Buffer.from('p'))),
      'ping p',
      'message text fragment',
    ]);
  });

  it('reports a pong without answering it', () => {
    expectLog(client.pong('beat'), ['pong beat']);
  });

  it('sends a ping on request, only while OPEN', () => {
    const { connection, recorder } = open();
    connection.ping(Buffer.from('hi'));
    connection.startClosingHandshake();
    connection.ping(Buffer.from('ignored'));
    expect(recorder.log).toEqual([written(encodePing(Buffer.from('hi'))), written(encodeClose(1000))]);
  });
});

describe('the closing handshake started by the peer (RFC 6455 §5.5.1, §7.1.5)', () => {
  it('echoes the close code, then reports a clean close with the peer’s code and reason', () => {
    const connection = expectLog(client.close(1001, 'going'), [written(encodeClose(1001)), 'close 1001 "going" clean']);
    expect(connection.state).toBe(ConnectionState.CLOSED);
    expect(connection.closeSent).toBe(true);
    expect(connection.closeReceived).toBe(true);
  });

  it('answers a close without a code with 1000 and reports 1005 (no status received)', () => {
    expectLog(client.close(), [written(encodeClose(1000)), 'close 1005 "" clean']);
  });

  it('ignores everything after the peer’s close frame', () => {
    expectLog(Buffer.concat([client.text('before'), client.close(1000), client.text('after'), client.ping('x'), hex('ff ff')]), [
      'message text before',
      written(encodeClose(1000)),
      'close 1000 "" clean',
    ]);
  });
});

describe('the closing handshake started by the server (RFC 6455 §7.1.2)', () => {
  it('sends close (1000 by default), moves to CLOSING, and reports a clean close when the peer answers', () => {
    const { connection, recorder } = open();
    connection.startClosingHandshake();
    expect(connection.state).toBe(ConnectionState.CLOSING);
    expect(connection.closeSent).toBe(true);
    connection.receiveData(client.close(1000, 'ok'));
    expect(recorder.log).toEqual([written(encodeClose(1000)), 'close 1000 "ok" clean']);
    expect(connection.state).toBe(ConnectionState.CLOSED);
  });

  it('sends the given code and reason', () => {
    const { connection, recorder } = open();
    connection.startClosingHandshake(4001, 'session expired');
    expect(recorder.log).toEqual([written(encodeClose(4001, 'session expired'))]);
  });

  it('discards data messages while CLOSING but still answers pings (§5.5.1)', () => {
    const { connection, recorder } = open();
    connection.startClosingHandshake(1001);
    connection.receiveData(Buffer.concat([client.text('late'), client.ping('p'), client.pong('q'), client.close(1001)]));
    expect(recorder.log).toEqual([
      written(encodeClose(1001)),
      written(encodePong(Buffer.from('p'))),
      'ping p',
      'pong q',
      'close 1001 "" clean',
    ]);
  });

  it('sends nothing once CLOSING: send, sendFrame and a second close are ignored', () => {
    const { connection, recorder } = open();
    connection.startClosingHandshake();
    connection.send('x', false);
    connection.sendFrame(Buffer.of(0x81, 0x00));
    connection.startClosingHandshake(1001);
    expect(recorder.log).toEqual([written(encodeClose(1000))]);
  });

  it('throws for a close code that may not be sent, and stays OPEN', () => {
    const { connection, recorder } = open();
    expect(() => connection.startClosingHandshake(1005)).toThrow(RangeError);
    expect(connection.state).toBe(ConnectionState.OPEN);
    expect(recorder.log).toEqual([]);
  });
});

describe('failing the connection (RFC 6455 §7.1.7)', () => {
  const cases: [string, Buffer, number, number?][] = [
    ['an unmasked frame', hex('81 02 6869'), 1002],
    ['a reserved opcode', encodeFrame(0x3, Buffer.alloc(0), { mask: KEY }), 1002],
    ['invalid UTF-8 in a text message', encodeFrame(0x1, hex('c0 af'), { mask: KEY }), 1007],
    ['a message over the limit', client.binary(Buffer.alloc(11)), 1009, 10],
    ['a close frame with a 1-byte payload', client.closeRaw(hex('03')), 1002],
    ['a close frame with code 1005', client.closeRaw(hex('03ed')), 1002],
    ['a close frame with code 2999', client.closeRaw(hex('0bb7')), 1002],
    ['a close reason that is not UTF-8', client.closeRaw(hex('03e8 ff')), 1007],
  ];
  for (const [name, input, code, limit] of cases) {
    it(`sends close ${code} and reports an unclean close on ${name}`, () => {
      const { connection, recorder } = open(limit);
      connection.receiveData(Buffer.concat([input, client.text('ignored')]));
      expect(recorder.log).toHaveLength(2);
      const frame = Buffer.from(recorder.writes[0]!);
      expect(frame.subarray(0, 1)).toEqual(hex('88'));
      expect(frame.readUInt16BE(2)).toBe(code);
      const reason = frame.subarray(4).toString();
      expect(reason.length).toBeGreaterThan(0);
      expect(recorder.log[1]).toBe(`close ${code} "${reason}" not clean`);
      expect(connection.state).toBe(ConnectionState.CLOSED);
      connection.receiveData(client.ping());
      expect(recorder.log).toHaveLength(2);
    });
  }

  it('gives the reason of the decoder error in the close frame', () => {
    const { connection, recorder } = open();
    connection.receiveData(hex('81 02 6869'));
    expect(recorder.log).toEqual([written(encodeClose(1002, 'unmasked client frame')), 'close 1002 "unmasked client frame" not clean']);
  });

  it('does not send a second close frame when one was already sent', () => {
    const { connection, recorder } = open();
    connection.startClosingHandshake(1000);
    connection.failConnection(1008, 'timeout');
    expect(recorder.log).toEqual([written(encodeClose(1000)), 'close 1008 "timeout" not clean']);
  });

  it('sends no close frame for a code that may not be sent (1006), but still closes', () => {
    const { connection, recorder } = open();
    connection.failConnection(1006, 'connection lost');
    expect(recorder.log).toEqual(['close 1006 "connection lost" not clean']);
    expect(connection.state).toBe(ConnectionState.CLOSED);
  });

  it('reports the close once: a second failConnection is ignored', () => {
    const { connection, recorder } = open();
    connection.failConnection(1011, 'handler threw');
    connection.failConnection(1002, 'again');
    expect(recorder.log.filter((line) => line.startsWith('close'))).toEqual(['close 1011 "handler threw" not clean']);
  });

  it('stops processing the rest of a chunk when the handler fails the connection from onMessage', () => {
    class FailingRecorder extends Recorder {
      connection: ServerConnection | undefined;
      override onMessage(data: Buffer, isBinary: boolean): void {
        super.onMessage(data, isBinary);
        this.connection!.failConnection(1007, 'not msgpack');
      }
    }
    const recorder = new FailingRecorder();
    const connection = new ServerConnection(recorder, { maxMessageBytes: 1024 });
    recorder.connection = connection;
    connection.receiveData(Buffer.concat([client.binary(Buffer.from('first')), client.text('second')]));
    expect(recorder.log).toEqual(['message binary first', written(encodeClose(1007, 'not msgpack')), 'close 1007 "not msgpack" not clean']);
  });
});

describe('sending (RFC 6455 §6.1)', () => {
  it('frames strings as text and bytes as binary, unmasked', () => {
    const { connection, recorder } = open();
    connection.send('héllo', false);
    connection.send(Buffer.of(1, 2, 3), true);
    expect(recorder.log).toEqual([written(encodeFrame(0x1, Buffer.from('héllo'))), written(encodeFrame(0x2, Buffer.of(1, 2, 3)))]);
  });

  it('writes a large payload as header and the payload itself, without copying it', () => {
    const { connection, recorder } = open();
    const payload = Buffer.alloc(100_000, 7);
    connection.send(payload, true);
    expect(recorder.writes).toHaveLength(2);
    expect(Buffer.from(recorder.writes[0]!)).toEqual(hex('82 7f 00000000000186a0'));
    expect(recorder.writes[1]).toBe(payload);
  });

  it('writes pre-framed bytes as they are', () => {
    const { connection, recorder } = open();
    const frame = encodeFrame(0x2, Buffer.from('shared'));
    connection.sendFrame(frame);
    expect(recorder.writes).toEqual([frame]);
  });

  it('sends nothing once CLOSED', () => {
    const { connection, recorder } = open();
    connection.receiveData(client.close(1000));
    const before = recorder.log.length;
    connection.send('late', false);
    connection.sendFrame(Buffer.of(0x81, 0x00));
    connection.ping();
    connection.startClosingHandshake();
    connection.failConnection(1002, 'late');
    expect(recorder.log).toHaveLength(before);
  });
});
