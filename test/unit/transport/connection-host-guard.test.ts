/**
 * ConnectionHost.serve guards every connection it takes: a throw there (no
 * client-reachable one is known, so the failure is injected: a configuration
 * value that throws when `serve` reads it, before the connection's binding
 * exists and after) closes that connection only, reports it once with
 * `internalError`, logs it (rate-limited), and the host goes on serving. On
 * the worker, `serve` runs in the lane's message handler, where a throw is
 * an uncaught exception that kills the worker and every connection on it.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerServices, type AppServices } from '../../../src/app/services.ts';
import { loadApp } from '../../../src/app/load-app.ts';
import { resolveServerOptions } from '../../../src/server/options.ts';
import { workerConfigFrom } from '../../../src/server/worker-config.ts';
import { ConnectionHost } from '../../../src/transport/connection-host.ts';
import type { ConnectionStats, WorkerConfig } from '../../../src/transport/messages.ts';
import { CPU_WORKER_URL } from '../../../src/workers/entry-urls.ts';
import { Opcode } from '../../../src/protocol/constants.ts';
import { captureLogs, type CapturedLogs } from '../../helpers/log-capture.ts';
import { clientFrame, upgradeRequest } from '../../helpers/raw-socket.ts';
import { until } from '../../helpers/until.ts';

const WORKER_ID = 7;
const channel = `shoal-guard-test-${process.pid}-${Date.now()}`;

/** The configuration value whose read throws while `fault` names it. */
let fault: 'proxyProtocol' | 'maxHeadBytes' | null = null;

function faultyConfig(): WorkerConfig {
  const base: WorkerConfig = {
    ...workerConfigFrom(resolveServerOptions({ handshakeTimeoutMs: 5000 }), { app: 'echo', broker: null, tls: null, logLevel: 'info' }),
    controlChannel: channel,
  };
  const config = { ...base };
  for (const name of ['proxyProtocol', 'maxHeadBytes'] as const) {
    const value = base[name];
    Object.defineProperty(config, name, {
      get() {
        if (fault === name) throw new Error(`injected failure reading ${name}`);
        return value;
      },
    });
  }
  return config;
}

let services: AppServices;
let host: ConnectionHost;
let server: Server;
let port: number;
let logs: CapturedLogs;
const reported: ConnectionStats[] = [];
const done = (stats: ConnectionStats): void => {
  reported.push(stats);
};

beforeAll(async () => {
  services = createWorkerServices({ workerId: WORKER_ID, namespace: channel, app: 'echo', cpuWorkerFilename: CPU_WORKER_URL, logLevel: 'info', broker: null });
  host = new ConnectionHost(faultyConfig(), loadApp('echo'), services, WORKER_ID);
  server = createServer((socket) => host.serve(socket, done));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  logs = captureLogs();
});

afterEach(() => {
  fault = null;
});

afterAll(async () => {
  logs?.restore();
  host?.shutdown(1001, 'test over');
  // Stops listening; not awaited: the server still counts the sockets the host adopted (their handles moved on, as in a worker).
  server?.close();
  await services?.close();
});

/** Connects; resolves with the client socket and a promise of its close. */
async function client(): Promise<{ socket: Socket; closed: Promise<void>; received: () => Buffer }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise((resolve) => socket.once('connect', resolve));
  return { socket, closed, received: () => received };
}

/** A well-behaved client: the host still upgrades and echoes. */
async function echoes(text: string): Promise<void> {
  const c = await client();
  c.socket.write(upgradeRequest('/'));
  await until(() => c.received().includes('\r\n\r\n'));
  expect(c.received().subarray(0, 12).toString()).toBe('HTTP/1.1 101');
  const headEnd = c.received().indexOf('\r\n\r\n') + 4;
  c.socket.write(clientFrame(Opcode.TEXT, text));
  await until(() => c.received().length >= headEnd + 2 + text.length);
  expect(c.received().subarray(headEnd + 2).toString()).toBe(text);
  c.socket.destroy();
  await c.closed;
}

describe.each([
  { when: 'before the connection has a binding', name: 'proxyProtocol' as const },
  { when: 'after the binding exists (the head parser)', name: 'maxHeadBytes' as const },
])('a throw in serve $when', ({ name }) => {
  it('closes that connection only, reports it once with internalError, logs it; the host goes on', async () => {
    await echoes('before');
    const open = await client();
    open.socket.write(upgradeRequest('/'));
    await until(() => open.received().includes('\r\n\r\n'));
    const before = reported.length;
    const linesBefore = logs.lines.length;
    fault = name;
    const victim = await client();
    // The server closes the victim's connection (the test fails on its timeout otherwise).
    await victim.closed;
    await until(() => reported.length > before);
    fault = null;
    expect(reported.slice(before)).toHaveLength(1);
    expect(reported[before]).toMatchObject({ workerId: WORKER_ID, internalError: true, handshakeStatus: 0 });
    expect(logs.lines.slice(linesBefore)).toContainEqual(expect.objectContaining({ level: 'error', cause: 'serve_failed', msg: 'internal error while taking a connection; closed it' }));
    // Nothing of it is left in the host; the open connection and new ones are served.
    expect(host.size).toBe(1);
    expect(open.socket.destroyed).toBe(false);
    await echoes('after');
    open.socket.destroy();
    await open.closed;
    await until(() => host.size === 0);
    // The closed victim is reported no second time.
    expect(reported.filter((stats) => stats.internalError)).toHaveLength(name === 'proxyProtocol' ? 1 : 2);
  });
});
