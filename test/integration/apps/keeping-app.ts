/**
 * The app of read-buffer.test.ts: keeps every binary message it is given and
 * checks them all again later, to catch a message that is a view of a read
 * buffer the server reuses. Message n (binary) is n as a 4-byte big-endian
 * integer, then byte i = (n * 31 + i) & 0xff. Each is checked when its
 * handler runs (the handler waits a turn first, so messages wait in the
 * mailbox while later reads arrive); the text message `check` checks every
 * kept message again and is answered `ok <count>` or `bad <n>: <why>`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { App, Context } from '../../../src/app/types.ts';

/** Why `message` is not message `n`, or null when it is. */
function mismatch(message: Buffer, n: number): string | null {
  if (message.length < 4) return `${message.length} bytes`;
  if (message.readUInt32BE(0) !== n) return `numbered ${message.readUInt32BE(0)}`;
  for (let i = 4; i < message.length; i++) if (message[i] !== ((n * 31 + i) & 0xff)) return `byte ${i} of ${message.length}`;
  return null;
}

const kept = new WeakMap<Context, Buffer[]>();

const app: App = {
  async onMessage(ctx, data, isBinary) {
    let messages = kept.get(ctx);
    if (messages === undefined) kept.set(ctx, (messages = []));
    if (isBinary) {
      const n = messages.length;
      messages.push(data as Buffer);
      await nextTurn();
      const why = mismatch(data as Buffer, n);
      if (why !== null) ctx.sendRaw(`bad ${n} on arrival: ${why}`, false);
      return;
    }
    for (let n = 0; n < messages.length; n++) {
      const why = mismatch(messages[n] as Buffer, n);
      if (why !== null) {
        ctx.sendRaw(`bad ${n}: ${why}`, false);
        return;
      }
    }
    ctx.sendRaw(`ok ${messages.length}`, false);
  },
};

export default app;
