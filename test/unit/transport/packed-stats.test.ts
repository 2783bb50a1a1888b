import { describe, expect, it } from 'vitest';
import { ConnectionStatsBatch, EDGE_REFUSALS, emptyConnectionStats, unpackConnectionStats, type ConnectionStats } from '../../../src/transport/messages.ts';

const full: ConnectionStats = {
  workerId: 3,
  handshakeStatus: 101,
  bytesIn: 2 ** 40 + 1234,
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

describe('packed connection stats (the lane\'s ended message)', () => {
  it('round-trips every field of several connections, in order, through a structured clone', () => {
    const second = emptyConnectionStats(4);
    const third = { ...emptyConnectionStats(4), closeReason: 'third', edgeRefusal: 'proxy_header_malformed' as const };
    const batch = new ConnectionStatsBatch();
    batch.add(full);
    batch.add(second);
    batch.add(third);
    const packed = batch.take();
    // What the lane posts is structured-cloned on its way to the primary, the numbers' buffer transferred.
    const received = structuredClone(packed, { transfer: [packed.numbers.buffer] });
    expect(unpackConnectionStats(received)).toEqual([full, second, third]);
    // Only the reasons that are not empty travel as strings.
    expect(received.reasons).toEqual(['bye', 'third']);
  });

  it('carries every field ConnectionStats has (a field added to the type but not to the packing fails here)', () => {
    const stats = emptyConnectionStats(7) as unknown as Record<string, unknown>;
    let n = 11;
    for (const key of Object.keys(stats)) {
      const value = stats[key];
      stats[key] = typeof value === 'boolean' ? !value : typeof value === 'number' ? n++ : `${key}-${n++}`;
    }
    // The edge refusal travels as its index: it is one of EDGE_REFUSALS.
    stats.edgeRefusal = EDGE_REFUSALS[EDGE_REFUSALS.length - 1];
    const batch = new ConnectionStatsBatch();
    batch.add(stats as unknown as ConnectionStats);
    expect(unpackConnectionStats(batch.take())).toEqual([stats]);
  });

  it('carries each edge refusal', () => {
    const batch = new ConnectionStatsBatch();
    const all = EDGE_REFUSALS.map((edgeRefusal) => ({ ...emptyConnectionStats(1), edgeRefusal }));
    for (const stats of all) batch.add(stats);
    expect(unpackConnectionStats(batch.take())).toEqual(all);
  });

  it('takes an empty batch as no connections', () => {
    const packed = new ConnectionStatsBatch().take();
    expect(packed.numbers.length).toBe(0);
    expect(unpackConnectionStats(packed)).toEqual([]);
  });
});

describe('ConnectionStatsBatch', () => {
  it('grows past its first capacity and starts empty after each take', () => {
    const batch = new ConnectionStatsBatch(2);
    const many = Array.from({ length: 9 }, (_, i) => ({ ...emptyConnectionStats(1), bytesIn: i, closeReason: i % 3 === 0 ? `r${i}` : '' }));
    for (const stats of many) batch.add(stats);
    expect(batch.size).toBe(9);
    expect(unpackConnectionStats(batch.take())).toEqual(many);
    expect(batch.size).toBe(0);
    // The next batch reuses the storage: only what was added since counts.
    batch.add(full);
    expect(unpackConnectionStats(batch.take())).toEqual([full]);
  });

  it('keeps a taken batch intact while the next one is filled', () => {
    const batch = new ConnectionStatsBatch(4);
    batch.add(full);
    const first = batch.take();
    batch.add({ ...emptyConnectionStats(2), closeReason: 'later' });
    expect(unpackConnectionStats(first)).toEqual([full]);
  });
});
