/**
 * Shoal as a user gets it: `npm pack` (which builds dist/), the tarball
 * installed into a fresh project (its dependencies from the registry or npm's
 * cache), a TypeScript app and a JavaScript app served by `npx shoal serve`,
 * the typed client, `createServer` from code, `tsc` with the project's own
 * strict nodenext settings against the shipped declarations, and the version
 * refusal of the installed CLI on an old Node. The project runs on the Node
 * running these tests (its directory first on PATH), not a downloaded one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeRefusal } from '../../src/server/runtime.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = '@shoal-ws/shoal';
const TSC = path.join(REPO, 'node_modules/typescript/bin/tsc');
const VITE = path.join(REPO, 'node_modules/vite/bin/vite.js');
const OLD_NODE = '/usr/bin/node';
/** The goal for a consumer install (node_modules without the Node runtime and @types). */
const INSTALL_BUDGET_BYTES = 20 * 1024 * 1024;

let dir = '';
let project = '';
const started: ChildProcess[] = [];
/** Server pids (they outlive npx if npx dies first). */
const servers: number[] = [];

/** The user's environment: no npm lifecycle variables, no in-repo source condition, this Node first on PATH. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') && key !== 'NODE_OPTIONS' && key !== 'INIT_CWD') env[key] = value;
  }
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;
  return env;
}

function run(command: string, args: string[], cwd: string, timeout = 120_000): { stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, env: userEnv(), encoding: 'utf8', timeout });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

/** Bytes on disk under `root` (files and symlinks themselves, not followed). */
function sizeOf(root: string): number {
  let total = 0;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    total += entry.isDirectory() ? sizeOf(full) : lstatSync(full).size;
  }
  return total;
}

/** Pids of every descendant of `pid` (from /proc), deepest last. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // The process ended while we read.
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const child of children.get(p) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Served {
  url: string;
  /** The pid of the Node process that runs the server (npx runs it through sh). */
  serverPid: number;
  exited: Promise<number | null>;
  output: () => string;
}

/** `npx shoal serve --app <app>` on a free port; resolves when it prints its address. */
function npxServe(app: string): Promise<Served> {
  const child = spawn('npx', ['shoal', 'serve', '--port', '0', '--workers', '1', '--app', app], { cwd: project, env: userEnv() });
  started.push(child);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const onData = (): void => {
      const match = /listening on (ws:\/\/\S+)/.exec(output);
      if (match === null) return;
      child.stdout.off('data', onData);
      const server = descendants(child.pid!).find((pid) => /\bnode\b.*shoal.* serve/.test(cmdline(pid)));
      if (server === undefined) reject(new Error(`no server process under npx ${child.pid}: ${output}`));
      else {
        servers.push(server);
        resolve({ url: match[1], serverPid: server, exited, output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => reject(new Error(`npx shoal serve exited ${code} before listening:\n${output}`)));
  });
}

const APP_TS = `import { AppError, defineApp } from '${PACKAGE}';

export interface Schema {
  methods: {
    add: { data: { a: number; b: number }; result: number };
    fail: { data: null; result: never };
  };
  events: { note: string };
  topics: { news: { headline: string } };
}

export default defineApp<Schema>({
  methods: {
    add: (_ctx, { a, b }) => a + b,
    fail: () => {
      throw new AppError('nope', 'refused on purpose');
    },
  },
  events: {
    note: (ctx, text) => ctx.publish('news', { headline: text.toUpperCase() }),
  },
});
`;

const APP_JS = `import { defineApp } from '${PACKAGE}';

export default defineApp({
  methods: { add: (_ctx, { a, b }) => a + b + 1000 },
});
`;

const CLIENT_TS = `import { ShoalClient } from '${PACKAGE}/client';
import type { Schema } from './app.ts';

const client = new ShoalClient<Schema>(process.argv[2]!);
await client.connect();
const sum: number = await client.request('add', { a: 1, b: 2 });
console.log(\`sum \${sum}\`);
client.close();
`;

/** Compile-time checks against the shipped declarations: each line must be an error. */
const TYPE_CHECKS_TS = `import { defineApp } from '${PACKAGE}';
import { ShoalClient } from '${PACKAGE}/client';
import type { Schema } from './app.ts';

export async function checks(client: ShoalClient<Schema>): Promise<void> {
  // @ts-expect-error: no such method
  await client.request('subtract', { a: 1, b: 2 });
  // @ts-expect-error: b must be a number
  await client.request('add', { a: 1, b: '2' });
  // @ts-expect-error: the result is a number
  const text: string = await client.request('add', { a: 1, b: 2 });
  void text;
}

defineApp<Schema>({
  // @ts-expect-error: a method handler must return the method's result type
  methods: { add: () => 'three' },
});

defineApp<Schema>({
  events: {
    // @ts-expect-error: no such topic
    note: (ctx, text) => ctx.publish('weather', { headline: text }),
  },
});
`;

/** A browser page's script; bundled with Vite (lib mode, browser resolution) as docs/client.md describes. */
const BROWSER_TS = `import { ShoalClient } from '${PACKAGE}/client';

const client = new ShoalClient('ws://127.0.0.1:9001/');
await client.connect();
document.body.textContent = String(await client.request('add', { a: 1, b: 2 }));
`;

const SERVE_TS = `import { createServer } from '${PACKAGE}';
import { ShoalClient } from '${PACKAGE}/client';

const server = createServer({ port: 0, workers: 1, app: './app.js' });
const address = await server.listen();
const client = new ShoalClient(address.url);
await client.connect();
console.log(\`programmatic \${String(await client.request('add', { a: 2, b: 3 }))}\`);
client.close();
await server.close();
`;

describe('the packed package, installed into a fresh project', { timeout: 120_000 }, () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'shoal-package-'));
    const packDir = path.join(dir, 'pack');
    project = path.join(dir, 'project');
    mkdirSync(packDir);
    mkdirSync(project);
    // prepack builds dist/ from src/ (and bench/) first.
    run('npm', ['pack', '--pack-destination', packDir], REPO);
    const tarballs = readdirSync(packDir).filter((name) => name.endsWith('.tgz'));
    expect(tarballs).toHaveLength(1);
    const tarball = path.join(packDir, tarballs[0]!);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'shoal-user', private: true, type: 'module' }, null, 2));
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], project);
    writeFileSync(path.join(project, 'app.ts'), APP_TS);
    writeFileSync(path.join(project, 'app.js'), APP_JS);
    writeFileSync(path.join(project, 'client.ts'), CLIENT_TS);
    writeFileSync(path.join(project, 'type-checks.ts'), TYPE_CHECKS_TS);
    writeFileSync(path.join(project, 'serve.ts'), SERVE_TS);
  }, 240_000);

  afterAll(() => {
    for (const child of started) {
      for (const pid of [...descendants(child.pid!), child.pid!]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    for (const pid of servers) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
    expect(existsSync(dir)).toBe(false);
  });

  it('ships only what runs: compiled JavaScript with declarations, no TypeScript sources, tests or peer packages', () => {
    const root = path.join(project, 'node_modules', PACKAGE);
    expect(existsSync(path.join(root, 'dist/src/index.js'))).toBe(true);
    expect(existsSync(path.join(root, 'dist/src/index.d.ts'))).toBe(true);
    expect(existsSync(path.join(root, 'dist/src/client/index.d.ts'))).toBe(true);
    expect(existsSync(path.join(root, 'src'))).toBe(false);
    expect(existsSync(path.join(root, 'test'))).toBe(false);
    // The bench harness's own dependencies are optional peers: a server install leaves them out.
    for (const peer of ['@btc-vision/uwebsockets.js', '@trufflesuite/uws-js-unofficial', 'bun', 'ws', 'node', 'autocannon', 'hdr-histogram-js']) {
      expect(existsSync(path.join(project, 'node_modules', peer)), peer).toBe(false);
    }
  });

  it(`installs in under ${INSTALL_BUDGET_BYTES / 1024 / 1024} MiB (node_modules, no Node runtime)`, () => {
    const bytes = sizeOf(path.join(project, 'node_modules'));
    console.log(`consumer install: ${(bytes / 1024 / 1024).toFixed(1)} MiB in node_modules`);
    expect(bytes).toBeLessThan(INSTALL_BUDGET_BYTES);
  });

  it('npx shoal --version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(run('npx', ['shoal', '--version'], project).stdout.trim()).toBe(version);
  });

  it('npx shoal serve --app ./app.ts serves a TypeScript app; the typed client gets a reply; SIGTERM to the server pid drains and exits 0', async () => {
    const served = await npxServe('./app.ts');
    expect(run('node', ['client.ts', served.url], project).stdout).toBe('sum 3\n');
    process.kill(served.serverPid, 'SIGTERM');
    expect(await served.exited).toBe(0);
    expect(served.output()).toMatch(/SIGTERM: closing connections[\s\S]*shoal: stopped/);
    expect(alive(served.serverPid)).toBe(false);
  });

  it('npx shoal bench without its two dependencies says what to install, in one line, and exits 1', () => {
    const result = spawnSync('npx', ['shoal', 'bench', '--scenarios', 'echo', '--no-files'], { cwd: project, env: userEnv(), encoding: 'utf8', timeout: 120_000 });
    expect([result.status, result.stderr]).toEqual([
      1,
      'shoal bench: needs autocannon and hdr-histogram-js, which a server install leaves out: npm install -D autocannon hdr-histogram-js\n',
    ]);
    // Now as that line says (versions from the package's peerDependencies).
    const { peerDependencies } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
    const specs = Object.entries(peerDependencies).map(([name, range]) => `${name}@${range}`);
    run('npm', ['install', '-D', '--no-audit', '--no-fund', '--prefer-offline', ...specs], project);
  });

  it('npx shoal serve --app ./app.js serves a JavaScript app; npx shoal bench --target measures it', async () => {
    const served = await npxServe('./app.js');
    expect(run('node', ['client.ts', served.url], project).stdout).toBe('sum 1003\n');
    const bench = run('npx', ['shoal', 'bench', '--target', served.url, '--against', 'none', '--scenarios', 'echo:connections=2', '--duration', '1', '--warmup', '0', '--no-files', '--quiet'], project);
    expect(bench.stdout).toMatch(/== echo[\s\S]*\ntarget +[\d,]+ /);
    process.kill(served.serverPid, 'SIGTERM');
    expect(await served.exited).toBe(0);
  });

  it('createServer from the installed package serves an app from code', () => {
    expect(run('node', ['serve.ts'], project).stdout).toBe('programmatic 1005\n');
  });

  it("tsc --noEmit (strict, module nodenext) passes against the shipped declarations and checks defineApp's methods, events and topics", () => {
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--save-dev', '@types/node@24'], project);
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', target: 'es2024', strict: true, noEmit: true, allowImportingTsExtensions: true, types: ['node'] },
        include: ['app.ts', 'client.ts', 'serve.ts', 'type-checks.ts', 'wrong.ts'],
      }),
    );
    const result = spawnSync(process.execPath, [TSC, '-p', project], { cwd: project, env: userEnv(), encoding: 'utf8', timeout: 120_000 });
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
    // And the checks can fail: a wrong call without its @ts-expect-error is reported.
    writeFileSync(path.join(project, 'wrong.ts'), TYPE_CHECKS_TS.replaceAll('// @ts-expect-error', '//'));
    const wrong = spawnSync(process.execPath, [TSC, '-p', project], { cwd: project, env: userEnv(), encoding: 'utf8', timeout: 120_000 });
    rmSync(path.join(project, 'wrong.ts'));
    expect(wrong.status).not.toBe(0);
    expect(wrong.stdout.match(/wrong\.ts\(\d+,\d+\): error/g)?.length).toBe(5);
  });

  it('the client bundles for a browser (Vite) with no Node built-in left in the bundle', () => {
    writeFileSync(path.join(project, 'browser.ts'), BROWSER_TS);
    writeFileSync(
      path.join(project, 'vite.config.mjs'),
      "export default { logLevel: 'warn', build: { outDir: 'web', target: 'es2022', lib: { entry: 'browser.ts', formats: ['es'], fileName: 'bundle' } } };\n",
    );
    run(process.execPath, [VITE, 'build'], project);
    const bundle = readFileSync(path.join(project, 'web/bundle.js'), 'utf8');
    expect(bundle).toMatch(/v1\.msgpack\.shoal\.dev/);
    expect(bundle).not.toMatch(/from\s*["']node:|require\(["']node:|from\s*["'](?:net|tls|worker_threads|fs)["']/);
  });

  it('npx shoal bench --against uws names the package to install when no uWebSockets.js build is installed', () => {
    const result = spawnSync(
      'npx',
      ['shoal', 'bench', '--target', 'ws://127.0.0.1:1/', '--against', 'uws', '--scenarios', 'echo', '--duration', '1', '--warmup', '0', '--no-files', '--quiet'],
      { cwd: project, env: userEnv(), encoding: 'utf8', timeout: 120_000 },
    );
    expect(`${result.stdout}${result.stderr}`).toMatch(/npm install -D @btc-vision\/uwebsockets\.js/);
  });

  it('the installed CLI and createServer refuse an old Node with the one line of src/server/runtime.ts', (context) => {
    if (!existsSync(OLD_NODE)) return context.skip(`${OLD_NODE} is not installed: no old Node to run the refusal against`);
    const version = spawnSync(OLD_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    const [major = 0, minor = 0] = version.split('.').map(Number);
    if ((major === 24 && minor >= 20) || (major === 26 && minor >= 6) || major > 26) {
      return context.skip(`${OLD_NODE} is Node ${version}, which Shoal supports: no old Node to run the refusal against`);
    }
    const bin = path.join(project, 'node_modules/.bin/shoal');
    const cli = spawnSync(OLD_NODE, [bin, 'serve', '--app', './app.js'], { cwd: project, env: userEnv(), encoding: 'utf8', timeout: 30_000 });
    expect(cli.status).toBe(1);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toBe(`shoal: ${runtimeRefusal(version)}\n`);
    const api = spawnSync(
      OLD_NODE,
      ['--input-type=module', '-e', `import { createServer } from '${PACKAGE}'; try { createServer(); } catch (e) { console.log(e.message); process.exit(3); }`],
      { cwd: project, env: userEnv(), encoding: 'utf8', timeout: 30_000 },
    );
    expect(api.status).toBe(3);
    expect(api.stdout).toBe(`${runtimeRefusal(version)}\n`);
  });
});
