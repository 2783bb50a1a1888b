import { describe, expect, it } from 'vitest';
import { emptyConnectionStats, packConnectionStatsAt, unpackConnectionStats, type ConnectionStats, type PackedConnectionStats } from '../../../src/transport/messages.ts';

describe('packed connection stats (the lane\'s ended message)', () => {
  it('round-trips every field of several connections, in order', () => {
    const first: ConnectionStats = {
      workerId: 3,
      handshakeStatus: 101,
      bytesIn: 1234,
      bytesOut: 5678,
      messagesIn: 9,
      messagesOut: 10,
      closeCode: 1000,
      closeReason: 'bye',
      wasClean: true,
      mailboxPauses: 2,
      writePauses: 4,
      slowConsumer: true,
      closeTimedOut: true,
      edgeRefusal: 'origin_not_allowed',
      httpRequests: 5,
      httpHandlerErrors: 1,
      httpRefusalStatus: 413,
      httpRequestAborted: true,
      internalError: true,
    };
    const second = emptyConnectionStats(4);
    const packed: PackedConnectionStats = [];
    packConnectionStatsAt(packed, packed.length, first);
    packConnectionStatsAt(packed, packed.length, second);
    // What the lane posts is structured-cloned on its way to the primary.
    expect(unpackConnectionStats(structuredClone(packed))).toEqual([first, second]);
  });

  it('carries every field ConnectionStats has (a field added to the type but not to the packing fails here)', () => {
    const stats = emptyConnectionStats(7) as unknown as Record<string, unknown>;
    let n = 11;
    for (const key of Object.keys(stats)) {
      const value = stats[key];
      stats[key] = typeof value === 'boolean' ? !value : typeof value === 'number' ? n++ : `${key}-${n++}`;
    }
    const packed: PackedConnectionStats = [];
    packConnectionStatsAt(packed, packed.length, stats as unknown as ConnectionStats);
    expect(unpackConnectionStats(packed)).toEqual([stats]);
  });

  it('unpacks an empty batch to no connections', () => {
    expect(unpackConnectionStats([])).toEqual([]);
  });
});

describe('packConnectionStatsAt', () => {
  it('writes over a reused batch and appends past its end', () => {
    const first = { ...emptyConnectionStats(1), handshakeStatus: 101, closeReason: 'first' };
    const second = { ...emptyConnectionStats(1), handshakeStatus: 400, edgeRefusal: 'origin_not_allowed' as const };
    const packed: PackedConnectionStats = [];
    let length = packConnectionStatsAt(packed, 0, first);
    length = packConnectionStatsAt(packed, length, second);
    expect(unpackConnectionStats(packed.slice(0, length))).toEqual([first, second]);
    // The next batch reuses the array: only its first values count.
    length = packConnectionStatsAt(packed, 0, second);
    expect(unpackConnectionStats(packed.slice(0, length))).toEqual([second]);
    expect(packed.length).toBe(2 * length);
  });
});
