/**
 * The paced fan-out (cross-node's half-rate pass, bench/load/scenarios/fan-out.ts)
 * sends what is due while its thread is busy reading deliveries, not only
 * from its 1 ms timer, which runs late on a busy thread and then sent
 * everything due at once.
 */
import { describe, expect, it } from 'vitest';
import type { BenchConnection } from '../../bench/load/bench-connection.ts';
import { LoadRecorder } from '../../bench/load/load-recorder.ts';
import type { ThreadSetup } from '../../bench/load/messages.ts';
import { FanOutDriver, PUBLISHER, SUBSCRIBER } from '../../bench/load/scenarios/fan-out.ts';

/** A fan-out driver on no wire: publications are recorded, connections are plain objects. */
class RecordingDriver extends FanOutDriver {
  protected readonly protocols: readonly string[] = [];
  readonly written: number[] = [];

  protected beginJoin(): void {}

  protected writePublication(_conn: BenchConnection, _id: number, sentAt: number): void {
    this.written.push(sentAt);
  }

  onMessage(): void {}

  addPublisher(conn: BenchConnection): void {
    this.opened(conn);
  }

  deliver(conn: BenchConnection): void {
    this.delivered(conn, 0, 16);
  }
}

function fakeConnection(role: number): BenchConnection {
  return {
    role,
    isOpen: true,
    inflight: 0,
    head: 0,
    nextId: 0,
    sendTimes: new Float64Array(512),
    sendIds: new Float64Array(512),
    readClock: () => performance.timeOrigin + performance.now(),
  } as unknown as BenchConnection;
}

function pacedSetup(publishRate: number): ThreadSetup {
  return {
    threadIndex: 0,
    threadCount: 1,
    kind: 'broadcast',
    target: { host: '127.0.0.1', port: 1, path: '/', protocols: [], tls: null },
    publisherTarget: null,
    publishRate,
    connections: 0,
    subscribers: 1,
    publishers: 1,
    inflight: 4,
    payloadBytes: 16,
    maxMessages: 1_000_000,
    timeoutMs: 5000,
    connectConcurrency: 1,
  };
}

describe('paced fan-out', () => {
  it('sends what is due from the deliveries it reads while its timer cannot run', () => {
    const driver = new RecordingDriver(pacedSetup(1000), new LoadRecorder(), new Uint8Array(4));
    driver.addPublisher(fakeConnection(PUBLISHER));
    const subscriber = fakeConnection(SUBSCRIBER);
    driver.start();
    try {
      // Busy past five due times without yielding: the 1 ms timer cannot fire meanwhile.
      const startedAt = performance.now();
      while (performance.now() - startedAt < 5);
      expect(driver.written).toHaveLength(0);
      for (let i = 0; i < 8; i++) driver.deliver(subscriber);
      // 1,000 per second, at least 5 ms in: at least five are due, and they left from the deliveries.
      expect(driver.written.length).toBeGreaterThanOrEqual(5);
    } finally {
      driver.stop();
    }
  });
});
