/**
 * Entry of a connection worker thread (started by the primary's piscina pool,
 * src/transport/connection-pool.ts). Its default export is the one task each
 * worker runs for its whole life: it reads `workerData` once, starts the
 * worker with `startConnectionWorker`, and never settles. Importing this
 * module starts nothing.
 */
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { loadApp } from '../app/load-app.ts';
import { createWorkerServices, type AppServices } from '../app/services.ts';
import { BatchedLineDestination } from '../telemetry/batched-line-destination.ts';
import { createPinoLogger, log, setThreadLogger } from '../telemetry/logger.ts';
import { setLogRateLimit } from '../telemetry/rate-limited-log.ts';
import { ConnectionHost } from '../transport/connection-host.ts';
import { startSweeper, sweepIntervalMs } from '../transport/heartbeat.ts';
import type { ControlMessage, LaneTask, WorkerConfig } from '../transport/messages.ts';
import { WorkerAcceptor } from '../transport/worker-acceptor.ts';
import { WorkerLane } from '../transport/worker-lane.ts';
import { CPU_WORKER_URL } from './entry-urls.ts';
import { startReporter } from './worker-reporter.ts';

/** What a started connection worker owns. */
export interface ConnectionWorker {
  readonly services: AppServices;
  readonly host: ConnectionHost;
  readonly lane: WorkerLane;
  /** Stop the sweeper and the reporter, close the control channel and the app services. */
  stop(): Promise<void>;
}

/**
 * Starts a connection worker: installs its logger (pino, made on the first
 * line, writing to the primary through the lane), loads the app, joins the
 * other workers' bus (the app services, so they know this worker's topic
 * interest before its first connection), builds the connection host, starts
 * the sweeper of every per-connection deadline and listens for the primary's
 * control messages, then serves the lane on `port` and reports on it.
 */
export function startConnectionWorker(config: WorkerConfig, port: LaneTask['port'], workerId: number = threadId): ConnectionWorker {
  let lane: WorkerLane | null = null;
  const lines = new BatchedLineDestination((batch) => lane?.postLog(batch));
  setThreadLogger(() => createPinoLogger(config.logLevel, lines));
  setLogRateLimit(config.logRateLimit);
  const services = createWorkerServices({
    workerId,
    namespace: config.controlChannel,
    app: config.app,
    cpuWorkerFilename: CPU_WORKER_URL,
    logLevel: config.logLevel,
    // The CPU pool threads' lines leave with this worker's own, on the lane.
    logLines: (batch) => lines.write(batch),
    broker: config.broker,
  });
  const host = new ConnectionHost(config, loadApp(config.app), services, workerId);
  const stopSweeper = startSweeper(sweepIntervalMs(config), (now) => host.sweep(now));
  const control = new BroadcastChannel(config.controlChannel);
  control.unref();
  let acceptor: WorkerAcceptor | null = null;
  control.onmessage = (event: unknown) => {
    const message = (event as { data: ControlMessage }).data;
    if (message.type === 'shutdown') {
      // Workers that accept themselves stop first: new clients are then refused by the kernel.
      acceptor?.stop();
      host.shutdown(message.code, message.reason);
    } else if (message.type === 'tls') {
      try {
        host.reloadTls(message);
      } catch (error) {
        // The primary checked the files; a worker that still cannot use them keeps the old ones.
        log().error({ err: error }, 'the new TLS certificate cannot be used; this worker keeps the old one');
      }
    }
  };
  lane = new WorkerLane(
    port,
    workerId,
    (received, done) => host.serve(received, done),
    (order) => {
      acceptor ??= new WorkerAcceptor(order, host, lane as WorkerLane, config.closeTimeoutMs);
    },
  );
  const stopReporter = startReporter(lane, host, services);
  return {
    services,
    host,
    lane,
    async stop() {
      stopReporter();
      acceptor?.stop();
      lines.flush();
      stopSweeper();
      control.close();
      await services.close();
    },
  };
}

/** piscina task: serves the lane until the worker is stopped (it never settles on its own). */
export default function runLane(task: LaneTask): Promise<void> {
  startConnectionWorker(workerData as WorkerConfig, task.port);
  return new Promise<void>(() => {});
}
