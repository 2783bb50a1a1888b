/**
 * The app the Shoal-subprotocol integration tests run: one method or event
 * per behaviour under test. Raw clients (no subprotocol) get an echo.
 */
import { AppError, defineApp } from '../../../src/app/define-app.ts';

export interface TestSchema {
  methods: {
    echo: { data: unknown; result: unknown };
    add: { data: { a: number; b: number }; result: number };
    whoami: { data: null; result: string };
    count: { data: null; result: number };
    never: { data: null; result: never };
    boom: { data: null; result: never };
    refuse: { data: null; result: never };
    publish: { data: { topic: string; data: unknown }; result: number };
    publishMany: { data: { topic: string; from: string; count: number }; result: null };
    sendTo: { data: { address: string; event: string; data: unknown }; result: boolean };
    fib: { data: number; result: number };
    spin: { data: null; result: never };
    closeMe: { data: { code: number; reason: string }; result: null };
  };
  events: {
    note: unknown;
    explode: null;
  };
  serverEvents: {
    welcome: { address: string };
    noted: unknown;
    [event: string]: unknown;
  };
  topics: { [topic: string]: unknown };
  state: { count: number };
}

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export default defineApp<TestSchema>({
  limits: { maxOutstandingRequests: 4, maxSubscriptions: 8 },
  onOpen(ctx) {
    ctx.state.count = 0;
    // Raw connections (no subprotocol) have no events.
    if (ctx.protocol !== null) ctx.send('welcome', { address: ctx.address });
  },
  onMessage(ctx, data, isBinary) {
    ctx.sendRaw(data, isBinary);
  },
  authorizeSubscribe: (_ctx, topic) => !topic.startsWith('forbidden:'),
  methods: {
    echo: (_ctx, data) => data,
    add: (_ctx, { a, b }) => a + b,
    whoami: (ctx) => ctx.address,
    count: (ctx) => ++ctx.state.count,
    never: { handler: () => new Promise<never>(() => {}), timeoutMs: 300 },
    boom: () => {
      throw new Error('secret internal detail');
    },
    refuse: async () => {
      throw new AppError('NOT_ALLOWED', 'you may not', { why: 'test' });
    },
    publish: (ctx, { topic, data }) => ctx.publish(topic, data) as unknown as number,
    publishMany(ctx, { topic, from, count }) {
      for (let seq = 0; seq < count; seq++) ctx.publish(topic, { from, seq });
      return null;
    },
    sendTo: (ctx, { address, event, data }) => ctx.sendTo(address, event, data) as unknown as boolean,
    fib: { handler: (_ctx, n) => fib(n), cpu: true, timeoutMs: 10_000 },
    spin: {
      handler: () => {
        for (;;);
      },
      cpu: true,
      timeoutMs: 300,
    },
    closeMe(ctx, { code, reason }) {
      ctx.close(code, reason);
      return null;
    },
  },
  events: {
    note: (ctx, data) => ctx.send('noted', data),
    explode: () => {
      throw new Error('event failed');
    },
  },
});
