/**
 * `connect`: a connection storm. `connections` loops each open a connection,
 * time the handshake (TCP connect to verified 101), close it cleanly, and
 * start the next one. Handshakes are the messages.
 */
import type { BenchConnection } from '../bench-connection.ts';
import type { LoadRecorder } from '../load-recorder.ts';
import type { ThreadSetup } from '../messages.ts';
import { BaseDriver } from './driver.ts';

/** Handshakes per second with a concurrency limit. */
export class ConnectDriver extends BaseDriver {
  constructor(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array) {
    super(setup, recorder, mask);
  }

  setup(): Promise<void> {
    return Promise.resolve();
  }

  override start(): void {
    this.sending = true;
    for (let i = 0; i < this.setupInfo.connections; i++) this.next();
  }

  private next(): void {
    if (this.sending && this.takeBudget()) this.addConnection([], 1, 0);
  }

  protected opened(conn: BenchConnection): void {
    this.recorder.record(conn.openedAt - conn.startedAt, 0);
    conn.close();
  }

  onMessage(conn: BenchConnection): void {
    conn.fail('protocol', 'unexpected data message during a connect/close cycle');
  }

  protected override ended(): void {
    this.next();
  }
}
