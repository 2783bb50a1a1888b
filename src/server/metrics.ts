/**
 * The Prometheus metrics of one server (prom-client), read from the primary
 * at scrape time: every metric has a `collect` that copies its value from the
 * primary's counters, the pool's per-worker counts or the ConnectionTally, so
 * the hot path does nothing for metrics. Units are in the names (`_bytes`,
 * `_seconds`, `_total` for counters).
 *
 * Process metrics (CPU, memory, event-loop lag of the primary thread, heap
 * and GC of the main isolate) come from prom-client's default collectors,
 * registered once per process: the process is shared by all its servers.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { AdminSource, ConnectionTally } from './admin-stats.ts';
import type { PrimaryStats } from '../transport/primary.ts';

let processRegistry: Registry | null = null;

/** The process-wide registry of prom-client's default metrics, created on first use. */
function processMetrics(): Registry {
  if (processRegistry === null) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** A counter that mirrors a count kept elsewhere (counters only go up, so reset and add). */
function mirrorCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A counter with one label that mirrors a map of counts. */
function mirrorLabelledCounter(registry: Registry, name: string, help: string, label: string, read: () => Iterable<[string, number]>): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, count] of read()) this.inc({ [label]: value }, count);
    },
  });
}

/** The primary's counters that map one to one to a Prometheus counter. */
const PRIMARY_COUNTERS: readonly [keyof PrimaryStats, string, string][] = [
  ['accepted', 'shoal_connections_accepted_total', 'TCP connections accepted by the primary'],
  ['completed', 'shoal_connections_completed_total', 'Connections that ended in their worker and reported their stats'],
  ['lostToWorkerExit', 'shoal_connections_lost_total', 'Connections lost because their worker died (each such worker is replaced)'],
  ['transferFailures', 'shoal_connection_transfer_failures_total', 'Accepted sockets that could not be handed to a worker'],
  ['slowConsumers', 'shoal_slow_consumers_total', 'Finished connections closed by the slow-consumer policy (1008)'],
  ['mailboxPauses', 'shoal_mailbox_pauses_total', 'Times finished connections stopped reading for a full mailbox'],
  ['messagesIn', 'shoal_messages_received_total', 'Messages received on finished connections'],
  ['messagesOut', 'shoal_messages_sent_total', 'Messages sent on finished connections'],
  ['bytesIn', 'shoal_received_bytes_total', 'Bytes received on finished connections (wire bytes)'],
  ['bytesOut', 'shoal_sent_bytes_total', 'Bytes sent on finished connections (wire bytes)'],
];

/** The primary's 503s by cause, as the `reason` label. */
const REJECTION_REASONS: readonly [keyof PrimaryStats, string][] = [
  ['rejectedConnectionLimit', 'connection_limit'],
  ['rejectedBacklog', 'accept_backlog'],
  ['rejectedShutdown', 'shutting_down'],
];

/**
 * A registry with the server's metrics and the process metrics. Scraping it
 * reads `source` and `tally`; nothing is updated in between.
 */
export function createMetricsRegistry(source: AdminSource, tally: ConnectionTally): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'shoal_connections_active',
    help: 'Connections handed to workers and not ended, queued ones included',
    registers: [registry],
    collect() {
      this.set(source.stats.active);
    },
  });
  for (const [field, name, help] of PRIMARY_COUNTERS) mirrorCounter(registry, name, help, () => source.stats[field]);
  mirrorLabelledCounter(registry, 'shoal_connections_rejected_total', 'Connections the primary refused with 503, by reason', 'reason', () =>
    REJECTION_REASONS.map(([field, reason]) => [reason, source.stats[field]]),
  );
  mirrorCounter(registry, 'shoal_upgrades_total', 'Handshakes answered with 101 Switching Protocols', () => tally.upgraded);
  mirrorLabelledCounter(registry, 'shoal_handshake_refusals_total', 'Handshakes refused by a worker, by HTTP status', 'status', () => tally.refusals);
  mirrorCounter(registry, 'shoal_handshakes_abandoned_total', 'Connections closed before sending a complete request head', () => tally.abandoned);
  mirrorLabelledCounter(registry, 'shoal_closes_total', 'Upgraded connections that ended, by close code (1006: no close frame)', 'code', () => tally.closes);
  mirrorCounter(registry, 'shoal_write_pauses_total', 'Times finished connections stopped reading for a full send buffer', () => tally.writePauses);
  mirrorCounter(registry, 'shoal_close_timeouts_total', 'Connections destroyed because the peer did not finish closing in time', () => tally.closeTimeouts);
  mirrorLabelledCounter(registry, 'shoal_edge_refusals_total', 'Connections refused before the app: bad or late PROXY header, failed TLS handshake, Origin not allowed', 'reason', () => tally.edgeRefusals);
  mirrorCounter(registry, 'shoal_http_requests_total', "Requests served by the app's http handler", () => tally.httpRequests);
  mirrorCounter(registry, 'shoal_http_handler_errors_total', "Requests whose http handler threw or rejected (answered 500, connection closed)", () => tally.httpHandlerErrors);
  mirrorLabelledCounter(registry, 'shoal_http_refusals_total', 'HTTP connections ended by an error answer (bad request, timeout, body or head too large), by status', 'status', () => tally.httpRefusals);
  new Gauge({
    name: 'shoal_workers_alive',
    help: 'Worker threads serving connections',
    registers: [registry],
    collect() {
      this.set(source.workers().length);
    },
  });
  new Gauge({
    name: 'shoal_worker_connections_active',
    help: 'Connections handed to each worker and not ended',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      // Reset first: a replaced worker's label disappears with it.
      this.reset();
      for (const worker of source.workers()) this.set({ worker: String(worker.workerId) }, worker.connections);
    },
  });
  new Gauge({
    name: 'shoal_accepting',
    help: '1 while the server accepts connections, 0 while starting or shutting down',
    registers: [registry],
    collect() {
      this.set(source.state === 'serving' ? 1 : 0);
    },
  });
  return Registry.merge([registry, processMetrics()]);
}
