/**
 * Talking to the commands-app fixture (test/fixtures/apps/commands-app.ts)
 * over a ws client: send a text command, await the one text reply.
 */
import { once } from 'node:events';
import type WebSocket from 'ws';

/** Sends `text` and resolves with the next message as text (the app echoes what is not a command). */
export async function ask(ws: WebSocket, text: string): Promise<string> {
  const reply = once(ws, 'message');
  ws.send(text);
  const [data] = (await reply) as [Buffer];
  return data.toString();
}

/** The threadId of the worker serving `ws` (the app's answer to `whoami`: "worker <threadId>"). */
export async function workerOf(ws: WebSocket): Promise<number> {
  return Number((await ask(ws, 'whoami')).split(' ')[1]);
}
