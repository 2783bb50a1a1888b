/**
 * `shoal serve` as a child process (`node bin/shoal.js serve`), for tests
 * that need several nodes: started on free ports, ready once it prints its
 * listening line (and its admin line), stopped by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url));

export interface ShoalProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** http://127.0.0.1:<admin port> */
  readonly admin: string;
  output(): string;
  stop(): Promise<void>;
}

/** Start `shoal serve --port 0 --admin-port 0 …args` and wait for both of its lines. */
export async function startShoal(args: string[], env: Record<string, string> = {}): Promise<ShoalProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--admin-port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const { port, admin } = await new Promise<{ port: number; admin: string }>((resolve, reject) => {
    const check = (): void => {
      const listening = /listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(output);
      const adminLine = /admin endpoints on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
      if (listening !== null && adminLine !== null) resolve({ port: Number(listening[1]), admin: adminLine[1] });
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`shoal exited early (${code}): ${output}`)));
  });
  return {
    child,
    port,
    admin,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}
