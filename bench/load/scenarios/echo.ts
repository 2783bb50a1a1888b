/**
 * `echo`: N connections, each with P binary messages of a fixed size in
 * flight; every echo is timed from its send and answered with the next send.
 */
import { randomBytes } from 'node:crypto';
import { Opcode } from '../../../src/protocol/constants.ts';
import { encodeFrame } from '../../../src/protocol/frame-encoder.ts';
import type { BenchConnection } from '../bench-connection.ts';
import type { LoadRecorder } from '../load-recorder.ts';
import type { ThreadSetup } from '../messages.ts';
import { PipelinedDriver, ringSizeFor } from './driver.ts';

/** Echo round trips with P in flight per connection. */
export class EchoDriver extends PipelinedDriver {
  /** A reply is checked (kind and length) and timed inside onMessage, nothing of it kept. */
  readonly lendsMessages = true;
  /** Replies that are exactly the echo (binary, one frame, the payload's length) are counted unread (frame-skimmer.ts). */
  readonly skimmedMessageBytes: number;

  /** One pre-built masked frame, written for every message. */
  private readonly frame: Buffer;
  private readonly payloadBytes: number;

  constructor(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array) {
    super(setup, recorder, mask);
    this.payloadBytes = setup.payloadBytes;
    this.skimmedMessageBytes = setup.payloadBytes;
    this.frame = encodeFrame(Opcode.BINARY, randomBytes(setup.payloadBytes), { mask });
  }

  setup(): Promise<void> {
    return this.openConnections(this.setupInfo.connections, [], ringSizeFor(this.inflightLimit), () => 0);
  }

  protected sendOne(conn: BenchConnection): void {
    if (!this.takeBudget()) return;
    conn.sendTimes[(conn.head + conn.inflight) & (conn.sendTimes.length - 1)] = performance.now();
    conn.inflight++;
    conn.write(this.frame);
  }

  onMessage(conn: BenchConnection, data: Buffer, isBinary: boolean): void {
    if (conn.inflight === 0) {
      conn.fail('protocol', 'message without a request in flight');
      return;
    }
    if (!isBinary || data.length !== this.payloadBytes) {
      conn.fail('protocol', `echo mismatch: ${isBinary ? 'binary' : 'text'} of ${data.length} bytes, sent binary of ${this.payloadBytes}`);
      return;
    }
    this.replied(conn);
  }

  onSkimmedMessage(conn: BenchConnection): void {
    if (conn.inflight === 0) conn.fail('protocol', 'message without a request in flight');
    else this.replied(conn);
  }

  /** The echo of the oldest request in flight arrived. */
  private replied(conn: BenchConnection): void {
    const sentAt = conn.sendTimes[conn.head];
    conn.head = (conn.head + 1) & (conn.sendTimes.length - 1);
    conn.inflight--;
    this.recorder.record(performance.now() - sentAt, this.payloadBytes);
    if (this.sending && conn.isOpen) this.sendOne(conn);
  }
}
