/**
 * The Prometheus metrics of one server (prom-client), read from the primary
 * at scrape time: every metric has a `collect` that copies its value from the
 * primary's counters, the pool's per-worker counts and the workers' latest
 * reports, or the ConnectionTally. The workers' hot path only adds to plain
 * numbers (telemetry/worker-metrics.ts); their histograms arrive as deltas
 * and are served from the primary's sums (`SummedHistogram`). Units are in
 * the names (`_bytes`, `_seconds`, `_total` for counters).
 *
 * Process metrics (CPU, memory, event-loop lag of the primary thread, heap
 * and GC of the main isolate) come from prom-client's default collectors,
 * registered once per process: the process is shared by all its servers.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { HistogramDefinition, HistogramTotals } from '../telemetry/histogram.ts';
import { REQUEST_DURATION, WORKER_HISTOGRAMS } from '../telemetry/metric-definitions.ts';
import type { WorkerGauges } from '../telemetry/worker-metrics.ts';
import type { BrokerStats, BrokerStatus } from '../telemetry/broker-stats.ts';
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

/** A gauge that mirrors a value kept elsewhere. */
function mirrorGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** A gauge with one label that mirrors a map of values; reset first, so a label gone from the map (a replaced worker) disappears. */
function mirrorLabelledGauge(registry: Registry, name: string, help: string, label: string, read: () => Iterable<[string, number]>): void {
  new Gauge({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, amount] of read()) this.set({ [label]: value }, amount);
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
  ['messagesIn', 'shoal_messages_received_total', 'Messages received, open connections included (workers report every 0.5 s)'],
  ['messagesOut', 'shoal_messages_sent_total', 'Messages sent, open connections included (workers report every 0.5 s)'],
  ['bytesIn', 'shoal_received_bytes_total', 'Wire bytes received, open connections included (workers report every 0.5 s)'],
  ['bytesOut', 'shoal_sent_bytes_total', 'Wire bytes sent, open connections included (workers report every 0.5 s)'],
];

/** Per-worker gauges from the workers' reports: name, help, the field. */
const WORKER_GAUGES: readonly [string, string, Exclude<keyof WorkerGauges, 'broker'>][] = [
  ['shoal_worker_mailbox_depth', 'Messages waiting in the mailboxes of each worker', 'mailboxDepth'],
  ['shoal_worker_send_buffer_bytes', 'Bytes waiting in the send buffers of each worker', 'sendBufferBytes'],
  ['shoal_worker_pubsub_backlog_bytes', 'Publications each worker forwarded to other workers and not yet acknowledged, in bytes', 'pubsubBacklogBytes'],
  ['shoal_worker_event_loop_lag_mean_seconds', 'Mean event-loop delay of each worker over its last report interval (0.5 s)', 'eventLoopLagMeanSeconds'],
  ['shoal_worker_event_loop_lag_p99_seconds', '99th percentile of the event-loop delay of each worker over its last report interval', 'eventLoopLagP99Seconds'],
  ['shoal_worker_event_loop_lag_max_seconds', 'Largest event-loop delay of each worker over its last report interval', 'eventLoopLagMaxSeconds'],
  ['shoal_worker_event_loop_utilization', 'Share of its last report interval each worker was busy (0..1)', 'eventLoopUtilization'],
];

/** One sample line, as the registry formats it. */
interface SampleValue {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

/**
 * A Prometheus histogram served from the primary's sums of the workers'
 * deltas. prom-client's Histogram only takes observations, not bucket
 * counts, so this implements the registry's metric interface itself.
 */
class SummedHistogram {
  readonly name: string;
  readonly help: string;
  readonly #definition: HistogramDefinition;
  readonly #totals: HistogramTotals;

  constructor(definition: HistogramDefinition, totals: HistogramTotals) {
    this.name = definition.name;
    this.help = definition.help;
    this.#definition = definition;
    this.#totals = totals;
  }

  /** What the registry reads at a scrape. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; values: SampleValue[]; aggregator: 'sum' }> {
    const { name, labelNames, buckets } = this.#definition;
    const values: SampleValue[] = [];
    for (const series of this.#totals.series(name)) {
      const labels: Record<string, string | number> = {};
      for (let i = 0; i < labelNames.length; i++) labels[labelNames[i] as string] = series.labels[i] ?? '';
      let cumulative = 0;
      for (let i = 0; i <= buckets.length; i++) {
        cumulative += series.counts[i] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: i < buckets.length ? (buckets[i] as number) : '+Inf' }, value: cumulative });
      }
      values.push({ metricName: `${name}_sum`, labels, value: series.sum });
      values.push({ metricName: `${name}_count`, labels, value: series.count });
    }
    return { name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}

/** The `worker` label of the primary's own broker connection (server.publish); workers are labelled by threadId. */
export const PRIMARY_BROKER_LABEL = 'primary';

/** Gauges of every broker connection, labelled by worker: name, help, value. */
const BROKER_GAUGES: readonly [string, string, (broker: BrokerStatus) => number][] = [
  [
    'shoal_broker_up',
    'Broker connections ready (1) or not (0: connecting, reconnecting after a loss or stall, closed), by worker ("primary": server.publish)',
    (broker) => (broker.state === 'ready' ? 1 : 0),
  ],
  [
    'shoal_broker_outgoing_bytes',
    'Bytes sent to the broker and not yet acknowledged by it, by worker (past a high-water mark publishers are held, at a maximum refused with OVERLOADED)',
    (broker) => broker.outgoingBytes,
  ],
];

/** Counters of every broker connection, labelled by worker: name, help, value. */
const BROKER_COUNTERS: readonly [string, string, (broker: BrokerStatus) => number][] = [
  ['shoal_broker_published_total', 'Publications sent to the broker, by worker ("primary": server.publish)', (broker) => broker.published],
  ['shoal_broker_received_total', "Publications of other nodes received from the broker, by worker (the primary's connection only publishes)", (broker) => broker.received],
  ['shoal_broker_gaps_total', 'Times a broker connection was lost or found stalled (each a gap in cross-node delivery, then a reconnect), by worker', (broker) => broker.gaps],
  ['shoal_broker_gap_seconds_total', 'Time broker connections spent not ready after their first connection, summed over the gaps, by worker', (broker) => broker.gapMs / 1000],
  ['shoal_broker_lost_total', 'Publications and events lost with a broker connection (sent, never acknowledged; at most once), by worker', (broker) => broker.lost],
  ['shoal_broker_undecodable_total', 'Messages from the broker dropped because this node cannot decode them (another format version, truncated), by worker', (broker) => broker.undecodable],
];

/** Publications refused by the broker side, as the `reason` label: BROKER_UNAVAILABLE (and sendTo calls refused) or OVERLOADED. */
const BROKER_REFUSALS: readonly [keyof BrokerStats, string][] = [
  ['unavailable', 'unavailable'],
  ['overloaded', 'overloaded'],
];

/** Every broker connection of the server with its `worker` label: the primary's, then each live worker's (from its latest report). */
function brokerStatuses(source: AdminSource): [string, BrokerStatus][] {
  const statuses: [string, BrokerStatus][] = [];
  const primary = source.broker();
  if (primary !== null) statuses.push([PRIMARY_BROKER_LABEL, primary]);
  for (const worker of source.workers()) {
    const broker = worker.gauges?.broker ?? null;
    if (broker !== null) statuses.push([String(worker.workerId), broker]);
  }
  return statuses;
}

/** The broker metrics: nothing but their declarations on a node without `broker`. */
function registerBrokerMetrics(registry: Registry, source: AdminSource): void {
  for (const [name, help, read] of BROKER_GAUGES) {
    mirrorLabelledGauge(registry, name, help, 'worker', () => brokerStatuses(source).map(([worker, broker]) => [worker, read(broker)]));
  }
  for (const [name, help, read] of BROKER_COUNTERS) {
    mirrorLabelledCounter(registry, name, help, 'worker', () => brokerStatuses(source).map(([worker, broker]) => [worker, read(broker)]));
  }
  new Counter({
    name: 'shoal_broker_refused_total',
    help: 'Publications refused because of the broker, by worker and reason: unavailable (BROKER_UNAVAILABLE, sendTo to another node included) or overloaded (OVERLOADED, its outgoing buffer full)',
    labelNames: ['worker', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [worker, broker] of brokerStatuses(source)) {
        for (const [field, reason] of BROKER_REFUSALS) this.inc({ worker, reason }, broker[field]);
      }
    },
  });
}

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
  mirrorGauge(registry, 'shoal_connections_active', 'Connections handed to workers and not ended, queued ones included', () => source.stats.active);
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
  mirrorCounter(registry, 'shoal_connection_internal_errors_total', 'Connections closed by an internal error of their worker (a bug; each is logged, rate-limited)', () => tally.internalErrors);
  mirrorCounter(registry, 'shoal_http_requests_aborted_total', 'HTTP connections the client reset or closed in the middle of a request (head or body part-sent, response not complete)', () => tally.httpAborted);
  mirrorGauge(registry, 'shoal_workers_alive', 'Worker threads serving connections', () => source.workers().length);
  mirrorLabelledGauge(registry, 'shoal_worker_connections_active', 'Connections handed to each worker and not ended', 'worker', () =>
    source.workers().map((worker) => [String(worker.workerId), worker.connections]),
  );
  for (const [name, help, field] of WORKER_GAUGES) {
    mirrorLabelledGauge(registry, name, help, 'worker', () =>
      source.workers().flatMap((worker) => (worker.gauges === null ? [] : [[String(worker.workerId), worker.gauges[field]] as [string, number]])),
    );
  }
  for (const definition of WORKER_HISTOGRAMS) registry.registerMetric(new SummedHistogram(definition, source.histograms) as unknown as Metric);
  new Counter({
    name: 'shoal_requests_total',
    help: 'Requests answered, by method and outcome (exact; shoal_request_duration_seconds times a sample of them)',
    labelNames: ['method', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const series of source.histograms.series(REQUEST_DURATION.name)) {
        this.inc({ method: series.labels[0] ?? '', outcome: series.labels[1] ?? '' }, series.total);
      }
    },
  });
  registerBrokerMetrics(registry, source);
  mirrorGauge(registry, 'shoal_ready', '1 while /readyz answers 200 (serving, every worker up and reporting), 0 otherwise', () =>
    source.state === 'serving' && source.allWorkersServing() ? 1 : 0,
  );
  mirrorGauge(registry, 'shoal_accepting', '1 while the server accepts connections, 0 while starting or shutting down', () => (source.state === 'serving' ? 1 : 0));
  return Registry.merge([registry, processMetrics()]);
}
