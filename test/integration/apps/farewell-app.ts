/**
 * The app of the "closed during a fan-out" test (raw-pubsub.test.ts): a
 * connection's onClose publishes a farewell on every topic it was subscribed
 * to, naming the publication whose fan-out was under way (the slow-consumer
 * policy closes a subscriber inside a fan-out, and onClose runs at once).
 * Raw connections get `{"address": …}` on open and speak JSON commands,
 * each answered `{"done": id}`:
 *   {"sub": topic}                                   ctx.subscribe
 *   {"pubMany": topic, "count": n, "bytes": b}        n publications {"seq", "pad"} as text, of about b bytes
 *                                                    each, seq counting up across commands from 0
 * The farewell is `{"left": address, "during": seq}` (-1 when no publication
 * of this app was being delivered).
 */
import type { App } from '../../../src/app/types.ts';

interface Command {
  id: string;
  sub?: string;
  pubMany?: string;
  count?: number;
  bytes?: number;
}

/** The seq of the publication being published (and delivered), or -1. */
let current = -1;
let nextSeq = 0;
/** address -> its topics (the app's own record: a context does not list them). */
const topicsOf = new Map<string, string[]>();

const app: App = {
  onOpen(ctx) {
    ctx.sendRaw(JSON.stringify({ address: ctx.address }));
  },
  onMessage(ctx, data) {
    const command = JSON.parse(data.toString()) as Command;
    if (command.sub !== undefined) {
      void ctx.subscribe(command.sub);
      topicsOf.set(ctx.address, [...(topicsOf.get(ctx.address) ?? []), command.sub]);
    }
    if (command.pubMany !== undefined) {
      const pad = 'x'.repeat(command.bytes ?? 0);
      for (let i = 0; i < (command.count ?? 0); i++) {
        current = nextSeq++;
        ctx.publish(command.pubMany, JSON.stringify({ seq: current, pad }));
        current = -1;
      }
    }
    ctx.sendRaw(JSON.stringify({ done: command.id }));
  },
  onClose(ctx) {
    for (const topic of topicsOf.get(ctx.address) ?? []) ctx.publish(topic, JSON.stringify({ left: ctx.address, during: current }));
    topicsOf.delete(ctx.address);
  },
};

export default app;
