/**
 * Run the chat example: one Shoal server on one port serves the page (the
 * app's `http` handler) and the WebSocket.
 *
 *   npx node examples/chat/serve.ts [--port 9001] [--workers 2]
 *
 * then open http://127.0.0.1:9001/ in two tabs. It listens on 127.0.0.1.
 * (`npx shoal serve --app examples/chat/app.ts` does the same.)
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createServer } from '@shoal-ws/shoal';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    workers: { type: 'string', default: '2' },
  },
});

const shoal = createServer({
  host: '127.0.0.1',
  port: Number(values.port),
  workers: Number(values.workers),
  app: fileURLToPath(new URL('./app.ts', import.meta.url)),
});
const { port } = await shoal.listen();
console.log(`chat: open http://127.0.0.1:${port}/ (page and WebSocket on one port, ${values.workers} workers)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void shoal.close().then(() => process.exit(0));
  });
}
