import { describe, expect, it, vi } from 'vitest';
import { Opcode } from '../../../src/protocol/constants.ts';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.ts';
import { encodeFrame } from '../../../src/protocol/frame-encoder.ts';
import { COALESCE_MAX_BYTES, LARGE_SLAB_IDLE_MS, SLAB_BYTES, WriteSlab } from '../../../src/transport/write-slab.ts';

/** A socket stub that keeps a copy of every write, as the kernel would see it later. */
function recorder() {
  const writes: Buffer[] = [];
  return { writes, owner: { writeRegion: (data: Uint8Array) => void writes.push(Buffer.from(data)) } };
}

/** Decodes server frames back into [opcode, payload] pairs. */
function decode(bytes: Buffer): [number, string][] {
  const out: [number, string][] = [];
  const decoder = new FrameDecoder(
    {
      onMessage: (data, isBinary) => out.push([isBinary ? Opcode.BINARY : Opcode.TEXT, data.toString('hex')]),
      onControl: () => {},
      onError: (error) => {
        throw error;
      },
    },
    { maxMessageBytes: 1 << 20, requireMask: false },
  );
  decoder.push(bytes);
  return out;
}

describe('WriteSlab', () => {
  it('writes everything appended during one read as a single buffer', () => {
    const slab = new WriteSlab();
    const { writes, owner } = recorder();
    slab.begin(owner);
    slab.appendFrame(Opcode.BINARY, Buffer.from([1, 2, 3]));
    slab.append(encodeFrame(Opcode.TEXT, Buffer.from('hi')));
    expect(writes).toHaveLength(0);
    slab.end();
    expect(writes).toHaveLength(1);
    expect(decode(writes[0])).toEqual([
      [Opcode.BINARY, '010203'],
      [Opcode.TEXT, Buffer.from('hi').toString('hex')],
    ]);
  });

  it('produces byte-identical frames to the encoder for every payload length it coalesces (0-COALESCE_MAX_BYTES)', () => {
    const slab = new WriteSlab();
    const { writes, owner } = recorder();
    for (let length = 0; length <= COALESCE_MAX_BYTES; length++) {
      const payload = Buffer.alloc(length, length);
      slab.begin(owner);
      slab.appendFrame(Opcode.TEXT, payload);
      slab.end();
      expect(writes.at(-1)?.equals(encodeFrame(Opcode.TEXT, payload))).toBe(true);
    }
  });

  it('writes the header of a large frame in place, byte-identical to the encoder\'s, ahead of the payload', () => {
    for (const length of [COALESCE_MAX_BYTES + 1, 0xffff, 0x10000, 1 << 20]) {
      const slab = new WriteSlab();
      const { writes, owner } = recorder();
      const payload = Buffer.alloc(length, length & 0xff);
      slab.begin(owner);
      slab.appendFrame(Opcode.TEXT, Buffer.from('before'));
      slab.appendFrameHeader(Opcode.BINARY, length);
      slab.flush();
      owner.writeRegion(payload);
      slab.end();
      expect(writes).toHaveLength(2);
      expect(Buffer.concat(writes).equals(Buffer.concat([encodeFrame(Opcode.TEXT, Buffer.from('before')), encodeFrame(Opcode.BINARY, payload)]))).toBe(true);
    }
  });

  it('keeps every frame intact across many slabs (regression: a frame written into the replaced slab)', () => {
    const slab = new WriteSlab();
    const { writes, owner } = recorder();
    const expected: [number, string][] = [];
    let n = 0;
    for (let read = 0; read < 200; read++) {
      slab.begin(owner);
      for (let i = 0; i < 50; i++, n++) {
        const payload = Buffer.alloc((n * 7) % 126, n & 0xff);
        if (n % 3 === 0) slab.append(encodeFrame(Opcode.BINARY, payload));
        else slab.appendFrame(Opcode.BINARY, payload);
        expected.push([Opcode.BINARY, payload.toString('hex')]);
      }
      slab.end();
    }
    const total = writes.reduce((sum, write) => sum + write.length, 0);
    expect(total).toBeGreaterThan(3 * SLAB_BYTES);
    expect(decode(Buffer.concat(writes))).toEqual(expected);
  });

  it('never rewrites bytes already handed to a socket', () => {
    const slab = new WriteSlab();
    const views: Uint8Array[] = [];
    const copies: Buffer[] = [];
    const owner = { writeRegion: (data: Uint8Array) => void (views.push(data), copies.push(Buffer.from(data))) };
    for (let read = 0; read < 100; read++) {
      slab.begin(owner);
      slab.append(Buffer.alloc(COALESCE_MAX_BYTES, read));
      slab.end();
    }
    for (let i = 0; i < views.length; i++) expect(Buffer.from(views[i]).equals(copies[i])).toBe(true);
  });
});

describe('WriteSlab.rewind', () => {
  it("reuses the last owner's region once its socket has written it, and nothing before it", () => {
    const slab = new WriteSlab();
    const first = recorder();
    slab.begin(first.owner);
    slab.appendFrame(Opcode.BINARY, Buffer.from('kept'));
    slab.end();
    const second = recorder();
    slab.begin(second.owner);
    slab.appendFrame(Opcode.BINARY, Buffer.alloc(10_000, 1));
    slab.end();
    const [firstRegion] = first.writes;
    const views: Uint8Array[] = [];
    const third = { owner: { writeRegion: (data: Uint8Array) => void views.push(data) } };
    // The second owner's socket wrote everything: its region is free, the first's is not.
    slab.rewind();
    slab.begin(third.owner);
    slab.appendFrame(Opcode.BINARY, Buffer.alloc(10_000, 2));
    slab.end();
    expect(decode(Buffer.from(views[0] as Uint8Array))).toEqual([[Opcode.BINARY, Buffer.alloc(10_000, 2).toString('hex')]]);
    // Same memory as the second region: right after the first frame (2-byte header + 4 bytes).
    expect((views[0] as Uint8Array).byteOffset).toBe((firstRegion as Buffer).length);
    expect(decode(firstRegion as Buffer)).toEqual([[Opcode.BINARY, Buffer.from('kept').toString('hex')]]);
  });

  it('copies a frame larger than a slab into a slab of its size', () => {
    const slab = new WriteSlab();
    const { writes, owner } = recorder();
    const payload = Buffer.alloc(SLAB_BYTES * 2, 7);
    slab.begin(owner);
    slab.appendFrame(Opcode.BINARY, payload);
    slab.end();
    expect(decode(Buffer.concat(writes))).toEqual([[Opcode.BINARY, payload.toString('hex')]]);
  });

  it('goes back to a slab of the normal size once no frame larger than a slab was copied for a while', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const slab = new WriteSlab();
      const { writes, owner } = recorder();
      expect(slab.retainedBytes).toBe(SLAB_BYTES);
      const payload = Buffer.alloc(16 * SLAB_BYTES, 3);
      const read = (data: Buffer): void => {
        slab.begin(owner);
        slab.appendFrame(Opcode.BINARY, data);
        slab.end();
        slab.rewind();
      };
      read(payload);
      expect(slab.retainedBytes).toBeGreaterThan(payload.length);
      // Large frames keep coming: the large slab is kept (and reused), interval after interval.
      for (let i = 0; i < 5; i++) {
        vi.advanceTimersByTime(LARGE_SLAB_IDLE_MS / 2);
        read(payload);
        expect(slab.retainedBytes).toBeGreaterThan(payload.length);
      }
      // Only small frames from now on: at most two intervals later the slab is of the normal size again.
      read(Buffer.from('small'));
      vi.advanceTimersByTime(2 * LARGE_SLAB_IDLE_MS);
      expect(slab.retainedBytes).toBe(SLAB_BYTES);
      expect(vi.getTimerCount()).toBe(0);
      // And it keeps working: every frame intact, a large one again makes a large slab.
      read(Buffer.from('next'));
      read(payload);
      expect(slab.retainedBytes).toBeGreaterThan(payload.length);
      vi.advanceTimersByTime(LARGE_SLAB_IDLE_MS);
      expect(slab.retainedBytes).toBe(SLAB_BYTES);
      const hex = payload.toString('hex');
      const expected: [number, string][] = [...Array.from({ length: 6 }, (): [number, string] => [Opcode.BINARY, hex]), [Opcode.BINARY, Buffer.from('small').toString('hex')], [Opcode.BINARY, Buffer.from('next').toString('hex')], [Opcode.BINARY, hex]];
      expect(decode(Buffer.concat(writes))).toEqual(expected);
    } finally {
      vi.useRealTimers();
    }
  });
});
