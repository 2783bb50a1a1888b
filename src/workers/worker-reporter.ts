/**
 * The worker's periodic report to the primary: every REPORT_INTERVAL_MS it
 * takes the counters and histograms its connections accumulated
 * (telemetry/worker-metrics.ts), measures its gauges (connections, mailbox
 * depth, send buffers, pub/sub backlog, event-loop delay and utilization,
 * its broker's state and counters)
 * and posts one message on its lane. One message per interval whatever the
 * traffic: the hot path never sends anything.
 */
import { brokerStatus } from '../app/broker.ts';
import type { AppServices } from '../app/services.ts';
import { EventLoopMonitor } from '../telemetry/event-loop-monitor.ts';
import { takeCounters, takeHistograms, type WorkerGauges, type WorkerReport } from '../telemetry/worker-metrics.ts';
import type { ConnectionHost } from '../transport/connection-host.ts';
import type { WorkerLane } from '../transport/worker-lane.ts';

/**
 * Half a second: a scrape then reads counts at most about 0.5 s old (the
 * issue asks for at most 1 s), for two small messages a second per worker.
 */
export const REPORT_INTERVAL_MS = 500;

/** Builds one report now (the counters and histograms restart from zero). */
export function buildReport(host: ConnectionHost, services: AppServices, loop: EventLoopMonitor): WorkerReport {
  const connections = host.measure();
  const eventLoop = loop.sample();
  const gauges: WorkerGauges = {
    connections: connections.connections,
    mailboxDepth: connections.mailboxDepth,
    sendBufferBytes: connections.sendBufferBytes,
    pubsubBacklogBytes: services.pubsub.backlogBytes,
    eventLoopLagMeanSeconds: eventLoop.lagMeanSeconds,
    eventLoopLagP99Seconds: eventLoop.lagP99Seconds,
    eventLoopLagMaxSeconds: eventLoop.lagMaxSeconds,
    eventLoopUtilization: eventLoop.utilization,
    broker: brokerStatus(services.broker),
  };
  return { counters: takeCounters(), histograms: takeHistograms(), gauges };
}

/** Starts reporting on `lane`; call the returned function to stop. The timer is unref'd. */
export function startReporter(lane: WorkerLane, host: ConnectionHost, services: AppServices): () => void {
  const loop = new EventLoopMonitor();
  const timer = setInterval(() => lane.report(buildReport(host, services, loop)), REPORT_INTERVAL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    loop.stop();
  };
}
