import { createDeflateRaw, constants as zlib, deflateRawSync, inflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ProtocolError } from '../../../src/protocol/errors.ts';
import type { DeflateAgreement } from '../../../src/protocol/permessage-deflate-negotiation.ts';
import { PerMessageDeflate } from '../../../src/protocol/permessage-deflate.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const TAIL = hex('0000ffff');
const TUNING = { level: 6, memLevel: 8, thresholdBytes: 0 };
const LIMIT = 1024 * 1024;

function agreement(overrides: Partial<DeflateAgreement> = {}): DeflateAgreement {
  return {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    ...overrides,
  };
}

/** A server and a client that agreed on the same parameters. */
function pair(overrides: Partial<DeflateAgreement> = {}): { server: PerMessageDeflate; client: PerMessageDeflate } {
  const agreed = agreement(overrides);
  return { server: new PerMessageDeflate(agreed, TUNING, 'server'), client: new PerMessageDeflate(agreed, TUNING, 'client') };
}

/** Byte equality without vitest's deep diff, which is slow on large Buffers. */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect({ length: actual.length, equal: Buffer.compare(actual, expected) === 0 }).toEqual({ length: expected.length, equal: true });
}

function failure(run: () => unknown): ProtocolError {
  try {
    run();
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('expected a ProtocolError');
}

/** Chat-like JSON: compressible, and repetitive across messages (what context takeover is for). */
function chatMessage(i: number): Buffer {
  return Buffer.from(JSON.stringify({ type: 'message', room: 'general', user: `user-${i % 7}`, text: `hello number ${i}`, ts: 1_700_000_000_000 + i }));
}

/** Feeds `messages` through one persistent Node deflate stream, sync-flushing after each, like a ws client with context takeover. */
async function persistentDeflate(messages: Buffer[], windowBits = 15): Promise<Buffer[]> {
  const stream = createDeflateRaw({ windowBits });
  const out: Buffer[] = [];
  for (const message of messages) {
    stream.write(message);
    await new Promise<void>((resolve) => stream.flush(zlib.Z_SYNC_FLUSH, () => resolve()));
    const chunks: Buffer[] = [];
    for (let chunk = stream.read() as Buffer | null; chunk !== null; chunk = stream.read() as Buffer | null) chunks.push(chunk);
    const compressed = Buffer.concat(chunks);
    expect(compressed.subarray(-4)).toEqual(TAIL);
    out.push(compressed.subarray(0, -4));
  }
  stream.close();
  return out;
}

describe('RFC 7692 §7.2.3 examples', () => {
  it('§7.2.3.1: "Hello" compressed in one block decompresses; our compressor round-trips it', () => {
    const { server, client } = pair();
    expect(server.decompress(hex('f2 48 cd c9 c9 07 00'), LIMIT).toString()).toBe('Hello');
    expect(server.decompress(client.compress(Buffer.from('Hello')), LIMIT).toString()).toBe('Hello');
  });

  it('§7.2.3.2: a second "Hello" that refers back into the first decompresses with context takeover', () => {
    const { server } = pair();
    expect(server.decompress(hex('f2 48 cd c9 c9 07 00'), LIMIT).toString()).toBe('Hello');
    expect(server.decompress(hex('f2 00 11 00 00'), LIMIT).toString()).toBe('Hello');
  });

  it('§7.2.3.2: the same back-reference fails with 1007 when the client agreed not to take over context', () => {
    const { server } = pair({ clientNoContextTakeover: true });
    expect(server.decompress(hex('f2 48 cd c9 c9 07 00'), LIMIT).toString()).toBe('Hello');
    const error = failure(() => server.decompress(hex('f2 00 11 00 00'), LIMIT));
    expect(error.code).toBe('WS_ERR_DECOMPRESSION');
    expect(error.closeCode).toBe(1007);
  });

  it('§7.2.3.2: our compressor shares the window the same way (second message refers back)', () => {
    const { server, client } = pair();
    const first = server.compress(Buffer.from('Hello'));
    const second = server.compress(Buffer.from('Hello'));
    expect(second.length).toBeLessThan(first.length);
    expect(client.decompress(first, LIMIT).toString()).toBe('Hello');
    expect(client.decompress(second, LIMIT).toString()).toBe('Hello');
  });

  it('§7.2.3.3: a stored (uncompressed) DEFLATE block decompresses', () => {
    const { server } = pair();
    expect(server.decompress(hex('00 05 00 fa ff 48 65 6c 6c 6f 00'), LIMIT).toString()).toBe('Hello');
  });

  it('§7.2.3.4: a block with BFINAL set decompresses, with or without the trailing empty-block byte', () => {
    const { server } = pair();
    expect(server.decompress(hex('f3 48 cd c9 c9 07 00'), LIMIT).toString()).toBe('Hello');
    expect(server.decompress(hex('f3 48 cd c9 c9 07 00 00'), LIMIT).toString()).toBe('Hello');
  });

  it('§7.2.3.5: two DEFLATE blocks in one message decompress to one payload', () => {
    const { server } = pair();
    expect(server.decompress(hex('f2 48 05 00 00 00 ff ff ca c9 c9 07 00'), LIMIT).toString()).toBe('Hello');
  });

  it('§7.2.3.6: an empty message compresses to 0x00 and 0x00 decompresses to nothing', () => {
    const { server, client } = pair();
    expect(server.compress(Buffer.alloc(0))).toEqual(hex('00'));
    expect(client.decompress(hex('00'), LIMIT)).toHaveLength(0);
    // An empty payload with RSV1 set is the empty tail alone: also nothing.
    expect(client.decompress(Buffer.alloc(0), LIMIT)).toHaveLength(0);
  });
});

describe('compress (RFC 7692 §7.2.1)', () => {
  it('strips the 0x00 0x00 0xff 0xff tail: Node inflateRaw reads the payload once the tail is put back', () => {
    const { server } = pair({ serverNoContextTakeover: true });
    const message = Buffer.from('permessage-deflate '.repeat(50));
    const compressed = server.compress(message);
    expect(compressed.length).toBeLessThan(message.length / 5);
    expect(compressed.subarray(-4)).not.toEqual(TAIL);
    expect(inflateRawSync(Buffer.concat([compressed, TAIL]), { finishFlush: zlib.Z_SYNC_FLUSH })).toEqual(message);
  });

  it('with context takeover the messages form one DEFLATE stream that Node inflates in one go', () => {
    const { server } = pair();
    const messages = Array.from({ length: 30 }, (_, i) => chatMessage(i));
    const stream = Buffer.concat(messages.flatMap((message) => [server.compress(message), TAIL]));
    expectBytes(inflateRawSync(stream, { finishFlush: zlib.Z_SYNC_FLUSH }), Buffer.concat(messages));
  });

  it('with context takeover repeated content gets much smaller; without it every message costs the same', () => {
    const shared = pair();
    const reset = pair({ serverNoContextTakeover: true });
    const message = chatMessage(1);
    const first = shared.server.compress(message).length;
    const again = shared.server.compress(message).length;
    expect(again).toBeLessThan(first / 3);
    expect(reset.server.compress(message).length).toBe(first);
    expect(reset.server.compress(message).length).toBe(first);
  });

  it('without server context takeover each message decompresses on its own (in any order)', () => {
    const { server } = pair({ serverNoContextTakeover: true });
    const messages = Array.from({ length: 5 }, (_, i) => chatMessage(i));
    const compressed = messages.map((message) => server.compress(message));
    for (const i of [4, 2, 0, 3, 1]) {
      expect(inflateRawSync(Buffer.concat([compressed[i]!, TAIL]), { finishFlush: zlib.Z_SYNC_FLUSH })).toEqual(messages[i]);
    }
  });

  it('is not affected when the caller reuses the input buffer afterwards', () => {
    const { server, client } = pair();
    const buffer = Buffer.from('abcdefgh'.repeat(20));
    const first = server.compress(buffer);
    buffer.fill(0x7a);
    const second = server.compress(Buffer.from('abcdefgh'.repeat(20)));
    expect(client.decompress(first, LIMIT).toString()).toBe('abcdefgh'.repeat(20));
    expect(client.decompress(second, LIMIT).toString()).toBe('abcdefgh'.repeat(20));
  });

  it('shouldCompress follows the threshold', () => {
    const codec = new PerMessageDeflate(agreement(), { ...TUNING, thresholdBytes: 1024 });
    expect(codec.shouldCompress(1023)).toBe(false);
    expect(codec.shouldCompress(1024)).toBe(true);
  });
});

describe('decompress (RFC 7692 §7.2.2)', () => {
  it('decompresses what a persistent zlib stream with context takeover sends (how ws and browsers compress)', async () => {
    const messages = Array.from({ length: 40 }, (_, i) => chatMessage(i));
    const compressed = await persistentDeflate(messages);
    const { server } = pair();
    for (let i = 0; i < messages.length; i++) expectBytes(server.decompress(compressed[i]!, LIMIT), messages[i]!);
  });

  it('decompresses a persistent stream across messages larger than the 32 KiB window', async () => {
    const block = randomBytes(20_000);
    const messages = [Buffer.concat([block, block, block]), Buffer.concat([block, randomBytes(50_000)]), block];
    const compressed = await persistentDeflate(messages);
    const { server } = pair();
    for (let i = 0; i < messages.length; i++) expectBytes(server.decompress(compressed[i]!, LIMIT), messages[i]!);
  });

  it('decompresses a persistent stream with a small agreed client window (10 bits)', async () => {
    const messages = Array.from({ length: 40 }, (_, i) => chatMessage(i));
    const compressed = await persistentDeflate(messages, 10);
    const { server } = pair({ clientMaxWindowBits: 10 });
    for (let i = 0; i < messages.length; i++) expectBytes(server.decompress(compressed[i]!, LIMIT), messages[i]!);
    expect(server.retainedBytes).toBe(1024);
  });

  it('keeps no window when the client does not take over context, and at most 2^bits bytes when it does', () => {
    const reset = pair({ serverNoContextTakeover: true, clientNoContextTakeover: true });
    const shared = pair({ serverMaxWindowBits: 12, clientMaxWindowBits: 11 });
    for (let i = 0; i < 200; i++) {
      const message = chatMessage(i);
      reset.client.decompress(reset.server.compress(message), LIMIT);
      shared.client.decompress(shared.server.compress(message), LIMIT);
      shared.server.decompress(shared.client.compress(message), LIMIT);
    }
    expect(reset.server.retainedBytes).toBe(0);
    expect(reset.client.retainedBytes).toBe(0);
    // The server compresses with a 4 KiB window and decompresses with a 2 KiB one.
    expect(shared.server.retainedBytes).toBe(4096 + 2048);
  });

  it('holds nothing before the first compressed message', () => {
    expect(pair().server.retainedBytes).toBe(0);
  });
});

describe('decompress: limits and bad data', () => {
  it('accepts a message of exactly maxBytes and fails with 1009 one byte over', () => {
    const message = randomBytes(5000);
    const compressed = pair({ serverNoContextTakeover: true }).server.compress(message);
    expectBytes(pair().client.decompress(compressed, 5000), message);
    const error = failure(() => pair().client.decompress(compressed, 4999));
    expect(error.code).toBe('WS_ERR_MESSAGE_TOO_BIG');
    expect(error.closeCode).toBe(1009);
  });

  it('accepts an unbounded limit (Infinity) without a zlib range error', () => {
    expect(pair().client.decompress(hex('f2 48 cd c9 c9 07 00'), Number.POSITIVE_INFINITY).toString()).toBe('Hello');
  });

  it('handles a limit of 0: an empty message passes, one byte fails with 1009', () => {
    const { client } = pair();
    expect(client.decompress(hex('00'), 0)).toHaveLength(0);
    expect(failure(() => client.decompress(hex('f2 48 cd c9 c9 07 00'), 0)).closeCode).toBe(1009);
  });

  it('stops a zip bomb (100 MiB of zeros in ~100 KiB) at the limit with 1009, without inflating it', () => {
    // 1 MiB of zeros, then 99 copies of one block that turns a window of
    // zeros into 1 MiB more: each part ends with a sync flush, so the parts
    // joined with the tails between them are one DEFLATE stream.
    const zeros = Buffer.alloc(1024 * 1024);
    const sync = { finishFlush: zlib.Z_SYNC_FLUSH };
    const first = deflateRawSync(zeros, sync);
    const next = deflateRawSync(zeros, { ...sync, dictionary: zeros.subarray(0, 32 * 1024) });
    const payload = Buffer.concat([first, ...Array.from({ length: 99 }, () => next)]).subarray(0, -4);
    expect(payload.length).toBeLessThan(200 * 1024);

    // Control: each part really is 1 MiB of zeros (the first on its own,
    // the repeated one after a window of zeros), so the whole is 100 MiB.
    const partOut = (part: Buffer, dictionary?: Buffer) => inflateRawSync(part, { ...sync, dictionary });
    expectBytes(partOut(first), zeros);
    expectBytes(partOut(next, zeros.subarray(0, 32 * 1024)), zeros);

    const before = process.memoryUsage().rss;
    const error = failure(() => pair().server.decompress(payload, LIMIT));
    const grown = process.memoryUsage().rss - before;
    expect(error.code).toBe('WS_ERR_MESSAGE_TOO_BIG');
    expect(error.closeCode).toBe(1009);
    // Inflating it all would take 100 MiB of chunks (and as much again to
    // join them); stopping at the 1 MiB limit costs about one more MiB.
    expect(grown).toBeLessThan(48 * 1024 * 1024);
  });

  it.each([
    ['a reserved block type (BTYPE 11)', 'ff ff ff ff'],
    ['a stored block whose NLEN is not the complement of LEN', '00 05 00 00 00 48 65 6c 6c 6f'],
    ['a distance before the start of the data', 'f2 00 11 00 00'],
    ['an invalid code lengths set', 'fc ff ff ff ff ff'],
  ])('fails with 1007 on %s', (_label, bytes) => {
    const error = failure(() => pair().server.decompress(hex(bytes), LIMIT));
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.code).toBe('WS_ERR_DECOMPRESSION');
    expect(error.closeCode).toBe(1007);
    expect(Buffer.byteLength(error.message)).toBeLessThanOrEqual(123);
  });

  it('random bytes only ever decompress or fail with 1007/1009', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 2000 }), (bytes, maxBytes) => {
        const { server } = pair();
        try {
          expect(server.decompress(bytes, maxBytes).length).toBeLessThanOrEqual(maxBytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
          expect([1007, 1009]).toContain((error as ProtocolError).closeCode);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('round trips at every agreed configuration', () => {
  const messages = fc.array(
    fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      fc.string({ maxLength: 600 }).map((text) => new TextEncoder().encode(text.repeat(3))),
      fc.constantFrom(...Array.from({ length: 8 }, (_, i) => new Uint8Array(chatMessage(i)))),
    ),
    { minLength: 1, maxLength: 12 },
  );
  const config = fc.record({
    serverNoContextTakeover: fc.boolean(),
    clientNoContextTakeover: fc.boolean(),
    serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
    clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
  });

  it('server -> client and client -> server, message by message, in order', () => {
    fc.assert(
      fc.property(config, messages, messages, (agreed, toClient, toServer) => {
        const { server, client } = pair(agreed);
        for (const message of toClient) expectBytes(client.decompress(server.compress(message), LIMIT), message);
        for (const message of toServer) expectBytes(server.decompress(client.compress(message), LIMIT), message);
      }),
      { numRuns: 60 },
    );
  });

  it('an agreed 8-bit window is honoured although zlib compresses with 9 (matches stay within 256 bytes)', () => {
    // Each message repeats content 257..511 bytes back, in the previous
    // message: a compressor using its full 512-byte window would refer
    // there, and a receiver that keeps only 256 bytes would fail with 1007.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 512, maxLength: 512 }), fc.integer({ min: 257, max: 500 }), (block, back) => {
        const { server, client } = pair({ serverMaxWindowBits: 8 });
        const first = Buffer.from(block);
        const second = Buffer.concat([first.subarray(first.length - back, first.length - back + 200), first.subarray(0, 40)]);
        expectBytes(client.decompress(server.compress(first), LIMIT), first);
        expectBytes(client.decompress(server.compress(second), LIMIT), second);
      }),
      { numRuns: 100 },
    );
  });

  it('the 8-bit check has teeth: a 15-bit sender that refers 300 bytes back fails against an 8-bit receiver', () => {
    const sender = new PerMessageDeflate(agreement({ serverMaxWindowBits: 15 }), TUNING, 'server');
    const receiver = new PerMessageDeflate(agreement({ serverMaxWindowBits: 8 }), TUNING, 'client');
    const block = randomBytes(512);
    receiver.decompress(sender.compress(block), LIMIT);
    const error = failure(() => receiver.decompress(sender.compress(block.subarray(100, 300)), LIMIT));
    expect(error.closeCode).toBe(1007);
  });
});
