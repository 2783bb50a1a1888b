import { createPinoLogger } from '../../../src/telemetry/logger.ts';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { resolveAppSpecifier } from '../../../src/app/load-app.ts';
import { resolveServerOptions } from '../../../src/server/options.ts';
import { workerConfigFrom } from '../../../src/server/worker-config.ts';
import { acceptHandles, type TcpHandle } from '../../../src/transport/accept-handles.ts';
import { ConnectionPool, pickLane, WORKER_YOUNG_GENERATION_MB } from '../../../src/transport/connection-pool.ts';
import { CONNECTION_WORKER_URL } from '../../../src/workers/entry-urls.ts';
import type { ConnectionStats, WorkerConfig } from '../../../src/transport/messages.ts';

const lane = (active: number, up = true) => ({ up, active });

describe('pickLane (least-connections balancer)', () => {
  it('picks the lane with the fewest connections', () => {
    expect(pickLane([lane(3), lane(1), lane(2)], 10)).toBe(1);
  });

  it('picks the first of equally loaded lanes', () => {
    expect(pickLane([lane(2), lane(1), lane(1)], 10)).toBe(1);
    expect(pickLane([lane(0), lane(0)], 10)).toBe(0);
  });

  it('skips lanes whose worker is not serving yet (starting or replacing a crashed one)', () => {
    expect(pickLane([lane(0, false), lane(5)], 10)).toBe(1);
    expect(pickLane([lane(0, false), lane(0, false)], 10)).toBe(-1);
  });

  it('skips lanes at the per-worker limit and answers -1 when all are full', () => {
    expect(pickLane([lane(10), lane(9)], 10)).toBe(1);
    expect(pickLane([lane(10), lane(10)], 10)).toBe(-1);
    expect(pickLane([], 10)).toBe(-1);
  });
});

describe('ConnectionPool with a real worker', () => {
  const options = resolveServerOptions({ workers: 1 });
  const workerData: WorkerConfig = {
    ...workerConfigFrom(options, { app: resolveAppSpecifier('echo'), broker: null, tls: null, logLevel: 'info' }),
    controlChannel: `shoal.test.pool.${process.pid}`,
  };
  const silentLogger = createPinoLogger('silent', { write() {} });
  const ignoreReports = { counted() {}, reported() {}, logged() {} };

  it('serves a dispatched handle on its lane, reports it as ended with its stats, and caps the young generation', async () => {
    const ended: ConnectionStats[] = [];
    const pool = new ConnectionPool(
      { workers: 1, maxConnectionsPerWorker: 10, acceptBacklog: 4, workerData, workerFilename: CONNECTION_WORKER_URL, logger: silentLogger },
      { connectionEnded: (stats) => ended.push(stats), connectionsLost: () => {}, transferFailed: () => {}, ...ignoreReports },
    );
    const server = createServer({ pauseOnConnect: true });
    try {
      await pool.ready;
      const [thread] = pool.threads as Worker[];
      expect(thread?.resourceLimits?.maxYoungGenerationSizeMb).toBe(WORKER_YOUNG_GENERATION_MB);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      acceptHandles(server, (handle) => expect(pool.dispatch(handle)).toBe(true));
      const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await once(ws, 'open');
      expect(pool.workerLoads()).toMatchObject([{ workerId: thread?.threadId, connections: 1 }]);
      ws.send('ping me back');
      const [echo] = (await once(ws, 'message')) as [Buffer];
      expect(echo.toString()).toBe('ping me back');
      ws.close(1000, 'done');
      await vi.waitFor(() => expect(ended).toHaveLength(1));
      expect(ended[0]).toMatchObject({ workerId: thread?.threadId, handshakeStatus: 101, messagesIn: 1, closeCode: 1000, wasClean: true });
      expect(pool.workerLoads()).toMatchObject([{ workerId: thread?.threadId, connections: 0 }]);
    } finally {
      server.close();
      await pool.destroy();
    }
  });

  it('serves a paused net.Socket the same way (where Node gives no bare handles)', async () => {
    const ended: ConnectionStats[] = [];
    const pool = new ConnectionPool(
      { workers: 1, maxConnectionsPerWorker: 10, acceptBacklog: 4, workerData, workerFilename: CONNECTION_WORKER_URL, logger: silentLogger },
      { connectionEnded: (stats) => ended.push(stats), connectionsLost: () => {}, transferFailed: () => {}, ...ignoreReports },
    );
    const server = createServer({ pauseOnConnect: true }, (socket) => expect(pool.dispatch(socket)).toBe(true));
    try {
      await pool.ready;
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await once(ws, 'open');
      ws.send('through a socket');
      const [echo] = (await once(ws, 'message')) as [Buffer];
      expect(echo.toString()).toBe('through a socket');
      ws.close(1000);
      await vi.waitFor(() => expect(ended).toHaveLength(1));
      expect(ended[0]).toMatchObject({ handshakeStatus: 101, messagesIn: 1, closeCode: 1000 });
    } finally {
      server.close();
      await pool.destroy();
    }
  });

  it('queues past the per-worker limit and serves the queued connection when one ends; refuses past the backlog', async () => {
    const pool = new ConnectionPool(
      { workers: 1, maxConnectionsPerWorker: 1, acceptBacklog: 1, workerData, workerFilename: CONNECTION_WORKER_URL, logger: silentLogger },
      { connectionEnded: () => {}, connectionsLost: () => {}, transferFailed: () => {}, ...ignoreReports },
    );
    const refused: TcpHandle[] = [];
    const server = createServer({ pauseOnConnect: true });
    try {
      await pool.ready;
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      acceptHandles(server, (handle) => {
        if (!pool.dispatch(handle)) refused.push(handle);
      });
      const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const first = new WebSocket(url);
      await once(first, 'open');
      const queued = new WebSocket(url);
      await vi.waitFor(() => expect(pool.queued).toBe(1));
      const third = new WebSocket(url);
      third.on('error', () => {});
      await vi.waitFor(() => expect(refused).toHaveLength(1));
      for (const handle of refused) handle.close();
      first.close();
      await once(queued, 'open');
      expect(pool.queued).toBe(0);
      queued.close();
      await once(queued, 'close');
    } finally {
      server.close();
      await pool.destroy();
    }
  });
});
