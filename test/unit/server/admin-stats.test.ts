import { HistogramTotals } from '../../../src/telemetry/histogram.ts';
import { describe, expect, it } from 'vitest';
import {
  adminSnapshot,
  closeCodeLabel,
  ConnectionTally,
  healthOf,
  refusalStatusLabel,
  type AdminSource,
  type ServerState,
} from '../../../src/server/admin-stats.ts';
import { emptyConnectionStats, type ConnectionStats, type WorkerLoad } from '../../../src/transport/messages.ts';
import { emptyPrimaryStats, type PrimaryStats } from '../../../src/transport/primary.ts';

function primaryStats(overrides: Partial<PrimaryStats> = {}): PrimaryStats {
  return { ...emptyPrimaryStats(), ...overrides };
}

function source(state: ServerState, workers: WorkerLoad[], stats: PrimaryStats = primaryStats(), allWorkersServing = true): AdminSource {
  return { stats, state, workers: () => workers, allWorkersServing: () => allWorkersServing, histograms: new HistogramTotals(), broker: () => null };
}

function finished(overrides: Partial<ConnectionStats>): ConnectionStats {
  return { ...emptyConnectionStats(7), ...overrides };
}

describe('healthOf', () => {
  it('is ok while serving with a live worker', () => {
    expect(healthOf(source('serving', [{ workerId: 1, connections: 0, gauges: null }]))).toEqual({ ok: true });
  });
  it('names the shutdown', () => {
    expect(healthOf(source('shutting-down', [{ workerId: 1, connections: 0, gauges: null }]))).toEqual({ ok: false, reason: 'server is shutting down' });
  });
  it('is not ok while starting or after stopping', () => {
    expect(healthOf(source('starting', []))).toEqual({ ok: false, reason: 'server is starting' });
    expect(healthOf(source('stopped', []))).toEqual({ ok: false, reason: 'server is stopped' });
  });
  it('is not ok when no worker is alive', () => {
    expect(healthOf(source('serving', []))).toEqual({ ok: false, reason: 'no worker is alive' });
  });
});

describe('closeCodeLabel', () => {
  it('keeps the codes RFC 6455 §7.4.1 and IANA define as they are', () => {
    for (const code of [1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1011, 1015]) expect(closeCodeLabel(code)).toBe(String(code));
  });
  it('groups the application ranges of §7.4.2 so peers cannot grow the label set', () => {
    expect(closeCodeLabel(3000)).toBe('3000-3999');
    expect(closeCodeLabel(3999)).toBe('3000-3999');
    expect(closeCodeLabel(4000)).toBe('4000-4999');
    expect(closeCodeLabel(4999)).toBe('4000-4999');
  });
  it('puts everything else under other', () => {
    for (const code of [0, 999, 1016, 2999, 5000, 1000.5, Number.NaN]) expect(closeCodeLabel(code)).toBe('other');
  });
});

describe('refusalStatusLabel', () => {
  it('keeps 4xx and 5xx statuses and groups anything else', () => {
    expect(refusalStatusLabel(400)).toBe('400');
    expect(refusalStatusLabel(599)).toBe('599');
    expect(refusalStatusLabel(399)).toBe('other');
    expect(refusalStatusLabel(600)).toBe('other');
  });
});

describe('ConnectionTally', () => {
  it('counts upgrades by close code, refusals by status and abandoned handshakes', () => {
    const tally = new ConnectionTally();
    tally.record(finished({ handshakeStatus: 101, closeCode: 1000 }));
    tally.record(finished({ handshakeStatus: 101, closeCode: 1000, writePauses: 2 }));
    tally.record(finished({ handshakeStatus: 101, closeCode: 4321, closeTimedOut: true }));
    tally.record(finished({ handshakeStatus: 400 }));
    tally.record(finished({ handshakeStatus: 426 }));
    tally.record(finished({ handshakeStatus: 400 }));
    tally.record(finished({ handshakeStatus: 0 }));
    expect(tally.upgraded).toBe(3);
    expect(tally.abandoned).toBe(1);
    expect(Object.fromEntries(tally.refusals)).toEqual({ '400': 2, '426': 1 });
    expect(Object.fromEntries(tally.closes)).toEqual({ '1000': 2, '4000-4999': 1 });
    expect(tally.writePauses).toBe(2);
    expect(tally.closeTimeouts).toBe(1);
  });
  it('does not count a refused connection’s close code', () => {
    const tally = new ConnectionTally();
    tally.record(finished({ handshakeStatus: 408, closeCode: 1006 }));
    expect(tally.closes.size).toBe(0);
  });
  it('holds a bounded number of keys whatever codes peers send', () => {
    const tally = new ConnectionTally();
    for (let code = 0; code < 70_000; code += 7) tally.record(finished({ handshakeStatus: 101, closeCode: code }));
    expect(tally.closes.size).toBeLessThanOrEqual(19);
  });
});

describe('adminSnapshot', () => {
  it('copies the counters, the workers and the tally', () => {
    const stats = primaryStats({ accepted: 5, active: 2, completed: 3 });
    const tally = new ConnectionTally();
    tally.record(finished({ handshakeStatus: 101, closeCode: 1001 }));
    tally.record(finished({ handshakeStatus: 404 }));
    tally.record(finished({ handshakeStatus: 0, edgeRefusal: 'tls_handshake_failed' }));
    tally.record(finished({ handshakeStatus: 0, httpRequests: 3, httpHandlerErrors: 1 }));
    tally.record(finished({ handshakeStatus: 0, httpRequests: 1, httpRefusalStatus: 413 }));
    tally.record(finished({ handshakeStatus: 0, httpRequests: 2, httpRequestAborted: true }));
    tally.record(finished({ handshakeStatus: 0, internalError: true }));
    const workers = [
      { workerId: 1, connections: 2, gauges: null },
      { workerId: 2, connections: 0, gauges: null },
    ];
    const snapshot = adminSnapshot(source('serving', workers, stats), tally, 1234.5);
    expect(snapshot).toEqual({
      state: 'serving',
      broker: null,
      healthy: true,
      uptimeSeconds: 1.235,
      stats,
      workers,
      handshakes: { upgraded: 1, abandoned: 0, refusals: { '404': 1 } },
      closeCodes: { '1001': 1 },
      writePauses: 0,
      closeTimeouts: 0,
      // Closed by an internal error before its head: not an abandoned handshake either.
      internalErrors: 1,
      // Refused at the edge or served HTTP: not abandoned handshakes.
      edgeRefusals: { tls_handshake_failed: 1 },
      // The client reset in its second request: an aborted request, neither a refusal nor an abandoned handshake.
      http: { requests: 6, handlerErrors: 1, refusals: { '413': 1 }, aborted: 1 },
    });
    // A snapshot, not a view: later counts do not change it.
    stats.accepted++;
    expect(snapshot.stats.accepted).toBe(5);
  });
});
