#!/usr/bin/env node
// Entry point of the `shoal` command. Plain JavaScript on purpose: it must be
// able to run on an old Node just far enough to say that the runtime is too old.
const [major, minor] = process.versions.node.split('.').map(Number);
const supported = (major === 24 && minor >= 20) || (major === 26 && minor >= 6) || major > 26;
if (!supported) {
  process.stderr.write(
    `shoal: Node.js ${process.versions.node} is too old; Shoal needs >= 24.20 (24 LTS) or >= 26.6, ` +
      'the first releases that can transfer an accepted socket to a worker thread. ' +
      'Run it through npm (npm start, npx shoal) to use the runtime pinned in package.json.\n',
  );
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
