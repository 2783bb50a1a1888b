/**
 * Entry of a CPU pool thread (see app/cpu-pool.ts): its default export is the
 * piscina task. It installs the thread's logger at the server's level and
 * loads the app once per thread (on the first task), runs one method's
 * handler with a reduced context, and answers with its value or an AppError's
 * fields. Nothing runs on import.
 */
import { BroadcastChannel, workerData } from 'node:worker_threads';
import { isAppError } from '../app/define-app.ts';
import type { CpuOutcome, CpuTask, CpuWorkerData } from '../app/cpu-pool.ts';
import { loadApp } from '../app/load-app.ts';
import type { App, ConnectionAddress, Context, MethodHandler } from '../app/types.ts';
import { createPinoLogger, isLogLevel, loadPino, log, setThreadLogger, type Logger } from '../telemetry/logger.ts';

let loggerInstalled = false;

/**
 * This thread's logger, on the first task: JSON lines at the level the pool
 * was given (its workerData), each posted at once on the pool's log channel
 * (app/cpu-pool.ts: they go where the connection workers' lines go), or
 * written to stderr without one. Never batched for a later turn: between
 * tasks piscina blocks the thread in Atomics.wait, so a line left for later
 * would wait for the thread's next task (or be lost when the thread is
 * terminated).
 */
function installLogger(): void {
  if (loggerInstalled) return;
  loggerInstalled = true;
  const data = workerData as Partial<CpuWorkerData> | null;
  const level = isLogLevel(data?.logLevel) ? data.logLevel : 'info';
  const channelName = data?.logChannel;
  setThreadLogger(() => {
    if (typeof channelName !== 'string') return createPinoLogger(level, loadPino().destination({ fd: 2, sync: true }));
    const channel = new BroadcastChannel(channelName);
    channel.unref();
    return createPinoLogger(level, { write: (line: string) => channel.postMessage(line) });
  });
}

/** The apps this thread has loaded, by specifier (a pool serves one app; the map keeps it honest). */
const apps = new Map<string, Promise<App>>();

function appFor(spec: string): Promise<App> {
  let app = apps.get(spec);
  if (app === undefined) {
    app = loadApp(spec);
    apps.set(spec, app);
  }
  return app;
}

function unavailable(name: string): never {
  throw new Error(`ctx.${name}() is not available in a cpu: true handler (it runs in a CPU pool thread)`);
}

/** The context of a CPU handler: who asked, and nothing that sends. */
class CpuContext implements Context {
  readonly address: ConnectionAddress;
  readonly protocol: string | null;
  readonly upgradeData: unknown;
  /** Not carried to the CPU pool: always ''. */
  readonly remoteAddress: string;
  state: Record<string, unknown>;
  #log: Logger | null;

  constructor(address: ConnectionAddress, protocol: string | null) {
    this.address = address;
    this.protocol = protocol;
    this.upgradeData = undefined;
    this.remoteAddress = '';
    this.state = {};
    this.#log = null;
  }

  /**
   * This CPU thread's logger bound to the connection: at the server's
   * `logLevel`, through its connection worker to the primary, so in the
   * server's `logFormat` or to its programmatic logger like every line.
   */
  get log(): Logger {
    this.#log ??= log().child({ conn: this.address });
    return this.#log;
  }

  send(): void {
    unavailable('send');
  }
  sendRaw(): void {
    unavailable('sendRaw');
  }
  sendTo(): never {
    unavailable('sendTo');
  }
  publish(): never {
    unavailable('publish');
  }
  subscribe(): never {
    unavailable('subscribe');
  }
  unsubscribe(): never {
    unavailable('unsubscribe');
  }
  close(): void {
    unavailable('close');
  }
}

/** piscina task: run one CPU method. */
export default async function runCpuMethod(task: CpuTask): Promise<CpuOutcome> {
  installLogger();
  const app = await appFor(task.app);
  const entry = app.methods?.[task.method] as MethodHandler | undefined;
  if (entry === undefined) throw new Error(`app has no method ${JSON.stringify(task.method)}`);
  const handler = typeof entry === 'function' ? entry : entry.handler;
  try {
    return { ok: true, value: await handler(new CpuContext(task.address, task.protocol), task.data) };
  } catch (error) {
    if (isAppError(error)) return { ok: false, code: error.code, message: error.message, data: error.data };
    throw error;
  }
}
