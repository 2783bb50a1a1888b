/**
 * The app that bench/micro/idle-memory.ts serves: echo, plus a control
 * channel on which every worker, when asked, writes a heap snapshot and
 * reports its heap statistics. Diagnostics only; never use it in a server.
 */
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import type { App } from '../../src/app/types.ts';

/** Name of the channel the tool and the workers talk on. */
export const DIAGNOSTICS_CHANNEL = 'shoal.bench.idle-memory';

/** tool -> workers */
export interface SnapshotRequest {
  readonly type: 'snapshot';
  /** File name prefix; each worker appends its threadId. Null: statistics only. */
  readonly prefix: string | null;
}

/** workers -> tool */
export interface SnapshotReply {
  readonly type: 'snapshot-done';
  readonly threadId: number;
  readonly file: string | null;
  readonly usedHeapBytes: number;
  readonly totalHeapBytes: number;
}

if (!isMainThread) {
  const channel = new BroadcastChannel(DIAGNOSTICS_CHANNEL);
  channel.unref();
  channel.onmessage = (event: unknown) => {
    const request = (event as { data: SnapshotRequest | SnapshotReply }).data;
    if (request.type !== 'snapshot') return;
    // Writing a snapshot runs a full GC first, so the statistics after it count live objects.
    const file = request.prefix === null ? null : writeHeapSnapshot(`${request.prefix}-worker${threadId}.heapsnapshot`);
    const heap = getHeapStatistics();
    const reply: SnapshotReply = { type: 'snapshot-done', threadId, file, usedHeapBytes: heap.used_heap_size, totalHeapBytes: heap.total_heap_size };
    channel.postMessage(reply);
  };
}

const app: App = {
  onMessage(ctx, data, isBinary) {
    ctx.sendRaw(data, isBinary);
  },
};

export default app;
