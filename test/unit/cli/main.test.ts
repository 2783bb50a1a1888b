import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => out.push(String(chunk)) > 0);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => err.push(String(chunk)) > 0);
  return { out, err };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('main', () => {
  it('exits 2 with a one-line error for a bad serve flag, before starting anything', async () => {
    const { err } = capture();
    expect(await main(['serve', '--max-message-size', 'huge'])).toBe(2);
    expect(err.join('')).toBe('shoal serve: --max-message-size must be a size such as 65536, 64KiB or 1MiB, got "huge" (see shoal serve --help)\n');
  });

  it('exits 2 for an unknown command and for no command', async () => {
    const { err } = capture();
    expect(await main(['frobnicate'])).toBe(2);
    expect(err.join('')).toMatch(/unknown command "frobnicate"/);
    expect(await main([])).toBe(2);
  });

  it('prints help (exit 0) for --help and serve --help', async () => {
    const { out } = capture();
    expect(await main(['--help'])).toBe(0);
    expect(await main(['serve', '--help'])).toBe(0);
    expect(out.join('')).toMatch(/Usage: shoal <command>/);
    expect(out.join('')).toMatch(/Usage: shoal serve \[options\]/);
  });

  it('prints the package version', async () => {
    const { out } = capture();
    expect(await main(['--version'])).toBe(0);
    expect(out.join('')).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('exits 1 with the reason when the app cannot be loaded', async () => {
    const { err } = capture();
    expect(await main(['serve', '--port', '0', '--workers', '1', '--app', '/nonexistent/app.ts'])).toBe(1);
    expect(err.join('')).toMatch(/^shoal: cannot load app \/nonexistent\/app\.ts/);
  });
});
