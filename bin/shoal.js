#!/usr/bin/env node
// Entry point of the `shoal` command. Plain JavaScript on purpose: it must be
// able to run on an old Node just far enough to say that the runtime is too old.
// The check and its line are src/server/runtime.ts's (kept equal by
// test/package/runtime-refusal.test.ts).
const version = process.versions.node;
const [major, minor] = version.split('.').map(Number);
const supported = (major === 24 && minor >= 20) || (major === 26 && minor >= 6) || major > 26;
if (!supported) {
  process.stderr.write(
    `shoal: Node.js ${version} cannot run Shoal: it needs Node.js >= 24.20 (24 LTS) or >= 26.6, the first releases that can ` +
      'transfer a socket to a worker thread; install one (https://nodejs.org, or a version manager: nvm install 24) ' +
      'or let npm fetch one for a command: npx -p node@24 shoal serve ..., npx -p node@24 node server.js\n',
  );
  process.exit(1);
}
// '#cli' (package.json "imports"): the compiled dist/src/cli/main.js, or with the
// `shoal-source` condition (set in this repository by .npmrc) src/cli/main.ts.
// '#startup-v8-flags' likewise: held from before the command's modules load
// until the command releases it (a server: once its workers are ready), so
// that loading them neither optimises code nor grows the young generation.
let cli;
try {
  const startup = await import('#startup-v8-flags');
  startup.holdStartupFlags();
  cli = await import('#cli');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/src/')) {
    // A source checkout started without the condition and without a build.
    process.stderr.write(
      'shoal: this is a source checkout without a build: run it through npm (npm start, npx shoal ...), ' +
        'or node --conditions=shoal-source bin/shoal.js ..., or build dist/ first (npm run build)\n',
    );
    process.exit(1);
  }
  throw error;
}
const code = await cli.main(process.argv.slice(2));
// Exit now, once what was written to stdout and stderr has been handed on,
// rather than when the event loop runs dry: at that natural end Node closes
// its signal handlers before the process is gone, and a SIGINT landing then
// (npm's late copy of a Ctrl-C on a loaded machine) killed the stopped server
// by the signal instead of its exit code. process.exit still runs the 'exit'
// listeners (the logger's final flush).
process.exitCode = code; // the code also if the writes below never complete
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
