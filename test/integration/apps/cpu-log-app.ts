/**
 * The app of cpu-log.test.ts: one `cpu: true` method that logs a line
 * at debug, info and warn (in that order) with the marker it is given, from
 * a CPU pool thread; and one that logs a line and then computes past its
 * timeout (the thread is terminated), bounded at 60 s of spinning.
 */
import type { App } from '../../../src/app/types.ts';

const app: App = {
  methods: {
    logEveryLevel: {
      handler: (ctx, marker) => {
        ctx.log.debug({ marker }, 'cpu debug line');
        ctx.log.info({ marker }, 'cpu info line');
        ctx.log.warn({ marker }, 'cpu warn line');
        return 'logged';
      },
      cpu: true,
    },
    logThenSpin: {
      handler: (ctx, marker) => {
        ctx.log.warn({ marker }, 'cpu line before the timeout');
        const until = Date.now() + 60_000;
        while (Date.now() < until);
        return 'not aborted';
      },
      timeoutMs: 2000,
      cpu: true,
    },
  },
};

export default app;
