/**
 * `npm start` as a supervisor or a terminal drives it: a signal to npm, or
 * Ctrl-C (SIGINT to the whole process group: npm, and the server, which then
 * also gets npm's forwarded copy), reaches the server, which drains and exits
 * 0, and npm exits 0 with it. Nothing is left running.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** Process groups this file started; whatever is left of them is killed after each test (also after a timeout). */
const groups: number[] = [];

function start(): Promise<{ pid: number; exited: Promise<number | null>; output: () => string}> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.toLowerCase().startsWith('npm_')) env[key] = value;
  // detached: its own process group, as a terminal's foreground job is.
  const child = spawn('npm', ['start', '--', '--port', '0', '--workers', '1'], { cwd: REPO, env, detached: true });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  groups.push(child.pid!);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!/listening on ws:/.test(output)) return;
      child.stdout.off('data', check);
      resolve({ pid: child.pid!, exited, output: () => output});
    };
    child.stdout.on('data', check);
    void exited.then((code) => reject(new Error(`npm start exited ${code} before listening:\n${output}`)));
  });
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start under signals', { timeout: 30_000 }, () => {
  afterEach(() => {
    for (const pgid of groups.splice(0)) if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
  });

  it('SIGTERM to the npm process reaches the server: drain, exit 0, npm exits 0', async () => {
    const npm = await start();
    process.kill(npm.pid, 'SIGTERM');
    expect(await npm.exited).toBe(0);
    expect(npm.output()).toMatch(/SIGTERM: closing connections[\s\S]*shoal: stopped/);
    expect(groupAlive(npm.pid)).toBe(false);
  });

  it('Ctrl-C (SIGINT to the process group) drains once and exits 0', async () => {
    const npm = await start();
    process.kill(-npm.pid, 'SIGINT');
    expect(await npm.exited).toBe(0);
    expect(npm.output()).toMatch(/SIGINT: closing connections[\s\S]*shoal: stopped/);
    expect(groupAlive(npm.pid)).toBe(false);
  });
});
