/**
 * The `shoal` command: `serve` (start a server, shut down gracefully on
 * SIGTERM/SIGINT) and `bench` (the load harness in bench/load). Exit codes:
 * 0 success, 1 runtime failure, 2 usage error.
 */
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { createServer } from '../server/server.ts';
import { releaseStartupFlags } from '../server/startup-v8-flags.ts';
import { ECHO_APP } from '../app/load-app.ts';
import { setThreadLogger } from '../telemetry/logger.ts';
import { mainHelp, parseServeArgs, serveHelp } from './args.ts';

/**
 * The bench harness's entry point (bench/load/main), loaded only for `shoal
 * bench`. Same extension as this file: .ts in the repository, .js in the
 * published build (dist/src/cli -> dist/bench/load keeps the relative path).
 */
const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const BENCH_MODULE = new URL(`../../bench/load/main${EXTENSION}`, import.meta.url);

/** A SIGINT this soon after the first SIGINT is the copy npm forwards on Ctrl-C (see serve()). */
const SIGINT_COPY_WINDOW_MS = 300;

/** Runs the command line (argv without node and the script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // bin/shoal.js held V8's start-up flags while this module loaded: `serve` releases them once its workers are ready.
  if (command !== 'serve') releaseStartupFlags();
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'bench':
      return bench(rest);
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${mainHelp()}\n`);
      return 0;
    case '-v':
    case '--version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case undefined:
      process.stderr.write(`${mainHelp()}\n`);
      return 2;
    default:
      process.stderr.write(`shoal: unknown command ${JSON.stringify(command)} (see shoal --help)\n`);
      return 2;
  }
}

/** The package's own package.json, by self-reference: the same in the repository and installed. */
function packageJson(): { version: string; peerDependencies?: Record<string, string> } {
  return createRequire(import.meta.url)('@shoal-ws/shoal/package.json') as { version: string; peerDependencies?: Record<string, string> };
}

function version(): string {
  return packageJson().version;
}

async function serve(argv: string[]): Promise<number> {
  const parsed = parseServeArgs(argv, process.env);
  if (parsed.kind !== 'serve') releaseStartupFlags();
  if (parsed.kind === 'help') {
    process.stdout.write(`${serveHelp()}\n`);
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`shoal serve: ${parsed.message} (see shoal serve --help)\n`);
    return 2;
  }
  const options = parsed.options;
  const server = createServer(options);
  // Listen for signals before announcing the address (a supervisor may signal
  // as soon as it reads the line). The first signal starts the graceful
  // shutdown; a second one skips the drain. Ctrl-C under `npm start` or `npx`
  // delivers SIGINT twice at once (the terminal signals the whole process
  // group and npm forwards its own copy to its child), so a SIGINT that repeats
  // a SIGINT within SIGINT_COPY_WINDOW_MS is taken as that copy, not as a second
  // request.
  //
  // One listener per signal for the whole run, never removed while a signal
  // may come: when a signal's last listener goes, Node gives the signal back
  // its default action (death) until one is added again, and npm's copy of a
  // Ctrl-C can land in that gap (a `process.once` that re-registers itself
  // was such a gap). The phase decides what a signal does.
  let firstSignalAt = 0;
  let firstSignal: NodeJS.Signals | null = null;
  let stopped = false;
  let resolveSignal: (received: NodeJS.Signals) => void = () => {};
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    resolveSignal = resolve;
  });
  const onSignal = (received: NodeJS.Signals): void => {
    // A signal that arrives late (npm's forwarded copy of a Ctrl-C, on a
    // loaded machine) must not kill a process that is already stopped.
    if (stopped) process.exit(0);
    if (firstSignal === null) {
      firstSignal = received;
      firstSignalAt = performance.now();
      resolveSignal(received);
      return;
    }
    if (received === 'SIGINT' && firstSignal === 'SIGINT' && performance.now() - firstSignalAt < SIGINT_COPY_WINDOW_MS) return;
    void server.close(true);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  function stopListening(): void {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  server.on('error', (error: Error) => server.logger?.error({ err: error }, 'server error'));
  let address;
  try {
    address = await server.listen();
  } catch (error) {
    stopListening();
    process.stderr.write(`shoal: ${(error as Error).message}\n`);
    return 1;
  } finally {
    releaseStartupFlags();
  }
  // SIGHUP: new TLS connections use the certificate and key as they are on disk now; a bad file keeps the old ones.
  const onHangup = (): void => {
    try {
      server.reloadTls();
      process.stdout.write('shoal: SIGHUP: TLS certificate and key reloaded\n');
    } catch (error) {
      process.stderr.write(`shoal: SIGHUP: keeping the old TLS certificate: ${(error as Error).message}\n`);
    }
  };
  if (options.tlsCert !== null) process.on('SIGHUP', onHangup);
  // The primary's module-level log() is the server's logger from now on.
  if (server.logger !== null) setThreadLogger(server.logger);
  const label = options.app === ECHO_APP ? 'echo app' : `app ${basename(options.app)}`;
  const workers = options.workers === 1 ? '1 worker' : `${options.workers} workers`;
  process.stdout.write(`shoal: ${label} listening on ${address.url} with ${workers}\n`);
  if (server.adminAddress !== null) process.stdout.write(`shoal: admin endpoints on ${server.adminAddress.url} (healthz, metrics, stats)\n`);

  const received = await signal;
  process.stdout.write(`shoal: ${received}: closing connections (up to ${options.drainTimeoutMs} ms)\n`);
  await server.close();
  process.off('SIGHUP', onHangup);
  stopped = true;
  process.stdout.write('shoal: stopped\n');
  return 0;
}

/**
 * The harness's own dependencies that the package does not install for a
 * server (its optional peerDependencies: autocannon, hdr-histogram-js), as
 * many as cannot be resolved from the harness.
 */
function missingBenchDependencies(): string[] {
  const fromBench = createRequire(BENCH_MODULE);
  return Object.keys(packageJson().peerDependencies ?? {}).filter((name) => {
    try {
      fromBench.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}

async function bench(argv: string[]): Promise<number> {
  const missing = missingBenchDependencies();
  if (missing.length > 0) {
    process.stderr.write(`shoal bench: needs ${missing.join(' and ')}, which a server install leaves out: npm install -D ${missing.join(' ')}\n`);
    return 1;
  }
  let module: { benchMain?: (argv: string[]) => Promise<number> };
  try {
    module = (await import(BENCH_MODULE.href)) as typeof module;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(`bench/load/main${EXTENSION}`)) {
      process.stderr.write('shoal bench: not available yet\n');
      return 2;
    }
    throw error;
  }
  if (typeof module.benchMain !== 'function') {
    process.stderr.write('shoal bench: not available yet\n');
    return 2;
  }
  return module.benchMain(argv);
}
