import { defineConfig } from 'vitest/config';

// Inside this repository `@shoal-ws/shoal` (and bin/shoal.js's '#cli') resolve to
// the TypeScript sources through the `shoal-source` export condition. npm scripts
// and npx get it from .npmrc (node-options); set it here too so that a vitest
// started any other way, and every server process a test spawns, see the sources.
const SOURCE_CONDITION = '--conditions=shoal-source';
if (!(process.env.NODE_OPTIONS ?? '').includes(SOURCE_CONDITION)) {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${SOURCE_CONDITION}`.trim();
}

export default defineConfig({
  resolve: { conditions: ['shoal-source', 'module', 'node', 'development|production'] },
  ssr: { resolve: { conditions: ['shoal-source', 'module', 'node', 'development|production'] } },
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers with worker threads; keep files
    // parallel but bounded for a 2-core machine.
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
