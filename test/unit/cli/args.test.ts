import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS } from '../../../src/server/options.ts';
import { envName, parseBytes, parseDuration, parseServeArgs, parseSwitch, SERVE_FLAGS, serveHelp } from '../../../src/cli/args.ts';
import { DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS } from '../../../src/protocol/permessage-deflate-negotiation.ts';

function options(argv: string[], env: Record<string, string> = {}) {
  const parsed = parseServeArgs(argv, env);
  if (parsed.kind !== 'serve') throw new Error(`expected options, got ${JSON.stringify(parsed)}`);
  return parsed.options;
}

function error(argv: string[], env: Record<string, string> = {}): string {
  const parsed = parseServeArgs(argv, env);
  if (parsed.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(parsed)}`);
  return parsed.message;
}

describe('parseServeArgs', () => {
  it('uses the defaults when nothing is given', () => {
    const result = options([]);
    expect(result.port).toBe(DEFAULT_OPTIONS.port);
    expect(result.host).toBe('127.0.0.1');
    expect(result.app).toBe('echo');
    expect(result.maxMessageBytes).toBe(1024 * 1024);
    expect(result.workers).toBeGreaterThanOrEqual(1);
    expect(result.maxConnections).toBe(result.workers * result.maxConnectionsPerWorker);
  });

  it('reads every flag kind: integers, sizes with units, durations with units, strings', () => {
    const result = options([
      '--port', '0', '--host', '::1', '--workers', '3', '--app', './x.ts',
      '--max-message-size', '64KiB', '--idle-timeout', '30s', '--ping-interval', '250ms',
      '--close-timeout', '2', '--max-backpressure', '2MiB', '--mailbox-size', '10',
    ]);
    expect(result).toMatchObject({
      port: 0, host: '::1', workers: 3, app: './x.ts', maxMessageBytes: 65536,
      idleTimeoutMs: 30_000, pingIntervalMs: 250, closeTimeoutMs: 2, maxBackpressureBytes: 2 * 1024 * 1024, mailboxSize: 10,
    });
  });

  it('reads SHOAL_* variables, and flags win over them', () => {
    expect(options([], { SHOAL_PORT: '1234', SHOAL_WORKERS: '2' })).toMatchObject({ port: 1234, workers: 2 });
    expect(options(['--port', '99'], { SHOAL_PORT: '1234' }).port).toBe(99);
  });

  it('ignores empty environment variables', () => {
    expect(options([], { SHOAL_PORT: '' }).port).toBe(DEFAULT_OPTIONS.port);
  });

  it('derives the per-worker default total from --workers', () => {
    expect(options(['--workers', '2', '--max-connections-per-worker', '5']).maxConnections).toBe(10);
  });

  it('returns help for --help and -h', () => {
    expect(parseServeArgs(['--help'], {}).kind).toBe('help');
    expect(parseServeArgs(['-h'], {}).kind).toBe('help');
  });

  it('names the flag and the expected form in errors', () => {
    expect(error(['--port', 'abc'])).toBe('--port must be a whole number, got "abc"');
    expect(error(['--idle-timeout', '5 parsecs'])).toMatch(/^--idle-timeout must be a duration/);
    expect(error([], { SHOAL_MAX_MESSAGE_SIZE: 'lots' })).toMatch(/^SHOAL_MAX_MESSAGE_SIZE must be a size/);
    expect(error(['--workers', '0'])).toBe('--workers must be an integer >= 1, got 0');
    expect(error(['--port', '70000'])).toMatch(/port must be <= 65535/);
  });

  it('rejects unknown flags and positional arguments', () => {
    expect(error(['--prot', '1'])).toMatch(/prot/);
    expect(error(['extra'])).toMatch(/extra/);
  });
});

describe('units', () => {
  it.each([
    ['100', 100], ['1KiB', 1024], ['1kb', 1024], ['1.5MiB', 1.5 * 1024 * 1024], ['2G', 2 * 1024 ** 3],
  ])('parseBytes(%j) = %d', (text, expected) => expect(parseBytes(text)).toBe(expected));
  it.each([['100', 100], ['100ms', 100], ['1.5s', 1500], ['2m', 120_000], ['1h', 3_600_000]])(
    'parseDuration(%j) = %d',
    (text, expected) => expect(parseDuration(text)).toBe(expected),
  );
  it.each(['', '-1', '1.0.0', '5 parsecs', 'MiB', '0.5'])('rejects %j as bytes', (text) => expect(parseBytes(text)).toBeNull());
});

describe('help', () => {
  it('lists every flag with its environment variable form explained', () => {
    const help = serveHelp();
    for (const spec of SERVE_FLAGS) expect(help).toContain(`--${spec.flag} `);
    expect(help).toContain(envName('max-message-size'));
    expect(envName('max-message-size')).toBe('SHOAL_MAX_MESSAGE_SIZE');
  });
});

describe('--permessage-deflate', () => {
  it('is off by default and turns permessage-deflate on with the default policy', () => {
    expect(options([]).perMessageDeflate).toMatchObject({ enabled: false });
    expect(options(['--permessage-deflate']).perMessageDeflate).toEqual({ ...DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS, enabled: true });
  });

  it.each(['1', 'true', 'yes', 'on', 'ON'])('reads SHOAL_PERMESSAGE_DEFLATE=%s as on', (text) => {
    expect(options([], { SHOAL_PERMESSAGE_DEFLATE: text }).perMessageDeflate).toMatchObject({ enabled: true });
  });

  it.each(['0', 'false', 'no', 'off'])('reads SHOAL_PERMESSAGE_DEFLATE=%s as off', (text) => {
    expect(options([], { SHOAL_PERMESSAGE_DEFLATE: text }).perMessageDeflate).toMatchObject({ enabled: false });
  });

  it('lets --no-permessage-deflate win over the environment', () => {
    expect(options(['--no-permessage-deflate'], { SHOAL_PERMESSAGE_DEFLATE: '1' }).perMessageDeflate).toMatchObject({ enabled: false });
    expect(options(['--permessage-deflate'], { SHOAL_PERMESSAGE_DEFLATE: 'off' }).perMessageDeflate).toMatchObject({ enabled: true });
  });

  it('names the variable and the accepted words for an unreadable value, and refuses a value after the flag', () => {
    expect(error([], { SHOAL_PERMESSAGE_DEFLATE: 'maybe' })).toBe('SHOAL_PERMESSAGE_DEFLATE must be on or off (1/0, true/false, yes/no, on/off), got "maybe"');
    expect(error(['--permessage-deflate=yes'])).toMatch(/permessage-deflate/);
  });

  it('is listed in --help as a switch with its default', () => {
    expect(serveHelp()).toMatch(/\n {2}--permessage-deflate {2,}\S.*\[off\]\n/);
    expect(parseSwitch(' On ')).toBe(true);
    expect(parseSwitch('2')).toBeNull();
  });
});

describe('edge flags (issue #10)', () => {
  it('reads lists, the proxy switch, TLS paths, and the passphrase from the environment only', () => {
    const parsed = parseServeArgs(
      ['--allowed-origins', 'https://a.example.com, https://*.example.org', '--trust-proxy', '10.0.0.0/8,::1', '--proxy-protocol', '--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--max-body-size', '64KiB'],
      { SHOAL_TLS_PASSPHRASE: 'sesame' },
    );
    expect(parsed).toMatchObject({
      kind: 'serve',
      options: { allowedOrigins: ['https://a.example.com', 'https://*.example.org'], trustProxy: ['10.0.0.0/8', '::1'], proxyProtocol: true, tlsCert: 'c.pem', tlsKey: 'k.pem', tlsPassphrase: 'sesame', maxBodyBytes: 65536 },
    });
    expect(parseServeArgs([], { SHOAL_TRUST_PROXY: '127.0.0.1', SHOAL_PROXY_PROTOCOL: 'on' })).toMatchObject({ options: { trustProxy: ['127.0.0.1'], proxyProtocol: true } });
  });

  it('refuses bad entries with one line naming the flag', () => {
    expect(parseServeArgs(['--allowed-origins', 'chat.example.com'], {})).toMatchObject({ kind: 'error', message: expect.stringContaining('chat.example.com') });
    expect(parseServeArgs(['--trust-proxy', '10.0.0.0/40'], {})).toMatchObject({ kind: 'error', message: expect.stringContaining('10.0.0.0/40') });
    expect(parseServeArgs(['--tls-cert', 'c.pem'], {})).toMatchObject({ kind: 'error', message: '--tls-cert and --tls-key go together: give both or neither' });
    expect(parseServeArgs(['--tls-passphrase', 'x'], {})).toMatchObject({ kind: 'error' });
  });
});

describe('log flags (issue #13)', () => {
  it('reads --log-level and --log-format, and their SHOAL_ variables', () => {
    const parsed = parseServeArgs(['--log-level', 'debug', '--log-format', 'pretty'], {});
    expect(parsed.kind === 'serve' && [parsed.options.logLevel, parsed.options.logFormat]).toEqual(['debug', 'pretty']);
    const fromEnv = parseServeArgs([], { SHOAL_LOG_LEVEL: 'warn', SHOAL_LOG_FORMAT: 'json' });
    expect(fromEnv.kind === 'serve' && [fromEnv.options.logLevel, fromEnv.options.logFormat]).toEqual(['warn', 'json']);
  });

  it('names the flag and the accepted values for a bad one', () => {
    expect(parseServeArgs(['--log-level', 'loud'], {})).toEqual({
      kind: 'error',
      message: '--log-level must be one of trace, debug, info, warn, error, fatal, silent, got "loud"',
    });
    expect(parseServeArgs([], { SHOAL_LOG_FORMAT: 'xml' })).toEqual({ kind: 'error', message: '--log-format must be one of json, pretty, got "xml"' });
  });

  it('lists both in --help with their variables', () => {
    expect(serveHelp()).toContain('--log-level');
    expect(serveHelp()).toContain('--log-format');
  });
});

describe('--accept-in-workers (issue #12)', () => {
  it('is a switch, from the flag or SHOAL_ACCEPT_IN_WORKERS (the --help rule for every flag), off by default, listed in --help', () => {
    expect(parseServeArgs(['--accept-in-workers'], {})).toMatchObject({ kind: 'serve', options: { acceptInWorkers: true } });
    expect(parseServeArgs([], { SHOAL_ACCEPT_IN_WORKERS: '1' })).toMatchObject({ kind: 'serve', options: { acceptInWorkers: true } });
    expect(parseServeArgs(['--no-accept-in-workers'], { SHOAL_ACCEPT_IN_WORKERS: '1' })).toMatchObject({ kind: 'serve', options: { acceptInWorkers: false } });
    const parsed = parseServeArgs([], {});
    expect(parsed.kind === 'serve' ? parsed.options.acceptInWorkers : 'not serve').toBe(false);
    expect(serveHelp()).toContain('--accept-in-workers');
  });
});
