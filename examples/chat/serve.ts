/**
 * Run the chat example: the Shoal server with the chat app, and the page
 * server for the browser.
 *
 *   npx node examples/chat/serve.ts [--port 8080] [--ws-port 9001] [--workers 2]
 *
 * then open http://127.0.0.1:8080/ in two tabs. Both listen on 127.0.0.1.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createServer } from '@shoal-ws/shoal';
import { createPageServer } from './page-server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    'ws-port': { type: 'string', default: '9001' },
    workers: { type: 'string', default: '2' },
  },
});

const shoal = createServer({
  host: '127.0.0.1',
  port: Number(values['ws-port']),
  workers: Number(values.workers),
  app: fileURLToPath(new URL('./app.ts', import.meta.url)),
});
const { url } = await shoal.listen();
const page = createPageServer({ wsUrl: url });
page.listen(Number(values.port), '127.0.0.1');
await new Promise((resolve) => page.once('listening', resolve));
console.log(`chat: Shoal on ${url} with ${values.workers} workers; open http://127.0.0.1:${values.port}/`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    page.close();
    void shoal.close().then(() => process.exit(0));
  });
}
