/**
 * Entry of a CPU pool thread (see app/cpu-pool.ts): its default export is the
 * piscina task. It loads the app once per thread (on the first task), runs one
 * method's handler with a reduced context, and answers with its value or an
 * AppError's fields. Nothing runs on import.
 */
import { isAppError } from '../app/define-app.ts';
import type { CpuOutcome, CpuTask } from '../app/cpu-pool.ts';
import { loadApp } from '../app/load-app.ts';
import type { App, ConnectionAddress, Context, MethodHandler } from '../app/types.ts';
import { log, type Logger } from '../telemetry/logger.ts';

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
   * This CPU thread's logger bound to the connection. A CPU thread has no
   * lane to the primary: its lines go to stderr as JSON at level info
   * (docs/operations.md, "Gaps").
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
