/**
 * The app layer's per-worker services: the bus to the other workers, the
 * pub/sub tables, the event router (with the worker's registry of
 * connections) and the optional CPU pool. One set per connection worker,
 * created by the worker's start-up and passed down to every session.
 */
import { availableParallelism } from 'node:os';
import { BroadcastChannel } from 'node:worker_threads';
import type { Broker } from './broker.ts';
import { CpuPool } from './cpu-pool.ts';
import { PubSub, type PubSubOptions, DEFAULT_PUBSUB_OPTIONS } from './pubsub/pubsub.ts';
import { RedisBroker, type BrokerConfig } from './redis-broker.ts';
import { Router } from './routing.ts';
import { BroadcastChannelBus, type WorkerBus } from './worker-bus.ts';
import type { LogLevel } from '../telemetry/logger.ts';

/** What sessions use from their worker. */
export interface AppServices {
  readonly pubsub: PubSub;
  readonly router: Router;
  /** The cluster broker of this worker, or null on a single node. */
  readonly broker: Broker | null;
  /** The CPU pool, created on first use; null when CPU methods cannot run in a pool here (then they run inline). */
  cpuPool(): CpuPool | null;
  /** Say bye to the other workers and release channels, the broker and the CPU pool. */
  close(): Promise<void>;
}

export interface AppServicesOptions extends Partial<PubSubOptions> {
  /** Creates the CPU pool on first use; return null to run CPU methods inline. */
  readonly createCpuPool: () => CpuPool | null;
}

/** Wire a bus (and a broker) to fresh pub/sub and routing tables and introduce this worker to the others. */
export function createAppServices(bus: WorkerBus, options: AppServicesOptions, broker: Broker | null = null): AppServices {
  const pubsub = new PubSub(bus, options, broker);
  const router = new Router(bus, broker, undefined, pubsub.postTo);
  let pool: CpuPool | null | undefined;
  bus.listen((message) => {
    if (!pubsub.receive(message)) router.receive(message);
  });
  broker?.listen({ publication: pubsub.receiveFromBroker, event: router.receiveEvent });
  pubsub.start();
  return {
    pubsub,
    router,
    broker,
    cpuPool() {
      if (pool === undefined) pool = options.createCpuPool();
      return pool;
    },
    async close() {
      pubsub.stop();
      bus.close();
      await Promise.all([pool?.close(), broker?.close()]);
    },
  };
}

/**
 * The namespace of this thread's server channels. A connection worker sets it
 * from its server's control channel name (unique per server) when it starts,
 * so two servers in one process never mix; elsewhere (tests, embedding) it is
 * per process.
 */
let serverNamespace = `shoal.app.${process.pid}`;

/**
 * A BroadcastChannel shared by the workers of this server only, for apps
 * that keep their own state in step across workers (e.g. the chat example's
 * room history). The channel is unref'd; close it when done.
 */
export function serverChannel(name: string): BroadcastChannel {
  const channel = new BroadcastChannel(`${serverNamespace}.user.${name}`);
  channel.unref();
  return channel;
}

/** What a connection worker's services are made from (src/workers/connection-worker.ts). */
export interface WorkerServicesConfig {
  /** This worker's id: its threadId. */
  readonly workerId: number;
  /** Prefix of this server's channels: the server's control channel name. */
  readonly namespace: string;
  /** `echo` or the absolute path of the app module, for the CPU pool's threads. */
  readonly app: string;
  /** URL of the CPU pool thread's entry module. */
  readonly cpuWorkerFilename: string;
  /** The server's `logLevel`, for the CPU pool's threads (default `info`). */
  readonly logLevel?: LogLevel;
  /** Where the CPU pool's threads' log lines go (the worker's own line destination); without it, stderr. */
  readonly logLines?: (lines: string) => void;
  /** The cluster broker's URL and this node's id, or null on a single node. */
  readonly broker?: BrokerConfig | null;
}

/**
 * The services of a connection worker: joins the bus of its server's workers
 * (so they know its interest before its first connection) and makes its app
 * channels its server's.
 */
export function createWorkerServices(config: WorkerServicesConfig): AppServices {
  serverNamespace = `${config.namespace}.app`;
  const broker = (config.broker ?? null) === null ? null : new RedisBroker(config.broker!, config.workerId, { subscriber: true });
  return createAppServices(new BroadcastChannelBus(serverNamespace, config.workerId), {
    ...DEFAULT_PUBSUB_OPTIONS,
    createCpuPool: () =>
      new CpuPool(config.app, {
        workerFilename: config.cpuWorkerFilename,
        // Each connection worker has its own pool; together they may use every core.
        maxThreads: Math.max(1, Math.floor(availableParallelism() / 2)),
        idleTimeoutMs: 30_000,
        logLevel: config.logLevel ?? 'info',
        logLines: config.logLines,
      }),
  }, broker);
}

/** What the primary thread's services are made from (src/server/server.ts). */
export interface HostServicesConfig {
  /** The primary's id on the bus: its threadId (never a connection worker's). */
  readonly workerId: number;
  /** Prefix of this server's channels: the server's control channel name. */
  readonly namespace: string;
  readonly broker: BrokerConfig | null;
}

/**
 * The services of the primary thread, for `server.publish()` and
 * `server.sendTo()`: it joins its workers' bus as a worker with no
 * connections (it learns their interest and forwards publications to the
 * interested ones only, in batches, with the same flow control), and the
 * broker as a publisher only. Its share of the primary's event loop is one
 * small message per topic interest change of a worker (the accept path
 * itself never waits on it).
 */
export function createHostServices(config: HostServicesConfig): AppServices {
  const broker = config.broker === null ? null : new RedisBroker(config.broker, config.workerId, { subscriber: false });
  return createAppServices(new BroadcastChannelBus(`${config.namespace}.app`, config.workerId), { ...DEFAULT_PUBSUB_OPTIONS, createCpuPool: () => null }, broker);
}
