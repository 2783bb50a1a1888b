/**
 * Runs the frame conformance table in memory against ServerConnection, each
 * case at several chunkings of its input (whole, 1-byte pieces, two-piece
 * splits, random splits; inputs over 64 KiB as 64 KiB reads and one random
 * split, 1 MiB ones as 64 KiB reads only).
 */
import { describe, expect, it } from 'vitest';
import { ConnectionState, ServerConnection } from '../../src/protocol/connection.ts';
import { chunkings, splitAt, type Chunking } from '../helpers/chunkings.ts';
import {
  FRAME_CASES,
  FRAME_CONFORMANCE_SERVER,
  outcomeMismatches,
  parseServerFrames,
  summarizeServerFrames,
  type CaseMessage,
  type FrameCase,
  type FrameOutcome,
} from './frame-cases.ts';

const LARGE = 64 * 1024;

function chunkingsFor(input: Buffer): Chunking[] {
  if (input.length <= LARGE) return chunkings(input, { maxTwoPieceSplits: 48, randomSplits: 4 });
  const reads: number[] = [];
  for (let at = LARGE; at < input.length; at += LARGE) reads.push(at);
  return [
    { name: 'whole', chunks: [Buffer.from(input)] },
    { name: '64 KiB reads', chunks: splitAt(input, reads) },
    ...(input.length < 1024 * 1024 ? chunkings(input, { maxTwoPieceSplits: 0, randomSplits: 1, maxBytewiseLength: 0 }).slice(1) : []),
  ];
}

/** Feeds the chunks to a fresh connection and observes what a peer would see. */
function run(testCase: FrameCase, chunks: Buffer[]): FrameOutcome {
  const messages: CaseMessage[] = [];
  const written: Buffer[] = [];
  let closes = 0;
  const connection = new ServerConnection(
    {
      onMessage: (data, isBinary) => messages.push({ isBinary, data: Buffer.from(data) }),
      onPing() {},
      onPong() {},
      onWrite: (data) => written.push(Buffer.from(data)),
      onClose: () => closes++,
    },
    { maxMessageBytes: testCase.maxMessageBytes ?? FRAME_CONFORMANCE_SERVER.maxMessageBytes },
  );
  for (const chunk of chunks) connection.receiveData(chunk);
  const { frames, rest } = parseServerFrames(Buffer.concat(written));
  // What the server wrote must itself be well-formed: whole, unmasked frames without RSV bits (§5.1, §5.2).
  expect(rest.length, 'server output ends inside a frame').toBe(0);
  expect(frames.every((f) => !f.masked && f.rsv === 0), 'server frames are unmasked, RSV clear').toBe(true);
  const open = connection.state === ConnectionState.OPEN;
  expect(closes, 'onClose fires once when the connection closes').toBe(connection.state === ConnectionState.CLOSED ? 1 : 0);
  return { ...summarizeServerFrames(frames), messages, open };
}

describe('the frame conformance table', () => {
  it('has unique ids, and each case expects either a close or an open connection', () => {
    const ids = FRAME_CASES.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of FRAME_CASES) {
      expect((c.expect.close !== undefined) !== (c.expect.open === true), c.id).toBe(true);
      expect(c.input.length, c.id).toBeGreaterThan(0);
    }
    const groups = new Set(FRAME_CASES.map((c) => c.id.split('.')[0]));
    expect([...groups]).toEqual(['1', '2', '3', '4', '5', '6', '7', '9', 'm']);
  });
});

describe('frame conformance in memory (ServerConnection)', () => {
  for (const testCase of FRAME_CASES) {
    it(`${testCase.id} ${testCase.title}`, () => {
      for (const { name, chunks } of chunkingsFor(testCase.input)) {
        expect(outcomeMismatches(testCase, run(testCase, chunks)), name).toEqual([]);
      }
    });
  }
});

describe('outcomeMismatches', () => {
  const testCase: FrameCase = { id: 'x', title: 'x', input: Buffer.of(0), expect: { messages: [{ isBinary: false, data: Buffer.from('a') }], close: { code: 1002 } } };
  const outcome = (o: Partial<FrameOutcome>): FrameOutcome => ({ messages: [{ isBinary: false, data: Buffer.from('a') }], pongs: [], closeCode: 1002, open: false, ...o });

  it('passes a matching outcome and reports each kind of difference', () => {
    expect(outcomeMismatches(testCase, outcome({}))).toEqual([]);
    expect(outcomeMismatches(testCase, outcome({ messages: [] }))).toHaveLength(1);
    expect(outcomeMismatches(testCase, outcome({ messages: [{ isBinary: true, data: Buffer.from('a') }] }))).toHaveLength(1);
    expect(outcomeMismatches(testCase, outcome({ pongs: [Buffer.from('p')] }))).toHaveLength(1);
    expect(outcomeMismatches(testCase, outcome({ closeCode: 1007 }))).toHaveLength(1);
    expect(outcomeMismatches(testCase, outcome({ closeCode: null, open: true }))).toHaveLength(2);
  });

  it('lets live runners miss echoes cut off by the close, but not extra or wrong ones', () => {
    expect(outcomeMismatches(testCase, outcome({ messages: [] }), { echoesMayBeCut: true })).toEqual([]);
    const extra = [{ isBinary: false, data: Buffer.from('a') }, { isBinary: false, data: Buffer.from('b') }];
    expect(outcomeMismatches(testCase, outcome({ messages: extra }), { echoesMayBeCut: true })).toHaveLength(1);
  });
});
