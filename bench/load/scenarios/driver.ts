/**
 * What every socket scenario does on a generator thread, and the shared part:
 * opening connections with a concurrency limit, timeouts, and a bounded close.
 */
import { BenchConnection, ConnState, clientMaxMessageBytes } from '../bench-connection.ts';
import type { ConnectTarget, ConnectionOwner } from '../bench-connection.ts';
import type { LoadRecorder } from '../load-recorder.ts';
import type { ThreadSetup } from '../messages.ts';

/** How long a closing handshake may take before the socket is dropped. */
export const CLOSE_TIMEOUT_MS = 2000;
/** How long in-flight requests may take to come back after the window ends before connections are closed. */
export const DRAIN_TIMEOUT_MS = 2000;

/** The life of one scenario on one generator thread. */
export interface ScenarioDriver {
  /** Open connections (and subscribe etc.); resolves when every attempt opened or failed. */
  setup(): Promise<void>;
  /** Begin generating load. */
  start(): void;
  /** Stop generating new load; in-flight requests may still complete. */
  stop(): void;
  /** Drain, then close every connection; resolves when all ended (bounded by the timeouts above). */
  shutdown(): Promise<void>;
  /** Periodic check (every ~100 ms): timeouts and stuck closes. */
  sweep(now: number): void;
  /** Connections currently open. */
  openCount(): number;
  /** True once the thread has sent its message cap. */
  hitMessageCap(): boolean;
}

/** A power of two >= n (ring buffer sizes). */
export function ringSizeFor(n: number): number {
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

/**
 * The shared base: owns the connections of this thread and counts their
 * failures. Subclasses implement the traffic in `opened`, `onMessage`, `ended`.
 */
export abstract class BaseDriver implements ConnectionOwner, ScenarioDriver {
  protected readonly setupInfo: ThreadSetup;
  protected readonly recorder: LoadRecorder;
  protected readonly mask: Uint8Array;
  /** Connections that have not ended yet. */
  protected readonly conns: Set<BenchConnection>;
  protected sending: boolean;
  protected sent: number;
  protected capped: boolean;
  private opening: number;
  private queued: number;
  private pendingOpen: (() => void) | null;
  private pendingClosed: (() => void) | null;
  private nextIndex: number;
  private launchMore: () => void;

  constructor(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array) {
    this.setupInfo = setup;
    this.recorder = recorder;
    this.mask = mask;
    this.conns = new Set();
    this.sending = false;
    this.sent = 0;
    this.capped = false;
    this.opening = 0;
    this.queued = 0;
    this.pendingOpen = null;
    this.pendingClosed = null;
    this.nextIndex = 0;
    this.launchMore = noop;
  }

  abstract setup(): Promise<void>;
  abstract onMessage(conn: BenchConnection, data: Buffer, isBinary: boolean): void;
  /** Called when a connection's handshake succeeded. */
  protected abstract opened(conn: BenchConnection): void;

  /** Called after a connection ended and its failure was counted. */
  protected ended(_conn: BenchConnection): void {}

  start(): void {
    this.sending = true;
    for (const conn of this.conns) if (conn.isOpen) this.kick(conn);
  }

  /** Fill a connection's pipeline when sending starts (scenarios that send override). */
  protected kick(_conn: BenchConnection): void {}

  stop(): void {
    this.sending = false;
  }

  openCount(): number {
    let open = 0;
    for (const conn of this.conns) if (conn.state === ConnState.OPEN) open++;
    return open;
  }

  hitMessageCap(): boolean {
    return this.capped;
  }

  /** Count one sent message against the cap; false (and sending stops) once the cap is reached. */
  protected takeBudget(): boolean {
    if (this.sent >= this.setupInfo.maxMessages) {
      if (!this.capped && this.recorder.measuring) this.recorder.cappedAt = performance.now();
      this.capped = true;
      this.sending = false;
      return false;
    }
    this.sent++;
    return true;
  }

  /**
   * Open `count` connections, at most `connectConcurrency` handshakes at a
   * time; `roleOf(i)` tags each. Resolves when all opened or failed.
   */
  protected openConnections(count: number, protocols: readonly string[], ringSize: number, roleOf: (i: number) => number): Promise<void> {
    return new Promise((resolve) => {
      this.queued = count;
      this.pendingOpen = resolve;
      const launch = (): void => {
        while (this.queued > 0 && this.opening < this.setupInfo.connectConcurrency) {
          this.queued--;
          this.opening++;
          const index = this.nextIndex;
          this.addConnection(protocols, ringSize, roleOf(index));
        }
        if (this.queued === 0 && this.opening === 0) this.finishOpening();
      };
      this.launchMore = launch;
      launch();
    });
  }

  /** Where a connection of `role` connects, offering `protocols` (the run's target unless a scenario says otherwise). */
  protected targetFor(_role: number, protocols: readonly string[]): ConnectTarget {
    return { ...this.setupInfo.target, protocols };
  }

  /** Create, register and connect one connection. */
  protected addConnection(protocols: readonly string[], ringSize: number, role: number): BenchConnection {
    const conn = new BenchConnection(
      this.nextIndex++,
      this,
      this.targetFor(role, protocols),
      ringSize,
      this.mask,
      clientMaxMessageBytes(this.setupInfo.payloadBytes),
    );
    conn.role = role;
    this.conns.add(conn);
    conn.connect();
    return conn;
  }

  private finishOpening(): void {
    const resolve = this.pendingOpen;
    this.pendingOpen = null;
    this.launchMore = noop;
    resolve?.();
  }

  onOpen(conn: BenchConnection): void {
    if (this.pendingOpen !== null) {
      this.opening--;
      this.launchMore();
    }
    this.opened(conn);
  }

  onEnd(conn: BenchConnection): void {
    this.recorder.countEnd(conn);
    if (this.pendingOpen !== null && conn.openedAt === 0) {
      this.opening--;
      this.launchMore();
    }
    this.conns.delete(conn);
    this.ended(conn);
    if (this.pendingClosed !== null && this.conns.size === 0) {
      const resolve = this.pendingClosed;
      this.pendingClosed = null;
      resolve();
    }
  }

  private hasInflight(): boolean {
    for (const conn of this.conns) if (conn.state === ConnState.OPEN && conn.inflight > 0) return true;
    return false;
  }

  sweep(now: number): void {
    const timeoutMs = this.setupInfo.timeoutMs;
    for (const conn of this.conns) {
      switch (conn.state) {
        case ConnState.CONNECTING:
        case ConnState.HANDSHAKE:
          if (now - conn.startedAt > timeoutMs) conn.fail('timeout', `no handshake answer within ${timeoutMs} ms`);
          break;
        case ConnState.OPEN:
          if (conn.inflight > 0 && now - conn.sendTimes[conn.head] > timeoutMs) {
            conn.fail('timeout', `no answer within ${timeoutMs} ms`);
          }
          break;
        case ConnState.CLOSING:
          if (now - conn.closingAt > CLOSE_TIMEOUT_MS) conn.destroy();
          break;
      }
    }
  }

  async shutdown(): Promise<void> {
    this.sending = false;
    const drainUntil = performance.now() + DRAIN_TIMEOUT_MS;
    while (this.hasInflight() && performance.now() < drainUntil) await delay(20);
    const closed = new Promise<void>((resolve) => {
      this.pendingClosed = resolve;
    });
    for (const conn of this.conns) conn.close();
    if (this.conns.size === 0) this.pendingClosed = null;
    else await closed;
  }
}

/**
 * A scenario that keeps up to `inflight` requests outstanding on every
 * connection (echo, rpc): a connection's pipeline is filled when it opens
 * while sending and when sending starts; `sendOne` sends one request.
 */
export abstract class PipelinedDriver extends BaseDriver {
  protected readonly inflightLimit: number;

  constructor(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array) {
    super(setup, recorder, mask);
    this.inflightLimit = setup.inflight;
  }

  /** Send one request on `conn` (counted against the message budget) and note its send time. */
  protected abstract sendOne(conn: BenchConnection): void;

  protected opened(conn: BenchConnection): void {
    if (this.sending) this.kick(conn);
  }

  protected override kick(conn: BenchConnection): void {
    while (this.sending && conn.inflight < this.inflightLimit) this.sendOne(conn);
  }
}

function noop(): void {}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
