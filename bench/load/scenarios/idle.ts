/**
 * `idle`: open C connections and hold them through the window without
 * sending data (pings are answered). The main thread reads the server's
 * memory before and after; here only the failures are counted.
 */
import type { BenchConnection } from '../bench-connection.ts';
import type { LoadRecorder } from '../load-recorder.ts';
import { recordLatencyUs } from '../histogram.ts';
import type { ThreadSetup } from '../messages.ts';
import { BaseDriver } from './driver.ts';

/** Holds connections open. */
export class IdleDriver extends BaseDriver {
  constructor(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array) {
    super(setup, recorder, mask);
  }

  setup(): Promise<void> {
    return this.openConnections(this.setupInfo.connections, [], 1, () => 0);
  }

  protected opened(conn: BenchConnection): void {
    // Handshake latency of the setup phase: the only latency an idle run has (kept through beginWindow).
    recordLatencyUs(this.recorder.histogram, (conn.openedAt - conn.startedAt) * 1000);
  }

  onMessage(conn: BenchConnection): void {
    conn.fail('protocol', 'unexpected data message on an idle connection');
  }
}
