/**
 * The app of cpu-log.test.ts: one `cpu: true` method that logs a line
 * at debug, info and warn (in that order) with the marker it is given, from
 * a CPU pool thread.
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
  },
};

export default app;
