/**
 * A worker reads plain TCP sockets into one buffer that every read reuses
 * (socket-binding.ts, `sharedReads`): no message handed to the app may be a
 * view of it. The app keeps every message and checks them after later reads
 * (test/integration/apps/keeping-app.ts); the messages are sent back to back,
 * so reads hold several whole messages, parts of large ones, and headers cut
 * anywhere.
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type TestServer } from '../helpers/server.ts';

const SIZES = [4, 20, 125, 126, 1000, 4096, 5000, 16384, 65536, 70000, 300_000, 7];
const ROUNDS = 6;

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ app: fileURLToPath(new URL('./apps/keeping-app.ts', import.meta.url)), workers: 1, maxMessageBytes: 1024 * 1024 });
});
afterAll(() => server.close());

function message(n: number, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 4; i < size; i++) bytes[i] = (n * 31 + i) & 0xff;
  bytes.writeUInt32BE(n, 0);
  return bytes;
}

describe('messages kept by the app', () => {
  it('stay intact after later reads on the same and other connections', async () => {
    const clients = await Promise.all(
      [0, 1, 2].map(async () => {
        const ws = new WebSocket(`${server.origin}/`);
        await once(ws, 'open');
        return ws;
      }),
    );
    const replies = clients.map((ws) => {
      const texts: string[] = [];
      const done = new Promise<void>((resolve) =>
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          if (isBinary) return;
          const text = data.toString();
          texts.push(text);
          // The answer to `check` (a message found bad on arrival is reported before it).
          if (!text.includes('on arrival')) resolve();
        }),
      );
      return { texts, done };
    });
    let count = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const size of SIZES) {
        for (const ws of clients) ws.send(message(count, size), { binary: true });
        count++;
      }
    }
    for (const ws of clients) ws.send('check');
    await Promise.all(replies.map((reply) => reply.done));
    for (const reply of replies) expect(reply.texts).toEqual([`ok ${count}`]);
    for (const ws of clients) ws.close();
  });
});
