import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { shouldHoldStartupFlags } from '../../../src/server/startup-v8-flags.ts';

const BIN = fileURLToPath(new URL('../../../bin/shoal.js', import.meta.url));
const PROBE = fileURLToPath(new URL('../../fixtures/heap/startup-probe.mjs', import.meta.url));
const LISTEN_SERVER = fileURLToPath(new URL('../../fixtures/heap/listen-server.ts', import.meta.url));

interface ThreadReport {
  threadId: number;
  main: boolean;
  optimisedDuringStart: boolean | null;
  newSpaceAtStart: number;
  newSpaceAtReady: number;
  optimisedLater: boolean;
  growsLater: boolean;
}

/**
 * Starts a server with one worker (the script and its arguments) with the
 * probe preloaded in every thread, waits for the ready line, asks for the
 * reports (SIGUSR2) and stops the server by its pid.
 */
function probeServer(script: string[]): Promise<ThreadReport[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=shoal-source', '--allow-natives-syntax', '--import', PROBE, ...script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const reports: ThreadReport[] = [];
    let stdout = '';
    let stderr = '';
    let asked = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no reports in time; stdout: ${stdout}; stderr: ${stderr}`));
    }, 90_000);
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      if (!asked && stdout.includes('listening on')) {
        asked = true;
        child.kill('SIGUSR2');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      const lines = stderr.split('\n').filter((line) => line.startsWith('PROBE '));
      reports.splice(0, reports.length, ...lines.map((line) => JSON.parse(line.slice('PROBE '.length)) as ThreadReport));
      if (reports.some((report) => report.main) && reports.some((report) => !report.main)) child.kill('SIGTERM');
    });
    child.on('exit', () => {
      clearTimeout(timer);
      if (reports.length >= 2) resolve(reports);
      else reject(new Error(`server exited without reports; stdout: ${stdout}; stderr: ${stderr}`));
    });
  });
}

describe('V8 start-up flags (issue #12, memory at rest)', () => {
  it('are held only on a known V8 with Maglev and when the command line leaves the compilers and the young generation alone', () => {
    expect(shouldHoldStartupFlags('13.6.233.17-node.40', 'x64', ['--conditions=shoal-source'])).toBe(true);
    expect(shouldHoldStartupFlags('13.6.233.17-node.40', 'arm64', [])).toBe(true);
    expect(shouldHoldStartupFlags('14.1.0', 'x64', [])).toBe(false);
    expect(shouldHoldStartupFlags('13.6.233.17-node.40', 'ppc64', [])).toBe(false);
    for (const flag of ['--no-maglev', '--turbofan', '--max-opt=2', '--jitless', '--lite-mode', '--no-opt', '--always_turbofan', '--semi_space_growth_factor=4', '--max-semi-space-size=64']) {
      expect(shouldHoldStartupFlags('13.6.233.17-node.40', 'x64', [flag]), flag).toBe(false);
    }
  });

  it('a starting server optimises nothing and keeps its young generations, in the primary and the worker; after the ready line both work again', async () => {
    const reports = await probeServer([BIN, 'serve', '--workers', '1', '--port', '0', '--host', '127.0.0.1']);
    for (const report of reports) {
      const thread = report.main ? 'primary' : `worker ${report.threadId}`;
      expect(report.optimisedDuringStart, `${thread}: a hot function was optimised during the start`).toBe(false);
      expect(report.newSpaceAtReady, `${thread}: young generation noted at the ready line`).toBeGreaterThan(0);
      expect(report.newSpaceAtReady, `${thread}: young generation at ready vs at start`).toBeLessThanOrEqual(report.newSpaceAtStart);
      expect(report.optimisedLater, `${thread}: the same function is optimised after the ready line`).toBe(true);
      expect(report.growsLater, `${thread}: the young generation grows after the ready line`).toBe(true);
    }
  }, 120_000);

  it('createServer().listen() holds them while its workers start', async () => {
    const reports = await probeServer([LISTEN_SERVER]);
    const workers = reports.filter((report) => !report.main);
    expect(workers.length).toBeGreaterThan(0);
    for (const report of workers) {
      expect(report.optimisedDuringStart, `worker ${report.threadId}: a hot function was optimised during the start`).toBe(false);
      expect(report.newSpaceAtReady, `worker ${report.threadId}: young generation noted at the ready line`).toBeGreaterThan(0);
      expect(report.newSpaceAtReady, `worker ${report.threadId}: young generation at ready vs at start`).toBeLessThanOrEqual(report.newSpaceAtStart);
      expect(report.optimisedLater, `worker ${report.threadId}: optimised after the ready line`).toBe(true);
      expect(report.growsLater, `worker ${report.threadId}: grows after the ready line`).toBe(true);
    }
  }, 120_000);
});
