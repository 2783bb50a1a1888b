/**
 * The servers a run measures: Shoal (spawned from this package, one start
 * per worker count), the peer servers in bench/peers, or an external server
 * given by URL. A peer that cannot run is skipped with the exact reason.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoopbackTarget, PeerName } from './options.ts';
import { BENCH_TLS_SERVERNAME } from './bench-certificate.ts';
import type { BenchCertificate } from './bench-certificate.ts';
import { ServerProcess, findFreePort } from './server-process.ts';

/** True when the harness runs from the repository's TypeScript sources, false in the published build. */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');
/** .ts in the repository, .js in the published build (dist/ mirrors bench/). */
export const EXTENSION = FROM_SOURCE ? '.ts' : '.js';
/** The package root: the repository (bench/load is two levels down) or the installed package (dist/bench/load, three). */
export const PACKAGE_ROOT = fileURLToPath(new URL(FROM_SOURCE ? '../../' : '../../../', import.meta.url));
/** bench/load and bench/peers, next to this file in both layouts. */
const LOAD_DIR = fileURLToPath(new URL('./', import.meta.url));
export const PEERS_DIR = fileURLToPath(new URL('../peers/', import.meta.url));
/** Resolves packages the way the peer servers do (from bench/peers: the package's, then the project's node_modules). */
const peerRequire = createRequire(new URL('../peers/', import.meta.url));

const READY_PATTERN = /listening on wss?:\/\/(?:127\.0\.0\.1|\[::1\]|localhost):(\d+)/;

/** A server to measure, before it is started. */
export interface TargetPlan {
  /** Unique in a run: "shoal-w2", "ws", "bun", "uws", "target"; "-tls" appended for the TLS variant. */
  id: string;
  /** Display name: "shoal w2", "ws", ...; " tls" appended for the TLS variant. */
  name: string;
  kind: 'shoal' | 'peer' | 'external';
  /** Shoal's worker threads; null for others. */
  workers: number | null;
  peer: PeerName | null;
  /** Served over TLS (wss://) with the run's certificate; its plain twin's id is this id without "-tls". */
  tls: boolean;
}

/** A started (or external) server. */
export interface RunningTarget {
  endpoint: LoopbackTarget;
  /** What the generator trusts and asks for when the target serves TLS; null for ws://. */
  tls: { ca: string; servername: string } | null;
  /** `http://…/` of the main port for the app-handler flood, or null when the target has no known HTTP route. */
  httpUrl: string | null;
  /** The process whose CPU and memory are read, or null when unknown. */
  pid: number | null;
  /** What runs, e.g. "Bun 1.4.5 built-in server, single process". */
  description: string;
  /** The admin health URL, or null when the server has none (the http health check is then skipped). */
  healthUrl: string | null;
  /** False once a spawned server has exited. */
  isAlive(): boolean;
  /** The last lines the server printed (empty for external servers), for failure reasons. */
  output(): string;
  stop(): Promise<void>;
}

/** A target that cannot run here; `message` is the reason shown in the report. */
export class TargetSkipped extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'TargetSkipped';
  }
}

/**
 * How servers are started: an optional CPU pinning prefix (e.g. ["taskset",
 * "-c", "0"]) and, for TLS plans, the run's certificate.
 */
export interface StartContext {
  pinPrefix: readonly string[];
  certificate: BenchCertificate | null;
}

/**
 * The plans of a run, in order: Shoal per worker count (or the external
 * target), then the peers; with `tls`, each one followed by its TLS variant,
 * so that the two run back to back on the same machine state.
 */
export function planTargets(mode: 'spawn' | 'target', workers: readonly number[], peers: readonly PeerName[], tls = false): TargetPlan[] {
  const plain: TargetPlan[] =
    mode === 'spawn'
      ? workers.map((n) => ({ id: `shoal-w${n}`, name: `shoal w${n}`, kind: 'shoal', workers: n, peer: null, tls: false }))
      : [{ id: 'target', name: 'target', kind: 'external', workers: null, peer: null, tls: false }];
  for (const peer of peers) plain.push({ id: peer, name: peer, kind: 'peer', workers: null, peer, tls: false });
  if (!tls) return plain;
  return plain.flatMap((plan) => [plan, { ...plan, id: `${plan.id}-tls`, name: `${plan.name} tls`, tls: true }]);
}

/** Start a plan's server (external targets are checked for a listening port only). */
export async function startTarget(
  plan: TargetPlan,
  context: StartContext,
  external: { endpoint: LoopbackTarget; pid: number | null } | null,
): Promise<RunningTarget> {
  switch (plan.kind) {
    case 'external':
      return externalTarget(external!.endpoint, external!.pid);
    case 'shoal':
      return startShoal(plan.workers!, context, tlsArgs(plan, context));
    case 'peer': {
      const extraArgs = tlsArgs(plan, context);
      switch (plan.peer!) {
        case 'ws':
          requirePeerPackage('ws', ['ws'], 'install it in your project: npm install -D ws bufferutil');
          return startPeer('ws', [process.execPath, path.join(PEERS_DIR, `ws-server${EXTENSION}`)], context, extraArgs);
        case 'bun':
          return startPeer('bun', [findBun(), path.join(PEERS_DIR, `bun-server${EXTENSION}`)], context, extraArgs);
        case 'uws':
          return startUws(context, extraArgs);
        case 'socketio':
          throw new TargetSkipped('socketio peer: runs the cross-node scenario only (a Socket.IO node with the Redis adapter)');
        case 'node':
          if (plan.tls) throw new TargetSkipped('node peer: bare Node without TLS');
          return startPeer('node', [process.execPath, path.join(PEERS_DIR, `node-server${EXTENSION}`)], context, extraArgs);
      }
    }
  }
}

/** `--tls-cert F --tls-key F` for a TLS plan (Shoal and every peer take the same flags), else nothing. */
function tlsArgs(plan: TargetPlan, context: StartContext): string[] {
  if (!plan.tls) return [];
  if (context.certificate === null) throw new Error(`${plan.name}: a TLS target needs the run's certificate`);
  return ['--tls-cert', context.certificate.certFile, '--tls-key', context.certificate.keyFile];
}

/** Whether a server's arguments make it serve TLS (tlsArgs among them). */
function servesTls(args: readonly string[]): boolean {
  return args.includes('--tls-cert');
}

function running(server: ServerProcess, endpoint: LoopbackTarget, description: string, healthUrl: string | null, context: StartContext, tls: boolean): RunningTarget {
  return {
    endpoint,
    tls: tls && context.certificate !== null ? { ca: context.certificate.certPem, servername: BENCH_TLS_SERVERNAME } : null,
    httpUrl: tls ? null : `http://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}/`,
    pid: server.pid,
    description,
    healthUrl,
    isAlive: () => server.isRunning,
    output: () => server.output(),
    stop: () => server.stop(),
  };
}

async function spawnReady(command: readonly string[], context: StartContext, extraArgs: readonly string[]): Promise<ServerProcess> {
  const full = [...context.pinPrefix, ...command, ...extraArgs];
  return ServerProcess.start({ command: full[0], args: full.slice(1), cwd: PACKAGE_ROOT, readyPattern: READY_PATTERN });
}

/** The admin flag of `shoal serve`, when this version has one (it prints it in --help). */
function findAdminFlag(): string | null {
  const help = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'bin/shoal.js'), 'serve', '--help'], { encoding: 'utf8', timeout: 10_000 });
  const match = /--(admin-port)\b/.exec(`${help.stdout}${help.stderr}`);
  return match === null ? null : `--${match[1]}`;
}

/**
 * Start `shoal serve` with the benchmark app; `extraArgs` go last (e.g. --broker
 * for a cluster node, tlsArgs for a TLS plan).
 */
export async function startShoal(workers: number, context: StartContext, extraArgs: readonly string[] = []): Promise<RunningTarget> {
  const port = await findFreePort();
  const args = ['serve', '--host', '127.0.0.1', '--port', String(port), '--workers', String(workers), '--app', path.join(LOAD_DIR, `bench-app${EXTENSION}`), ...extraArgs];
  const adminFlag = findAdminFlag();
  let healthUrl: string | null = null;
  if (adminFlag !== null) {
    const adminPort = await findFreePort();
    args.push(adminFlag, String(adminPort));
    healthUrl = `http://127.0.0.1:${adminPort}/healthz`;
  }
  const server = await spawnReady([process.execPath, path.join(PACKAGE_ROOT, 'bin/shoal.js')], context, args);
  const tls = servesTls(extraArgs);
  const description = `Shoal ${workers} worker thread${workers === 1 ? '' : 's'} + primary, Node ${process.version}${tls ? ', TLS in the workers' : ''}`;
  return running(server, { host: '127.0.0.1', port: server.port ?? port, path: '/' }, description, healthUrl, context, tls);
}

/**
 * Start a peer server script; `extraArgs` follow `--port N` (e.g. --broker for
 * a cluster node, tlsArgs for a TLS plan). A peer that does not start is
 * skipped with its own error line.
 */
export async function startPeer(name: PeerName, command: readonly string[], context: StartContext, extraArgs: readonly string[] = []): Promise<RunningTarget> {
  const port = await findFreePort();
  let server: ServerProcess;
  try {
    server = await spawnReady(command, context, ['--port', String(port), ...extraArgs]);
  } catch (error) {
    throw new TargetSkipped(`${name} peer did not start: ${firstPeerError((error as Error).message)}`);
  }
  return running(server, { host: '127.0.0.1', port: server.port ?? port, path: '/' }, describeReadyLine(server.readyLine), null, context, servesTls(extraArgs));
}

/** The "(...)" part of a peer's ready line. */
function describeReadyLine(line: string): string {
  const match = /\((.*)\)\s*$/.exec(line);
  return match === null ? line : match[1];
}

/** A peer's own "peer-error: ..." line when it printed one, else the whole message. */
function firstPeerError(message: string): string {
  const match = /peer-error: (.*)/.exec(message);
  return match === null ? message : match[1];
}

/**
 * A peer's npm package must be resolvable from bench/peers (this repository's
 * devDependencies, or the user's project when Shoal is installed); otherwise the
 * peer is skipped with the command that installs it.
 */
export function requirePeerPackage(peer: PeerName, names: readonly string[], advice: string): void {
  for (const name of names) {
    try {
      peerRequire.resolve(`${name}/package.json`);
      return;
    } catch {
      // Not installed: try the next one.
    }
  }
  throw new TargetSkipped(`${peer} peer: ${names.join(' or ')} is not installed; ${advice}`);
}

/**
 * Bun's binary resolved to the real file (so the pid read from /proc is Bun
 * itself): node_modules/.bin/bun of the package (this repository), of the
 * current project, or `bun` on PATH.
 */
function findBun(): string {
  const candidates = [path.join(PACKAGE_ROOT, 'node_modules/.bin/bun'), path.resolve('node_modules/.bin/bun')];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir !== '') candidates.push(path.join(dir, 'bun'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return realpathSync(candidate);
    } catch {
      // Not here: try the next one.
    }
  }
  throw new TargetSkipped('bun peer: no Bun binary (not in node_modules/.bin or on PATH); run `npm install -D bun` in your project');
}

/**
 * Node binaries to try for the uWS peer: the running one first, then every
 * other `node` on PATH (outside node_modules) and in /usr/bin, /usr/local/bin.
 */
export function nodeRuntimes(): string[] {
  const seen = new Set<string>();
  const runtimes: string[] = [];
  const add = (candidate: string): void => {
    try {
      accessSync(candidate, constants.X_OK);
      const real = realpathSync(candidate);
      if (seen.has(real)) return;
      seen.add(real);
      runtimes.push(candidate);
    } catch {
      // Not there or not executable: not a candidate.
    }
  };
  add(process.execPath);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && !dir.includes('node_modules')) add(path.join(dir, 'node'));
  }
  add('/usr/bin/node');
  add('/usr/local/bin/node');
  return runtimes;
}

function nodeVersion(binary: string): string {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return result.status === 0 ? result.stdout.trim() : 'unknown version';
}

async function startUws(context: StartContext, extraArgs: readonly string[]): Promise<RunningTarget> {
  requirePeerPackage(
    'uws',
    ['@btc-vision/uwebsockets.js', '@trufflesuite/uws-js-unofficial'],
    'install one in your project: npm install -D @btc-vision/uwebsockets.js (needs glibc >= 2.38), or @trufflesuite/uws-js-unofficial (native builds for a Node <= 20 on PATH)',
  );
  const reasons: string[] = [];
  for (const runtime of nodeRuntimes()) {
    try {
      return await startPeer('uws', [runtime, path.join(PEERS_DIR, 'uws-server.mjs')], context, extraArgs);
    } catch (error) {
      reasons.push(`${runtime} (${nodeVersion(runtime)}): ${(error as Error).message.replace(/^uws peer did not start: /, '')}`);
    }
  }
  throw new TargetSkipped(`uws peer: no uWebSockets.js build loads with any Node on this machine. ${reasons.join(' | ')}`);
}

async function externalTarget(endpoint: LoopbackTarget, pid: number | null): Promise<RunningTarget> {
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: endpoint.host, port: endpoint.port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (error) => reject(new Error(`--target ws://${endpoint.host}:${endpoint.port}: ${error.message}`)));
  });
  return {
    endpoint,
    tls: null,
    // The routes of an external server are unknown: the app-handler flood is skipped.
    httpUrl: null,
    pid,
    description: pid === null ? 'external server (no --server-pid: CPU and memory unknown)' : `external server, pid ${pid}`,
    healthUrl: null,
    isAlive: () => true,
    output: () => '',
    stop: () => Promise.resolve(),
  };
}
