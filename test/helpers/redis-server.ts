/**
 * A real redis-server for one test: on a free loopback port, persistence
 * off, started and stopped by its pid. `stop()` kills it (SIGKILL is what a
 * crash looks like); `start()` again reuses the port, as a restarted Redis
 * would. Options: a password (`--requirepass`) and TLS only (`--port 0
 * --tls-port`, no client certificates), which make `url` a `rediss://` one.
 * `connectClient()` gives the test its own ioredis client of the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface RedisServerOptions {
  /** `--requirepass`: clients must AUTH with it. */
  readonly password?: string;
  /** PEM files: Redis then listens on TLS only. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca: string };
}

export class RedisServer {
  readonly port: number;
  readonly #options: RedisServerOptions;
  #child: ChildProcess | null;

  constructor(port: number, options: RedisServerOptions = {}) {
    this.port = port;
    this.#options = options;
    this.#child = null;
  }

  /** Start redis-server on a free port and wait until it accepts connections. */
  static async start(port?: number, options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()), options);
    await server.start();
    return server;
  }

  /** redis://127.0.0.1:<port>, or rediss:// with TLS; never with the password. */
  get url(): string {
    return `${this.#options.tls === undefined ? 'redis' : 'rediss'}://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    if (this.#child?.pid === undefined) throw new Error('redis-server is not running');
    return this.#child.pid;
  }

  async start(): Promise<void> {
    const { password, tls } = this.#options;
    const listen =
      tls === undefined
        ? ['--port', String(this.port)]
        : ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no'];
    const auth = password === undefined ? [] : ['--requirepass', password];
    const child = spawn('redis-server', [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...auth], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const check = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      };
      child.stdout?.on('data', check);
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
    });
    child.stdout?.resume();
    child.stderr?.resume();
  }

  /**
   * A connected ioredis client of the test's own (ACL LOG, an observer, a
   * stand-in node), with this server's password and CA; one try per command,
   * connection errors ignored (some tests stop Redis on purpose). The caller
   * disconnects it.
   */
  async connectClient(): Promise<Redis> {
    const { password, tls } = this.#options;
    const client = new Redis(this.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      ...(password === undefined ? {} : { password }),
      ...(tls === undefined ? {} : { tls: { ca: readFileSync(tls.ca) } }),
    });
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  /** Pause (SIGSTOP) or resume (SIGCONT) the process: a stalled Redis whose connections stay open. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    process.kill(this.pid, signal);
  }

  /** Kill it by its pid and wait for the exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    process.kill(child.pid as number, 'SIGCONT');
    process.kill(child.pid as number, 'SIGKILL');
    await exited;
  }
}
