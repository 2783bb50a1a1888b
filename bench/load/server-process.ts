/**
 * Servers under test as child processes: spawn, wait for the "listening"
 * line, stop (SIGTERM, then SIGKILL). Every child is registered so that
 * killAllServers() (on SIGINT, on errors, at exit) leaves nothing running.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

/** How long a server may take to print its ready line. */
export const READY_TIMEOUT_MS = 20_000;
/** How long a server may take to exit after SIGTERM before it is killed. */
export const STOP_TIMEOUT_MS = 5_000;
/** Output lines kept for error messages, and the longest line kept. */
const TAIL_LINES = 20;
const MAX_LINE_CHARS = 4096;

const running = new Set<ServerProcess>();

/** What to run and how to know it is ready. */
export interface ServerCommand {
  /** Executable and arguments (e.g. ["taskset", "-c", "0", node, script, ...]). */
  command: string;
  args: readonly string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** A line matching this means "listening"; its first group, when present, is the port. */
  readyPattern: RegExp;
  readyTimeoutMs?: number;
}

/** A started server process. */
export class ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The port from the ready line, or null when the pattern has no group. */
  port: number | null;
  /** The ready line as printed. */
  readyLine: string;
  private readonly tail: string[];
  private exited: Promise<void>;
  private exitInfo: string | null;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.pid = child.pid!;
    this.port = null;
    this.readyLine = '';
    this.tail = [];
    this.exitInfo = null;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = signal === null ? `exit code ${code}` : `signal ${signal}`;
        running.delete(this);
        resolve();
      });
    });
  }

  /** Spawn and wait for the ready line; rejects with the output tail when the process fails or times out. */
  static async start(spec: ServerCommand): Promise<ServerProcess> {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) {
      const error = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw new Error(`cannot start ${spec.command}: ${error.message}`);
    }
    const server = new ServerProcess(child);
    running.add(server);
    try {
      await server.waitReady(spec.readyPattern, spec.readyTimeoutMs ?? READY_TIMEOUT_MS);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** The last lines the process printed (stdout and stderr), for error messages. */
  output(): string {
    return this.tail.join('\n');
  }

  /** True while the process runs. */
  get isRunning(): boolean {
    return this.exitInfo === null;
  }

  private waitReady(pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => finish(new Error(`not ready within ${timeoutMs / 1000} s; output:\n${this.output()}`)), timeoutMs);
      const finish = (error?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const onLine = (line: string): void => {
        this.tail.push(line.slice(0, MAX_LINE_CHARS));
        if (this.tail.length > TAIL_LINES) this.tail.shift();
        if (done) return;
        const match = pattern.exec(line);
        if (match !== null) {
          this.readyLine = line;
          if (match[1] !== undefined) this.port = Number(match[1]);
          finish();
        }
      };
      for (const stream of [this.child.stdout!, this.child.stderr!]) {
        let partial = '';
        stream.setEncoding('utf8');
        stream.on('data', (text: string) => {
          const lines = (partial + text).split('\n');
          // A server that prints without newlines must not grow this buffer without bound.
          partial = lines.pop()!.slice(-MAX_LINE_CHARS);
          for (const line of lines) onLine(line);
        });
      }
      this.exited.then(() => finish(new Error(`exited (${this.exitInfo}) before it was ready; output:\n${this.output()}`)));
    });
  }

  /** SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; resolves when the process is gone. */
  async stop(): Promise<void> {
    if (!this.isRunning) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Stop every server this process started (SIGTERM, then SIGKILL). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

/** Synchronous last resort for process exit: SIGKILL every server still running. */
export function killAllServersNow(): void {
  for (const server of running) server.child.kill('SIGKILL');
}

/** A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}
