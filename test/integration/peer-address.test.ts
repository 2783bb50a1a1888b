/**
 * The upgrade hook sees the client's address. The worker reads it only when
 * the hook asks (it is a system call), so this checks the lazy path end to end.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { fixtureApp, startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ app: fixtureApp('protocols-app.ts'), workers: 1 });
});
afterAll(() => server.close());

describe('remote address', () => {
  it("gives the upgrade hook the client's loopback address", async () => {
    const ws = new WebSocket(`${server.origin}/peer`, ['chat.v1']);
    await once(ws, 'open');
    ws.send('who am i');
    const [answer] = (await once(ws, 'message')) as [Buffer];
    ws.close();
    await once(ws, 'close');
    expect(answer.toString()).toBe('chat.v1|{"remote":"127.0.0.1"}');
  });
});
