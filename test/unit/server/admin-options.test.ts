import { describe, expect, it } from 'vitest';
import { resolveServerOptions } from '../../../src/server/options.ts';
import { parseServeArgs, serveHelp } from '../../../src/cli/args.ts';

describe('adminPort and adminHost options', () => {
  it('are off and on loopback by default', () => {
    const options = resolveServerOptions({ workers: 1 });
    expect(options.adminPort).toBeNull();
    expect(options.adminHost).toBe('127.0.0.1');
  });
  it('take a port, 0 for any free port', () => {
    expect(resolveServerOptions({ workers: 1, adminPort: 9091 }).adminPort).toBe(9091);
    expect(resolveServerOptions({ workers: 1, adminPort: 0 }).adminPort).toBe(0);
  });
  it('refuse ports out of range and non-integers', () => {
    for (const adminPort of [-1, 65536, 1.5, Number.NaN]) {
      expect(() => resolveServerOptions({ workers: 1, adminPort })).toThrow(/^adminPort must be null \(off\) or an integer from 0 to 65535/);
    }
  });
  it('refuse the WebSocket port', () => {
    expect(() => resolveServerOptions({ workers: 1, port: 9001, adminPort: 9001 })).toThrow('adminPort must differ from port 9001');
  });
  it('refuse an empty host', () => {
    expect(() => resolveServerOptions({ workers: 1, adminHost: '' })).toThrow('adminHost must be a non-empty string');
  });
});

describe('shoal serve --admin-port / --admin-host', () => {
  it('reads the flags', () => {
    const parsed = parseServeArgs(['--workers', '1', '--admin-port', '9091', '--admin-host', '::1'], {});
    expect(parsed).toMatchObject({ kind: 'serve', options: { adminPort: 9091, adminHost: '::1' } });
  });
  it('reads SHOAL_ADMIN_PORT and SHOAL_ADMIN_HOST, and the flag wins', () => {
    const env = { SHOAL_ADMIN_PORT: '9092', SHOAL_ADMIN_HOST: '0.0.0.0' };
    expect(parseServeArgs(['--workers', '1'], env)).toMatchObject({ kind: 'serve', options: { adminPort: 9092, adminHost: '0.0.0.0' } });
    expect(parseServeArgs(['--workers', '1', '--admin-port', '9093'], env)).toMatchObject({ kind: 'serve', options: { adminPort: 9093 } });
  });
  it('leaves the admin port off when the variable is empty', () => {
    expect(parseServeArgs(['--workers', '1'], { SHOAL_ADMIN_PORT: '' })).toMatchObject({ kind: 'serve', options: { adminPort: null } });
  });
  it('names the flag in errors', () => {
    expect(parseServeArgs(['--admin-port', 'x'], {})).toEqual({ kind: 'error', message: '--admin-port must be a whole number, got "x"' });
    expect(parseServeArgs(['--admin-port', '70000'], {})).toMatchObject({ kind: 'error', message: expect.stringMatching(/^--admin-port must be null \(off\) or an integer/) });
    expect(parseServeArgs(['--port', '9100', '--admin-port', '9100'], {})).toEqual({ kind: 'error', message: '--admin-port must differ from port 9100' });
  });
  it('lists both flags in --help (the bench harness looks for --admin-port there)', () => {
    const help = serveHelp();
    expect(help).toMatch(/^ {2}--admin-port <n> +HTTP port for \/healthz, \/metrics, \/stats .*default: off/m);
    expect(help).toMatch(/^ {2}--admin-host <value> +interface of the admin port \[127\.0\.0\.1\]$/m);
  });
});
