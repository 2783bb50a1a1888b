/**
 * The app of the raw pub/sub integration tests (raw-pubsub.test.ts,
 * cluster.test.ts). Raw connections (no subprotocol) get `{"address": …}` on
 * open and speak JSON commands, each answered `{"done": id, "result": …}`:
 *   {"sub": topic} / {"unsub": topic}               ctx.subscribe / ctx.unsubscribe
 *   {"pub": topic, "text": s} / {"pub": topic, "bytes": [..]} / {"pub": topic, "value": v}
 *   {"pubMany": topic, "from": name, "count": n, "start": s}   n publications {"from", "seq"} as text, seq from s (default 0)
 *   {"to": address, "event": e, "value": v}         ctx.sendTo
 *   {"script": [[op, ...args], ...]}                 in one go, within one event-loop turn: ["pub", topic, text],
 *                                                    ["send", text] (ctx.sendRaw), ["sub", topic], ["unsub", topic],
 *                                                    ["to", address, text] (ctx.sendTo)
 * Subprotocol connections get the `welcome` event and have `publish`,
 * `publishMany` and `sendTo` methods (and the built-in `$subscribe`).
 */
import type { App, Context } from '../../../src/app/types.ts';

interface Command {
  id: string;
  sub?: string;
  unsub?: string;
  pub?: string;
  text?: string;
  bytes?: number[];
  value?: unknown;
  pubMany?: string;
  from?: string;
  count?: number;
  start?: number;
  to?: string;
  event?: string;
  script?: string[][];
}

async function run(ctx: Context, command: Command): Promise<unknown> {
  if (command.sub !== undefined) {
    await ctx.subscribe(command.sub);
    return true;
  }
  if (command.unsub !== undefined) return ctx.unsubscribe(command.unsub);
  if (command.pub !== undefined) {
    if (command.text !== undefined) return ctx.publish(command.pub, command.text);
    if (command.bytes !== undefined) return ctx.publish(command.pub, Buffer.from(command.bytes));
    return ctx.publish(command.pub, command.value);
  }
  if (command.pubMany !== undefined) {
    const start = command.start ?? 0;
    for (let seq = start; seq < start + (command.count ?? 0); seq++) ctx.publish(command.pubMany, JSON.stringify({ from: command.from, seq }));
    return true;
  }
  if (command.to !== undefined) return ctx.sendTo(command.to, command.event ?? 'note', command.value);
  if (command.script !== undefined) {
    for (const [op, a, b] of command.script) {
      if (op === 'pub') ctx.publish(a, b);
      else if (op === 'send') ctx.sendRaw(a);
      else if (op === 'sub') void ctx.subscribe(a);
      else if (op === 'unsub') ctx.unsubscribe(a);
      else if (op === 'to') ctx.sendTo(a, 'note', b);
      else throw new Error(`unknown script step ${op}`);
    }
    return true;
  }
  throw new Error('unknown command');
}

/** Set by onStart's cleanup: the test (the host process) checks it ran. */
export const hostState = { started: 0, stopped: 0 };

const app: App = {
  limits: { maxSubscriptions: 1100 },
  // A feed in the host process: `tick` on topic "ticks" every 20 ms, from outside any handler.
  onStart(server) {
    hostState.started++;
    let tick = 0;
    const timer = setInterval(() => {
      try {
        server.publish('ticks', `tick ${tick++}`);
      } catch {
        // BROKER_UNAVAILABLE / OVERLOADED: the next tick tries again.
      }
    }, 20);
    return () => {
      clearInterval(timer);
      hostState.stopped++;
    };
  },
  onOpen(ctx) {
    if (ctx.protocol === null) ctx.sendRaw(JSON.stringify({ address: ctx.address }));
    else ctx.send('welcome', { address: ctx.address });
  },
  async onMessage(ctx, data) {
    const command = JSON.parse(data.toString()) as Command;
    let result: unknown;
    try {
      result = await run(ctx, command);
    } catch (error) {
      result = { error: (error as { code?: string }).code ?? (error as Error).message };
    }
    ctx.sendRaw(JSON.stringify({ done: command.id, result }));
  },
  methods: {
    publish: (ctx, { topic, data }: { topic: string; data: unknown }) => ctx.publish(topic, data),
    publishMany: (ctx, { topic, from, count }: { topic: string; from: string; count: number }) => {
      for (let seq = 0; seq < count; seq++) ctx.publish(topic, { from, seq });
      return null;
    },
    sendTo: (ctx, { address, event, data }: { address: string; event: string; data: unknown }) => ctx.sendTo(address, event, data),
  },
};

export default app;
