/**
 * Builds the published JavaScript: `tsc -p tsconfig.build.json` into dist/
 * (src/ and bench/ keep their relative layout, so `new URL('../x', import.meta.url)`
 * means the same in both), plus the plain-JavaScript peer files tsc does not copy.
 * Run by `npm pack` (prepack) and `npm run build`; development never needs it.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (result.status !== 0) {
  process.stderr.write(`build: tsc exited with ${result.status ?? result.signal}\n`);
  process.exit(1);
}

const peers = path.join(root, 'bench/peers');
for (const name of readdirSync(peers)) {
  if (name.endsWith('.mjs')) cpSync(path.join(peers, name), path.join(dist, 'bench/peers', name));
}
process.stderr.write(`build: ${path.relative(process.cwd(), dist) || dist} ready\n`);
