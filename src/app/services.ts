/**
 * The app layer's per-worker services: the bus to the other workers, the
 * pub/sub tables, the event router and the optional CPU pool. One set per
 * worker thread, created when the worker creates its first Shoal session
 * (or by `startWorkerServices()` at worker start-up).
 */
import { availableParallelism } from 'node:os';
import { BroadcastChannel, isMainThread, threadId, workerData } from 'node:worker_threads';
import { CpuPool } from './cpu-pool.ts';
import { PubSub, type PubSubOptions, DEFAULT_PUBSUB_OPTIONS } from './pubsub.ts';
import { Router } from './routing.ts';
import { BroadcastChannelBus, type WorkerBus } from './worker-bus.ts';

/** What sessions use from their worker. */
export interface AppServices {
  readonly pubsub: PubSub;
  readonly router: Router;
  /** The CPU pool, created on first use; null when CPU methods cannot run in a pool here (then they run inline). */
  cpuPool(): CpuPool | null;
  /** Say bye to the other workers and release channels and the CPU pool. */
  close(): Promise<void>;
}

export interface AppServicesOptions extends Partial<PubSubOptions> {
  /** Creates the CPU pool on first use; return null to run CPU methods inline. */
  readonly createCpuPool: () => CpuPool | null;
}

/** Wire a bus to fresh pub/sub and routing tables and introduce this worker to the others. */
export function createAppServices(bus: WorkerBus, options: AppServicesOptions): AppServices {
  const pubsub = new PubSub(bus, options);
  const router = new Router(bus);
  let pool: CpuPool | null | undefined;
  bus.listen((message) => {
    if (!pubsub.receive(message)) router.receive(message);
  });
  pubsub.start();
  return {
    pubsub,
    router,
    cpuPool() {
      if (pool === undefined) pool = options.createCpuPool();
      return pool;
    },
    async close() {
      pubsub.stop();
      bus.close();
      await pool?.close();
    },
  };
}

/** What this module reads from the worker's piscina workerData (see src/transport/messages.ts). */
interface WorkerDataShape {
  readonly app?: string;
  readonly controlChannel?: string;
}

let current: AppServices | null = null;

function serverData(): WorkerDataShape {
  return (isMainThread ? undefined : (workerData as WorkerDataShape | undefined)) ?? {};
}

/**
 * The namespace of this server's channels. In a server worker it comes from
 * the server's control channel name (unique per server), so two servers in
 * one process never mix; elsewhere (tests, embedding) a per-process name.
 */
function serverNamespace(): string {
  const data = serverData();
  return data.controlChannel !== undefined ? `${data.controlChannel}.app` : `shoal.app.${process.pid}`;
}

/**
 * A BroadcastChannel shared by the workers of this server only, for apps
 * that keep their own state in step across workers (e.g. the chat example's
 * room history). The channel is unref'd; close it when done.
 */
export function serverChannel(name: string): BroadcastChannel {
  const channel = new BroadcastChannel(`${serverNamespace()}.user.${name}`);
  channel.unref();
  return channel;
}

/** The services of this thread, created on first use. */
export function workerServices(): AppServices {
  if (current !== null) return current;
  const namespace = serverNamespace();
  const appSpec = serverData().app;
  current = createAppServices(new BroadcastChannelBus(namespace, threadId), {
    ...DEFAULT_PUBSUB_OPTIONS,
    createCpuPool: () =>
      appSpec === undefined
        ? null
        : new CpuPool(appSpec, {
            // Each connection worker has its own pool; together they may use every core.
            maxThreads: Math.max(1, Math.floor(availableParallelism() / 2)),
            idleTimeoutMs: 30_000,
          }),
  });
  return current;
}

/** Start this worker's services now, so other workers know it before its first connection. */
export function startWorkerServices(): void {
  workerServices();
}
