/**
 * Runs the permessage-deflate conformance table in memory against
 * ServerConnection with a PerMessageDeflate from the real negotiation, an
 * echo handler, and each case at several chunkings of its input (whole,
 * 1-byte pieces, two-piece splits, random splits; fewer splits from 4 KiB;
 * inputs over 64 KiB as 64 KiB reads and one random split).
 */
import { constants as zlib, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ConnectionState, ServerConnection } from '../../src/protocol/connection.ts';
import { parseExtensions } from '../../src/protocol/extensions.ts';
import { negotiatePerMessageDeflate, resolvePerMessageDeflateOptions } from '../../src/protocol/permessage-deflate-negotiation.ts';
import { PerMessageDeflate } from '../../src/protocol/permessage-deflate.ts';
import { chunkings, splitAt, type Chunking } from '../helpers/chunkings.ts';
import {
  DEFLATE_CASES,
  DEFLATE_CONFORMANCE_SERVER,
  deflateOutcomeMismatches,
  readDeflateResponse,
  readServerMessages,
  type DeflateCase,
  type DeflateOutcome,
} from './deflate-cases.ts';
import { parseServerFrames, type CaseMessage, type ServerFrame } from './frame-cases.ts';

const SMALL = 4 * 1024;
const LARGE = 64 * 1024;
const POLICY = resolvePerMessageDeflateOptions(DEFLATE_CONFORMANCE_SERVER.perMessageDeflate);

function chunkingsFor(input: Buffer): Chunking[] {
  // Every chunking inflates every message again: longer inputs get fewer
  // two-piece splits (the frame table already covers the decoder's splits).
  if (input.length <= SMALL) return chunkings(input, { maxTwoPieceSplits: 32, randomSplits: 4 });
  if (input.length <= LARGE) return chunkings(input, { maxTwoPieceSplits: 8, randomSplits: 2 });
  const reads: number[] = [];
  for (let at = LARGE; at < input.length; at += LARGE) reads.push(at);
  return [
    { name: 'whole', chunks: [Buffer.from(input)] },
    { name: '64 KiB reads', chunks: splitAt(input, reads) },
    ...chunkings(input, { maxTwoPieceSplits: 0, randomSplits: 1, maxBytewiseLength: 0 }).slice(1),
  ];
}

const sameMessages = (a: readonly CaseMessage[], b: readonly CaseMessage[]) =>
  a.length === b.length && a.every((m, i) => m.isBinary === b[i]!.isBinary && m.data.equals(b[i]!.data));

/** An echo server connection negotiated from the case's offer; returns what a peer observes, and the raw frames. */
function run(testCase: DeflateCase, chunks: Buffer[]): { outcome: DeflateOutcome; frames: ServerFrame[] } {
  const negotiated = testCase.offer === null ? null : negotiatePerMessageDeflate(parseExtensions([testCase.offer]), POLICY);
  expect(negotiated?.response ?? null, 'the Sec-WebSocket-Extensions response').toBe(testCase.response);
  const deflate = negotiated === null ? null : new PerMessageDeflate(negotiated.agreement, POLICY);
  const received: CaseMessage[] = [];
  const written: Buffer[] = [];
  let closes = 0;
  const connection: ServerConnection = new ServerConnection(
    {
      onMessage: (data, isBinary) => {
        received.push({ isBinary, data: Buffer.from(data) });
        connection.send(data, isBinary);
      },
      onPing() {},
      onPong() {},
      onWrite: (data) => written.push(Buffer.from(data)),
      onClose: () => closes++,
    },
    { maxMessageBytes: testCase.maxMessageBytes ?? DEFLATE_CONFORMANCE_SERVER.maxMessageBytes, deflate },
  );
  for (const chunk of chunks) connection.receiveData(chunk);
  const { frames, rest } = parseServerFrames(Buffer.concat(written));
  expect(rest.length, 'server output ends inside a frame').toBe(0);
  expect(frames.every((f) => !f.masked), 'server frames are unmasked').toBe(true);
  expect(closes, 'onClose fires once when the connection closes').toBe(connection.state === ConnectionState.CLOSED ? 1 : 0);
  const outcome = { ...readServerMessages(frames, testCase.response), open: connection.state === ConnectionState.OPEN };
  // The echoes, inflated by an independent reader, are what the application received.
  expect(sameMessages(outcome.messages, received), 'echoes inflate to the messages the application received').toBe(true);
  return { outcome, frames };
}

describe('the deflate conformance table', () => {
  it('has unique ids, and each case expects either a close or an open connection', () => {
    const ids = DEFLATE_CASES.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of DEFLATE_CASES) {
      expect((c.expect.close !== undefined) !== (c.expect.open === true), c.id).toBe(true);
      expect(c.input.length, c.id).toBeGreaterThan(0);
    }
    expect([...new Set(DEFLATE_CASES.map((c) => c.id.split('.')[0]))]).toEqual(['12', '13', 'f', 'r', 'u', 'l', 'c', 't']);
  });

  it('t.4 really depends on context takeover: later messages do not inflate on their own', () => {
    const testCase = DEFLATE_CASES.find((c) => c.id === 't.4')!;
    const { frames } = parseServerFrames(Buffer.from(testCase.input));
    expect(frames).toHaveLength(20);
    expect(frames.every((f) => f.rsv === 4)).toBe(true);
    const expected = testCase.expect.messages![0]!.data;
    const inflateAlone = (payload: Buffer) => {
      try {
        return inflateRawSync(Buffer.concat([payload, Buffer.from('0000ffff', 'hex')]), { finishFlush: zlib.Z_SYNC_FLUSH });
      } catch {
        return null;
      }
    };
    expect(inflateAlone(frames[0]!.payload)?.equals(expected)).toBe(true);
    for (const f of frames.slice(1)) {
      expect(f.payload.length).toBeLessThan(expected.length / 10);
      expect(inflateAlone(f.payload)?.equals(expected) ?? false).toBe(false);
    }
  });

  it('every 13.x case compresses under the parameters its response names', () => {
    for (const c of DEFLATE_CASES.filter((c) => c.id.startsWith('13.'))) {
      expect(() => readDeflateResponse(c.response!), c.id).not.toThrow();
    }
  });
});

describe('permessage-deflate conformance in memory (ServerConnection)', () => {
  for (const testCase of DEFLATE_CASES) {
    it(`${testCase.id} ${testCase.title}`, () => {
      for (const { name, chunks } of chunkingsFor(testCase.input)) {
        expect(deflateOutcomeMismatches(testCase, run(testCase, chunks).outcome), name).toEqual([]);
      }
    });
  }
});

describe('server compression with and without context takeover (RFC 7692 §7.1.1.1)', () => {
  const message = Buffer.from(JSON.stringify({ event: 'tick', rows: Array.from({ length: 40 }, (_, i) => ({ id: i, name: `row ${i}` })) }));
  const echoSizes = (offer: string) => {
    const response = negotiatePerMessageDeflate(parseExtensions([offer]), POLICY)!.response;
    const testCase: DeflateCase = {
      id: 'x',
      title: 'x',
      offer,
      response,
      input: Buffer.concat(Array.from({ length: 3 }, () => Buffer.from(encodeUncompressedClientText(message)))),
      expect: { messages: Array.from({ length: 3 }, () => ({ isBinary: false, data: message })), open: true },
    };
    const { outcome, frames } = run(testCase, [Buffer.from(testCase.input)]);
    expect(deflateOutcomeMismatches(testCase, outcome)).toEqual([]);
    return frames.map((f) => f.payload.length);
  };

  it('takes over its context when allowed: repeats of a message shrink to a few bytes', () => {
    expect(message.length).toBeGreaterThanOrEqual(POLICY.thresholdBytes);
    const [first, second, third] = echoSizes('permessage-deflate');
    expect(second!).toBeLessThan(first! / 10);
    expect(third!).toBeLessThan(first! / 10);
  });

  it('compresses every message alone after server_no_context_takeover', () => {
    const [first, second, third] = echoSizes('permessage-deflate; server_no_context_takeover');
    expect(first!).toBeLessThan(message.length);
    expect(second!).toBe(first!);
    expect(third!).toBe(first!);
  });
});

describe('readServerMessages and deflateOutcomeMismatches', () => {
  const frame = (o: Partial<ServerFrame>): ServerFrame => ({ fin: true, rsv: 0, opcode: 1, masked: false, payload: Buffer.from('hi'), ...o });

  it('reports RSV bits the server may not set', () => {
    expect(readServerMessages([frame({ opcode: 0xa, rsv: 4 })], 'permessage-deflate').problems).toHaveLength(1);
    expect(readServerMessages([frame({ rsv: 2 })], 'permessage-deflate').problems).toHaveLength(1);
    expect(readServerMessages([frame({ rsv: 4, payload: Buffer.from('f248cdc9c90700', 'hex') })], null).problems).toHaveLength(1);
    expect(readServerMessages([frame({ fin: false }), frame({ opcode: 0, rsv: 4 })], 'permessage-deflate').problems).toHaveLength(1);
    expect(readServerMessages([frame({ rsv: 4, payload: Buffer.from('07', 'hex') })], 'permessage-deflate').problems).toHaveLength(1);
  });

  it('inflates compressed echoes with the server window carried over, unless the server resets it', () => {
    const hello = frame({ rsv: 4, payload: Buffer.from('f248cdc9c90700', 'hex') });
    const again = frame({ rsv: 4, payload: Buffer.from('f200110000', 'hex') });
    const read = readServerMessages([hello, again], 'permessage-deflate');
    expect(read.problems).toEqual([]);
    expect(read.messages.map((m) => m.data.toString())).toEqual(['Hello', 'Hello']);
    expect(read.compressed).toEqual([true, true]);
    expect(readServerMessages([hello, again], 'permessage-deflate; server_no_context_takeover').problems).toHaveLength(1);
  });

  it('fails an echo sent compressed below the threshold, or uncompressed from it', () => {
    const small = { isBinary: false, data: Buffer.from('small') };
    const big = { isBinary: false, data: Buffer.alloc(POLICY.thresholdBytes, 'a') };
    const testCase: DeflateCase = { id: 'x', title: 'x', offer: 'permessage-deflate', response: 'permessage-deflate', input: Buffer.of(0), expect: { messages: [small, big], open: true } };
    const outcome = (compressed: boolean[]): DeflateOutcome => ({ messages: [small, big], compressed, pongs: [], closeCode: null, open: true, problems: [] });
    expect(deflateOutcomeMismatches(testCase, outcome([false, true]))).toEqual([]);
    expect(deflateOutcomeMismatches(testCase, outcome([true, true]))).toHaveLength(1);
    expect(deflateOutcomeMismatches(testCase, outcome([false, false]))).toHaveLength(1);
    expect(deflateOutcomeMismatches({ ...testCase, response: null }, outcome([false, false]))).toEqual([]);
  });
});

/** A masked, uncompressed client text frame (the server compresses its echo). */
function encodeUncompressedClientText(data: Buffer): Buffer {
  const key = Buffer.from('0a0b0c0d', 'hex');
  const header = data.length < 126 ? Buffer.of(0x81, 0x80 | data.length) : Buffer.of(0x81, 0x80 | 126, data.length >> 8, data.length & 0xff);
  const masked = Buffer.from(data);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i % 4]!;
  return Buffer.concat([header, key, masked]);
}
