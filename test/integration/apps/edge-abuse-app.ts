/**
 * Test app for test/integration/edge-abuse.test.ts: the edge fixture app
 * (HTTP handler beside a WebSocket echo) plus `/big`, a long streamed
 * response that respects backpressure (at most 256 MiB), for a client that
 * stops reading it.
 */
import type { App } from '../../../src/app/types.ts';
import base from '../../fixtures/apps/http-app.ts';

const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const MAX_CHUNKS = 4096;

const app: App = {
  ...base,
  async http(req, res) {
    if (req.url !== '/big') return base.http?.(req, res);
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    for (let i = 0; i < MAX_CHUNKS && !res.destroyed; i++) {
      if (!res.write(CHUNK)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    res.end();
  },
};

export default app;
