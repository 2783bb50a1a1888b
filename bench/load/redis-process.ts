/**
 * A throwaway redis-server for the cross-node scenario: loopback only, on a
 * free port, persistence off, stopped by its pid (a ServerProcess, so an
 * interrupted run stops it too). Missing binary: TargetSkipped with the
 * package to install.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { ServerProcess, findFreePort } from './server-process.ts';
import { TargetSkipped } from './targets.ts';

/** A running redis-server. */
export interface RedisServer {
  url: string;
  process: ServerProcess;
  /** What ran, e.g. "Redis server v=7.0.15". */
  version: string;
}

/** redis-server on PATH (or /usr/bin, /usr/sbin), or null. */
export function findRedisServer(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = path.join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here: try the next one.
    }
  }
  return null;
}

/** Start redis-server on 127.0.0.1 with no persistence; resolves once it accepts connections. */
export async function startRedis(pinPrefix: readonly string[]): Promise<RedisServer> {
  const binary = findRedisServer();
  if (binary === null) throw new TargetSkipped('cross-node: redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)');
  const port = await findFreePort();
  const full = [...pinPrefix, binary, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'notice'];
  const server = await ServerProcess.start({ command: full[0], args: full.slice(1), cwd: process.cwd(), readyPattern: /Ready to accept connections/ });
  const version = /Redis version=([^,\s]+)/.exec(server.output())?.[1] ?? 'unknown version';
  return { url: `redis://127.0.0.1:${port}`, process: server, version: `redis-server ${version}` };
}
