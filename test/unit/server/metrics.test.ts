import { HistogramTotals } from '../../../src/telemetry/histogram.ts';
import { describe, expect, it } from 'vitest';
import { ConnectionTally, type AdminSource, type ServerState } from '../../../src/server/admin-stats.ts';
import type { WorkerLoad } from '../../../src/transport/messages.ts';
import { emptyConnectionStats } from '../../../src/transport/messages.ts';
import { createMetricsRegistry } from '../../../src/server/metrics.ts';
import { emptyPrimaryStats, type PrimaryStats } from '../../../src/transport/primary.ts';
import { emptyBrokerStats, type BrokerStatus } from '../../../src/telemetry/broker-stats.ts';
import type { WorkerGauges } from '../../../src/telemetry/worker-metrics.ts';
import { parseSamples } from '../../helpers/prometheus.ts';

const primaryStats = emptyPrimaryStats;

/** A source whose values the test changes between scrapes. */
function fakeSource(): { source: AdminSource; stats: PrimaryStats; workers: WorkerLoad[]; setState(state: ServerState): void; setBroker(broker: BrokerStatus | null): void } {
  const stats = primaryStats();
  const workers: WorkerLoad[] = [];
  let state: ServerState = 'serving';
  let broker: BrokerStatus | null = null;
  const source: AdminSource = {
    stats,
    get state() {
      return state;
    },
    workers: () => workers,
    broker: () => broker,
    allWorkersServing: () => true,
    histograms: new HistogramTotals(),
  };
  return { source, stats, workers, setState: (next) => (state = next), setBroker: (next) => (broker = next) };
}

/** A worker's report gauges, all zero but its broker. */
function gaugesWith(broker: BrokerStatus | null): WorkerGauges {
  return {
    connections: 0,
    mailboxDepth: 0,
    sendBufferBytes: 0,
    pubsubBacklogBytes: 0,
    eventLoopLagMeanSeconds: 0,
    eventLoopLagP99Seconds: 0,
    eventLoopLagMaxSeconds: 0,
    eventLoopUtilization: 0,
    broker,
  };
}


async function scrape(source: AdminSource, tally: ConnectionTally): Promise<Map<string, number>> {
  return parseSamples(await createMetricsRegistry(source, tally).metrics());
}

describe('createMetricsRegistry', () => {
  it('mirrors the primary counters at each scrape', async () => {
    const { source, stats, workers } = fakeSource();
    workers.push({ workerId: 3, connections: 0, gauges: null });
    const tally = new ConnectionTally();
    const registry = createMetricsRegistry(source, tally);
    let values = parseSamples(await registry.metrics());
    expect(values.get('shoal_connections_accepted_total')).toBe(0);
    expect(values.get('shoal_connections_active')).toBe(0);
    Object.assign(stats, { accepted: 7, active: 4, completed: 3, messagesIn: 11, messagesOut: 12, bytesIn: 130, bytesOut: 140 });
    Object.assign(stats, { lostToWorkerExit: 2, slowConsumers: 1, mailboxPauses: 5, transferFailures: 1 });
    values = parseSamples(await registry.metrics());
    expect(values.get('shoal_connections_accepted_total')).toBe(7);
    expect(values.get('shoal_connections_active')).toBe(4);
    expect(values.get('shoal_connections_completed_total')).toBe(3);
    expect(values.get('shoal_messages_received_total')).toBe(11);
    expect(values.get('shoal_messages_sent_total')).toBe(12);
    expect(values.get('shoal_received_bytes_total')).toBe(130);
    expect(values.get('shoal_sent_bytes_total')).toBe(140);
    expect(values.get('shoal_connections_lost_total')).toBe(2);
    expect(values.get('shoal_slow_consumers_total')).toBe(1);
    expect(values.get('shoal_mailbox_pauses_total')).toBe(5);
    expect(values.get('shoal_connection_transfer_failures_total')).toBe(1);
  });

  it('labels the 503s by reason', async () => {
    const { source, stats } = fakeSource();
    Object.assign(stats, { rejected: 6, rejectedConnectionLimit: 1, rejectedBacklog: 2, rejectedShutdown: 3 });
    const values = await scrape(source, new ConnectionTally());
    expect(values.get('shoal_connections_rejected_total{reason="connection_limit"}')).toBe(1);
    expect(values.get('shoal_connections_rejected_total{reason="accept_backlog"}')).toBe(2);
    expect(values.get('shoal_connections_rejected_total{reason="shutting_down"}')).toBe(3);
  });

  it('reports handshake refusals by status and closes by code from the tally', async () => {
    const { source } = fakeSource();
    const tally = new ConnectionTally();
    const end = (overrides: object) => tally.record({ ...emptyConnectionStats(1), ...overrides });
    end({ handshakeStatus: 101, closeCode: 1000 });
    end({ handshakeStatus: 101, closeCode: 1006, closeTimedOut: true, writePauses: 3 });
    end({ handshakeStatus: 400 });
    end({ handshakeStatus: 400 });
    end({ handshakeStatus: 431 });
    end({ handshakeStatus: 0 });
    const values = await scrape(source, tally);
    expect(values.get('shoal_upgrades_total')).toBe(2);
    expect(values.get('shoal_handshake_refusals_total{status="400"}')).toBe(2);
    expect(values.get('shoal_handshake_refusals_total{status="431"}')).toBe(1);
    expect(values.get('shoal_handshakes_abandoned_total')).toBe(1);
    expect(values.get('shoal_closes_total{code="1000"}')).toBe(1);
    expect(values.get('shoal_closes_total{code="1006"}')).toBe(1);
    expect(values.get('shoal_close_timeouts_total')).toBe(1);
    expect(values.get('shoal_write_pauses_total')).toBe(3);
  });

  it('has one per-worker gauge per live worker, dropping replaced ones', async () => {
    const { source, workers } = fakeSource();
    const registry = createMetricsRegistry(source, new ConnectionTally());
    workers.push({ workerId: 1, connections: 2, gauges: null }, { workerId: 2, connections: 5, gauges: null });
    let values = parseSamples(await registry.metrics());
    expect(values.get('shoal_workers_alive')).toBe(2);
    expect(values.get('shoal_worker_connections_active{worker="1"}')).toBe(2);
    expect(values.get('shoal_worker_connections_active{worker="2"}')).toBe(5);
    workers.splice(0, 1, { workerId: 9, connections: 0, gauges: null });
    values = parseSamples(await registry.metrics());
    expect(values.has('shoal_worker_connections_active{worker="1"}')).toBe(false);
    expect(values.get('shoal_worker_connections_active{worker="9"}')).toBe(0);
  });

  it('reports each broker connection by worker, the primary\'s as "primary", and only declarations without a broker', async () => {
    const { source, workers, setBroker } = fakeSource();
    const registry = createMetricsRegistry(source, new ConnectionTally());
    workers.push({ workerId: 4, connections: 0, gauges: gaugesWith(null) });
    const without = await registry.metrics();
    expect(without).toContain('# TYPE shoal_broker_up gauge');
    expect([...parseSamples(without).keys()].filter((name) => name.startsWith('shoal_broker_'))).toEqual([]);

    setBroker({ ...emptyBrokerStats(), state: 'ready', published: 5, unavailable: 1 });
    workers.splice(0, 1, {
      workerId: 4,
      connections: 0,
      gauges: gaugesWith({ ...emptyBrokerStats(), state: 'reconnecting', published: 7, received: 9, gaps: 2, gapMs: 1500, lost: 3, overloaded: 4, outgoingBytes: 640 }),
    });
    const values = parseSamples(await registry.metrics());
    expect(values.get('shoal_broker_up{worker="primary"}')).toBe(1);
    expect(values.get('shoal_broker_up{worker="4"}')).toBe(0);
    expect(values.get('shoal_broker_published_total{worker="primary"}')).toBe(5);
    expect(values.get('shoal_broker_published_total{worker="4"}')).toBe(7);
    expect(values.get('shoal_broker_received_total{worker="4"}')).toBe(9);
    expect(values.get('shoal_broker_gaps_total{worker="4"}')).toBe(2);
    expect(values.get('shoal_broker_gap_seconds_total{worker="4"}')).toBe(1.5);
    expect(values.get('shoal_broker_lost_total{worker="4"}')).toBe(3);
    expect(values.get('shoal_broker_refused_total{worker="primary",reason="unavailable"}')).toBe(1);
    expect(values.get('shoal_broker_refused_total{worker="4",reason="overloaded"}')).toBe(4);
    expect(values.get('shoal_broker_refused_total{worker="4",reason="unavailable"}')).toBe(0);
    expect(values.get('shoal_broker_outgoing_bytes{worker="4"}')).toBe(640);
  });

  it('says whether the server accepts connections', async () => {
    const { source, setState } = fakeSource();
    const registry = createMetricsRegistry(source, new ConnectionTally());
    expect(parseSamples(await registry.metrics()).get('shoal_accepting')).toBe(1);
    setState('shutting-down');
    expect(parseSamples(await registry.metrics()).get('shoal_accepting')).toBe(0);
  });

  it('includes the process metrics, event-loop lag of this thread among them', async () => {
    const text = await createMetricsRegistry(fakeSource().source, new ConnectionTally()).metrics();
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds [\d.e-]+/m);
  });

  it('lets two servers in one process keep separate metrics', async () => {
    const first = fakeSource();
    const second = fakeSource();
    first.stats.accepted = 1;
    second.stats.accepted = 2;
    const a = createMetricsRegistry(first.source, new ConnectionTally());
    const b = createMetricsRegistry(second.source, new ConnectionTally());
    expect(parseSamples(await a.metrics()).get('shoal_connections_accepted_total')).toBe(1);
    expect(parseSamples(await b.metrics()).get('shoal_connections_accepted_total')).toBe(2);
  });

  it('declares a type and help for every metric, with units in the names', async () => {
    const text = await createMetricsRegistry(fakeSource().source, new ConnectionTally()).metrics();
    const types = [...text.matchAll(/^# TYPE (shoal_\w+) (\w+)$/gm)].map((match) => [match[1], match[2]] as const);
    expect(types.length).toBeGreaterThanOrEqual(20);
    for (const [name, type] of types) {
      expect(text).toContain(`# HELP ${name} `);
      if (type === 'counter') expect(name).toMatch(/_total$/);
      else expect(name).not.toMatch(/_total$/);
    }
  });
});
