/**
 * Starts a Shoal server for one test file on a free loopback port and stops
 * it. Records the stats of every finished connection so tests can assert on
 * what the server saw.
 */
import { fileURLToPath } from 'node:url';
import { createServer, type ShoalServer } from '../../src/server/server.ts';
import type { ServerOptions } from '../../src/server/options.ts';
import type { ConnectionStats } from '../../src/transport/messages.ts';

/** A started server and what it has reported. */
export interface TestServer {
  readonly server: ShoalServer;
  readonly port: number;
  /** ws://127.0.0.1:<port> without a trailing slash: append the path. */
  readonly origin: string;
  /** Stats of every finished connection, in the order they finished. */
  readonly ended: ConnectionStats[];
  /** Resolves with the next finished connection's stats that matches (already finished ones count). */
  waitForEnd(match?: (stats: ConnectionStats) => boolean): Promise<ConnectionStats>;
  close(): Promise<void>;
}

/** Absolute path of a fixture app in test/fixtures/apps. */
export function fixtureApp(name: string): string {
  return fileURLToPath(new URL(`../fixtures/apps/${name}`, import.meta.url));
}

/** Test defaults: one loopback server, 2 workers, short timeouts so failures show fast. */
export async function startServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const server = createServer({ host: '127.0.0.1', port: 0, workers: 2, drainTimeoutMs: 2000, closeTimeoutMs: 2000, ...options });
  const ended: ConnectionStats[] = [];
  const waiters: { match: (stats: ConnectionStats) => boolean; resolve: (stats: ConnectionStats) => void }[] = [];
  server.on('connectionEnd', (stats: ConnectionStats) => {
    ended.push(stats);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].match(stats)) waiters.splice(i, 1)[0].resolve(stats);
    }
  });
  const address = await server.listen();
  return {
    server,
    port: address.port,
    origin: `ws://127.0.0.1:${address.port}`,
    ended,
    waitForEnd(match = () => true) {
      const found = ended.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    close: () => server.close(true),
  };
}
