/**
 * What every broadcast scenario does on a generator thread, whatever the
 * wire: S subscribers join a topic (on `target`), K publishers (on
 * `publisherTarget` when it is set: another node of a cluster) keep up to P
 * publications in flight, each answered by the server; every publication
 * carries its send time (epoch clock, comparable across threads and
 * processes) so each delivery is timed publish-to-delivery: to the socket
 * read that brought it (a clock read per read, shared by the messages it
 * holds).
 *
 * Publishing is closed-loop (the next publication leaves when an answer
 * comes back, P in flight per publisher) unless `publishRate` is set: then
 * this thread's publishers are paced at that many publications per second
 * in total, whatever the answers, with at most PACED_INFLIGHT unanswered per
 * publisher as a safety bound (a server that cannot keep up shows as a
 * lower publishes/s, not as a growing backlog in the generator). What is
 * due is sent from a 1 ms timer and also every PACE_CHECK_DELIVERIES
 * deliveries: a thread busy reading its subscribers runs its timers late
 * (an event-loop turn that reads 200 sockets lasts milliseconds), and from
 * the timer alone the publications due meanwhile left in one burst (up to
 * 31 at once at 1,300/s, measured): not the even rate the pass is meant to
 * offer (bench/README.md, "Where the half-rate p99 forms").
 *
 * Across nodes (`publisherTarget` set, closed loop) the answer to a
 * publication comes from node A, which knows nothing of node B: a window
 * on answers would let node A take publications faster than node B can
 * deliver them, and measure a backlog. There the window is end to end:
 * the thread's publications not yet received by one of its subscribers
 * (the witness) are limited to P per publisher, so the rate is what the
 * whole cluster sustains.
 *
 * The wire (msgpack envelope, raw messages, Socket.IO packets) is the
 * subclass's: it writes the join and publish messages and classifies what
 * arrives by calling `delivered`, `acknowledged` or `joined`.
 */
import type { BenchConnection, ConnectTarget } from '../bench-connection.ts';
import { epochNow } from '../epoch-clock.ts';
import type { LoadRecorder } from '../load-recorder.ts';
import type { ThreadSetup } from '../messages.ts';
import { BaseDriver, ringSizeFor } from './driver.ts';

export const SUBSCRIBER = 0;
export const PUBLISHER = 1;
/** How often a paced run sends what is due. */
const PACE_INTERVAL_MS = 1;
/** Paced runs: deliveries read between two checks for what is due, between the timer's ticks. */
const PACE_CHECK_DELIVERIES = 8;
/** Paced runs: unanswered publications per publisher past which what is due is skipped. */
export const PACED_INFLIGHT = 256;

/** Fan-out on some wire: joins, paced or closed-loop publishing, delivery latency. */
export abstract class FanOutDriver extends BaseDriver {
  protected readonly pad: Uint8Array;
  protected readonly inflightLimit: number;
  /** Connections that finished their join step (subscribed, or ready to publish). */
  private readonly joinedSet: Set<BenchConnection>;
  private readonly publishers: BenchConnection[];
  private awaitingJoin: number;
  private joinDone: (() => void) | null;
  private pacer: NodeJS.Timeout | null;
  private paceStartedAt: number;
  private paceSent: number;
  /** Deliveries since the pace was last checked from `delivered`. */
  private sincePaceCheck: number;
  private nextPublisher: number;
  /** Cross-node closed loop: the window is publications not yet seen by the witness. */
  private readonly endToEnd: boolean;
  private witness: BenchConnection | null;
  /** This thread's publications (by send time, unique per thread) not yet seen by the witness -> performance.now() at send. */
  private readonly unseen: Map<number, number>;
  private lastSentAt: number;

  constructor(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array) {
    super(setup, recorder, mask);
    this.pad = new Uint8Array(setup.payloadBytes);
    this.inflightLimit = setup.publishRate > 0 ? Math.max(setup.inflight, PACED_INFLIGHT) : setup.inflight;
    this.joinedSet = new Set();
    this.publishers = [];
    this.awaitingJoin = 0;
    this.joinDone = null;
    this.pacer = null;
    this.paceStartedAt = 0;
    this.paceSent = 0;
    this.sincePaceCheck = 0;
    this.nextPublisher = 0;
    this.endToEnd = setup.publisherTarget !== null && setup.publishRate === 0;
    this.witness = null;
    this.unseen = new Map();
    this.lastSentAt = 0;
  }

  /** The subprotocols every connection offers. */
  protected abstract readonly protocols: readonly string[];
  /** Start the join step of a connection that `needsJoin` (write its subscribe or connect message). */
  protected abstract beginJoin(conn: BenchConnection): void;
  /** Write one publication with this request id, carrying `sentAt` (epoch ms). */
  protected abstract writePublication(conn: BenchConnection, id: number, sentAt: number): void;

  /** Which connections must finish a join step before the run starts: subscribers (they subscribe). */
  protected needsJoin(conn: BenchConnection): boolean {
    return conn.role === SUBSCRIBER;
  }

  async setup(): Promise<void> {
    const { subscribers, publishers } = this.setupInfo;
    const joinedAll = new Promise<void>((resolve) => {
      this.joinDone = resolve;
    });
    await this.openConnections(subscribers + publishers, this.protocols, ringSizeFor(this.inflightLimit), (i) => (i < subscribers ? SUBSCRIBER : PUBLISHER));
    if (this.awaitingJoin > 0) await joinedAll;
    this.joinDone = null;
  }

  /** Publishers connect to `publisherTarget` when the run has one (cross-node). */
  protected override targetFor(role: number, protocols: readonly string[]): ConnectTarget {
    const target = role === PUBLISHER && this.setupInfo.publisherTarget !== null ? this.setupInfo.publisherTarget : this.setupInfo.target;
    return { ...target, protocols };
  }

  protected opened(conn: BenchConnection): void {
    if (conn.role === PUBLISHER) this.publishers.push(conn);
    if (this.needsJoin(conn)) {
      this.awaitingJoin++;
      // Timed like any request, so a server that never answers the join counts a timeout.
      conn.sendTimes[conn.head] = performance.now();
      conn.sendIds[conn.head] = -1;
      conn.inflight = 1;
      this.beginJoin(conn);
    } else {
      this.joinedSet.add(conn);
      if (this.sending) this.kick(conn);
    }
  }

  /** The join step of `conn` is answered. */
  protected joined(conn: BenchConnection): void {
    conn.inflight = 0;
    conn.head = (conn.head + 1) & (conn.sendTimes.length - 1);
    this.joinedSet.add(conn);
    if (this.endToEnd && conn.role === SUBSCRIBER && this.witness === null) this.witness = conn;
    this.joinSettled();
    if (this.sending) this.kick(conn);
  }

  /** True once `conn` finished its join step. */
  protected hasJoined(conn: BenchConnection): boolean {
    return this.joinedSet.has(conn);
  }

  protected override ended(conn: BenchConnection): void {
    const index = this.publishers.indexOf(conn);
    if (index !== -1) this.publishers.splice(index, 1);
    if (!this.joinedSet.delete(conn) && conn.openedAt !== 0 && this.needsJoin(conn)) this.joinSettled();
    if (conn === this.witness) {
      // Another subscriber takes over; what the old one had not seen no longer holds the window.
      this.witness = null;
      for (const other of this.joinedSet) if (other.role === SUBSCRIBER && other.isOpen) this.witness = other;
      this.unseen.clear();
      this.kickAll();
    }
  }

  override sweep(now: number): void {
    super.sweep(now);
    // A publication the witness never gets (lost, or its subscription gone) must not shrink the window for good.
    for (const [sentAt, at] of this.unseen) {
      if (now - at <= this.setupInfo.timeoutMs) break;
      this.unseen.delete(sentAt);
    }
  }

  private joinSettled(): void {
    this.awaitingJoin--;
    if (this.awaitingJoin === 0) this.joinDone?.();
  }

  override start(): void {
    super.start();
    if (this.setupInfo.publishRate > 0) {
      this.paceStartedAt = performance.now();
      this.paceSent = 0;
      this.pacer = setInterval(() => this.pace(), PACE_INTERVAL_MS);
    }
  }

  override stop(): void {
    if (this.pacer !== null) clearInterval(this.pacer);
    this.pacer = null;
    super.stop();
  }

  protected override kick(conn: BenchConnection): void {
    if (conn.role !== PUBLISHER || !this.joinedSet.has(conn) || this.setupInfo.publishRate > 0) return;
    while (this.sending && this.mayPublish(conn)) this.publishOne(conn);
  }

  /** Closed loop: room in the connection's window of answers, and across nodes in the end-to-end window. */
  private mayPublish(conn: BenchConnection): boolean {
    if (conn.inflight >= this.inflightLimit) return false;
    return !this.endToEnd || this.witness === null || this.unseen.size < this.inflightLimit * this.publishers.length;
  }

  /** Fill the end-to-end window, one publication per publisher in turn. */
  private kickAll(): void {
    let progress = true;
    while (progress && this.sending) {
      progress = false;
      for (const conn of this.publishers) {
        if (this.sending && conn.isOpen && this.joinedSet.has(conn) && this.setupInfo.publishRate === 0 && this.mayPublish(conn)) {
          this.publishOne(conn);
          progress = true;
        }
      }
    }
  }

  /** Paced runs: send what is due, round robin over the publishers with room; what none has room for is skipped. */
  private pace(): void {
    const due = Math.floor((this.setupInfo.publishRate * (performance.now() - this.paceStartedAt)) / 1000) - this.paceSent;
    let sent = 0;
    let idle = 0;
    while (sent < due && this.sending && idle < this.publishers.length) {
      const conn = this.publishers[this.nextPublisher++ % this.publishers.length];
      if (conn.isOpen && this.joinedSet.has(conn) && conn.inflight < this.inflightLimit) {
        this.publishOne(conn);
        sent++;
        idle = 0;
      } else {
        idle++;
      }
    }
    this.paceSent += Math.max(due, 0);
  }

  private publishOne(conn: BenchConnection): void {
    if (!this.takeBudget()) return;
    const id = conn.nextId++;
    const slot = (conn.head + conn.inflight) & (conn.sendTimes.length - 1);
    conn.sendTimes[slot] = performance.now();
    conn.sendIds[slot] = id;
    conn.inflight++;
    // Send times are unique within the thread (1 µs apart at least): the witness's deliveries are matched by them.
    const sentAt = Math.max(epochNow(), this.lastSentAt + 0.001);
    this.lastSentAt = sentAt;
    if (this.endToEnd && this.witness !== null) this.unseen.set(sentAt, performance.now());
    this.writePublication(conn, id, sentAt);
  }

  /**
   * A delivery to subscriber `conn`, published at `sentAt` (epoch ms), timed to the read that brought it (one
   * clock read per socket read, not per message: BenchConnection.readClock; bench/README.md, "The generator").
   */
  protected delivered(conn: BenchConnection, sentAt: number, bytes: number): void {
    this.recorder.record(conn.readClock() - sentAt, bytes);
    if (this.pacer !== null && ++this.sincePaceCheck >= PACE_CHECK_DELIVERIES) {
      this.sincePaceCheck = 0;
      this.pace();
    }
    if (conn === this.witness && this.unseen.delete(sentAt)) this.kickAll();
  }

  /**
   * The server answered the publication `id` of `conn` (null: the wire has
   * no ids, answers come in order); false when nothing with that id was in
   * flight (the caller fails the connection).
   */
  protected acknowledged(conn: BenchConnection, id: number | null): boolean {
    if (conn.inflight === 0 || (id !== null && id !== conn.sendIds[conn.head])) return false;
    conn.head = (conn.head + 1) & (conn.sendTimes.length - 1);
    conn.inflight--;
    if (this.recorder.measuring) this.recorder.secondary++;
    if (this.endToEnd) this.kick(conn);
    else if (this.sending && conn.isOpen && this.setupInfo.publishRate === 0) this.publishOne(conn);
    return true;
  }
}
