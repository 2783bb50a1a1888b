/**
 * The app of borrowed-messages.test.ts: a raw app with `borrowMessages`, so
 * its messages are views of the server's buffers, valid only until
 * `onMessage` returns. It does what apps do with a message in that time,
 * and the test checks that every copy that leaves is intact although the
 * server rewrites those buffers right after:
 *   /echo   sends each message back (`ctx.sendRaw`)
 *   /pub    publishes each message to the topic `fan` (`ctx.publish`) and
 *           sends it to every /sub connection (`sendRaw` on their contexts)
 *   /sub    subscribes to `fan`; answers `ready` once subscribed
 *   /slow   echoes each message a turn later, from a copy made at once, and
 *           keeps the handler busy meanwhile, so later messages wait in the
 *           mailbox (which must copy them)
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { App, Context } from '../../../src/app/types.ts';

const subscribers = new Set<Context>();

const app: App = {
  borrowMessages: true,
  upgrade(req) {
    return { accept: true, data: req.path };
  },
  async onOpen(ctx) {
    if (ctx.upgradeData !== '/sub') return;
    await ctx.subscribe('fan');
    subscribers.add(ctx);
    ctx.sendRaw('ready');
  },
  onClose(ctx) {
    subscribers.delete(ctx);
  },
  onMessage(ctx, data, isBinary) {
    const bytes = data as Buffer;
    switch (ctx.upgradeData) {
      case '/echo':
        ctx.sendRaw(bytes, isBinary);
        return;
      case '/pub':
        ctx.publish('fan', bytes, isBinary);
        for (const subscriber of subscribers) subscriber.sendRaw(bytes, isBinary);
        return;
      case '/slow': {
        const copy = Buffer.from(bytes);
        return nextTurn().then(() => ctx.sendRaw(copy, isBinary));
      }
    }
  },
};

export default app;
