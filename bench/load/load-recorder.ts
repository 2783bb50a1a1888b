/**
 * A generator thread's counters: what happened inside the measured window
 * (messages, bytes, latency histogram) and every failure over the whole run.
 */
import type { Histogram } from 'hdr-histogram-js';
import type { BenchConnection, FailureKind } from './bench-connection.ts';
import { createLatencyHistogram, recordLatencyUs } from './histogram.ts';
import type { ErrorCounts } from './messages.ts';

/** How many distinct failure reasons are kept for the report. */
const MAX_ERROR_SAMPLES = 5;

/** Counters of one generator thread. */
export class LoadRecorder {
  /** True between the end of warm-up and the end of the window. */
  measuring: boolean;
  messages: number;
  bytes: number;
  secondary: number;
  /** All messages completed since start (warm-up included), for the progress line. */
  total: number;
  readonly histogram: Histogram;
  readonly errors: ErrorCounts;
  readonly errorSamples: string[];
  /** performance.now() when the thread reached its message cap inside the window, or 0. */
  cappedAt: number;

  constructor() {
    this.measuring = false;
    this.messages = 0;
    this.bytes = 0;
    this.secondary = 0;
    this.total = 0;
    this.histogram = createLatencyHistogram();
    this.errors = { handshakeFailures: 0, unexpectedCloses: 0, protocolErrors: 0, timeouts: 0 };
    this.errorSamples = [];
    this.cappedAt = 0;
  }

  /** Start the measured window: forget warm-up counts (failures are kept; the histogram too when asked). */
  beginWindow(keepHistogram: boolean): void {
    this.messages = 0;
    this.bytes = 0;
    this.secondary = 0;
    if (!keepHistogram) this.histogram.reset();
    this.measuring = true;
  }

  /** One completed message: its latency in milliseconds and its payload size. */
  record(latencyMs: number, bytes: number): void {
    this.total++;
    if (!this.measuring) return;
    this.messages++;
    this.bytes += bytes;
    recordLatencyUs(this.histogram, latencyMs * 1000);
  }

  /** Count the failure of a connection that ended (no-op for a clean end). */
  countEnd(conn: BenchConnection): void {
    if (conn.failure !== null) this.countFailure(conn.failure, conn.failureReason);
  }

  /** Count one failure and keep its reason as a sample. */
  countFailure(kind: FailureKind, reason: string): void {
    switch (kind) {
      case 'handshake':
        this.errors.handshakeFailures++;
        break;
      case 'unexpectedClose':
        this.errors.unexpectedCloses++;
        break;
      case 'protocol':
        this.errors.protocolErrors++;
        break;
      case 'timeout':
        this.errors.timeouts++;
        break;
    }
    const sample = `${kind}: ${reason}`;
    if (this.errorSamples.length < MAX_ERROR_SAMPLES && !this.errorSamples.includes(sample)) this.errorSamples.push(sample);
  }
}
