/**
 * `shoal serve` arguments: argv and environment in, checked server options
 * out. Pure apart from reading the machine's core count for the defaults.
 * Flags win over SHOAL_* environment variables, which win over defaults.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_OPTIONS, resolveServerOptions, type ServerOptions } from '../server/options.ts';

/** How a flag's value is read. */
type ValueKind = 'integer' | 'bytes' | 'duration' | 'string' | 'boolean' | 'list';

interface FlagSpec {
  readonly flag: string;
  readonly option: keyof ServerOptions;
  readonly kind: ValueKind;
  readonly help: string;
}

/** Every `serve` flag, in --help order. Env var: SHOAL_ + the flag in upper snake case. */
export const SERVE_FLAGS: readonly FlagSpec[] = [
  { flag: 'port', option: 'port', kind: 'integer', help: 'TCP port (0: any free port)' },
  { flag: 'host', option: 'host', kind: 'string', help: 'interface to listen on; 0.0.0.0 or :: to accept remote clients' },
  { flag: 'workers', option: 'workers', kind: 'integer', help: 'worker threads (default: available cores)' },
  { flag: 'app', option: 'app', kind: 'string', help: '"echo" or a path to an app module (.ts/.js, default export)' },
  { flag: 'max-message-size', option: 'maxMessageBytes', kind: 'bytes', help: 'largest message; bigger ones close with 1009' },
  { flag: 'max-head-size', option: 'maxHeadBytes', kind: 'bytes', help: 'largest upgrade request head; bigger ones get 431' },
  { flag: 'handshake-timeout', option: 'handshakeTimeoutMs', kind: 'duration', help: 'time to send the request head; then 408' },
  { flag: 'idle-timeout', option: 'idleTimeoutMs', kind: 'duration', help: 'close with 1001 after this long without a byte in (0: off)' },
  { flag: 'ping-interval', option: 'pingIntervalMs', kind: 'duration', help: 'ping after this long without a byte in (0: off)' },
  { flag: 'close-timeout', option: 'closeTimeoutMs', kind: 'duration', help: 'time for the peer to finish a close; then the socket is destroyed' },
  { flag: 'drain-timeout', option: 'drainTimeoutMs', kind: 'duration', help: 'on SIGTERM/SIGINT, time for connections to close' },
  { flag: 'mailbox-size', option: 'mailboxSize', kind: 'integer', help: 'messages queued per connection before it stops reading' },
  { flag: 'mailbox-bytes', option: 'mailboxBytes', kind: 'bytes', help: 'bytes queued per connection before it stops reading' },
  { flag: 'max-backpressure', option: 'maxBackpressureBytes', kind: 'bytes', help: 'send buffer past which a slow consumer is closed (1008)' },
  { flag: 'max-connections-per-worker', option: 'maxConnectionsPerWorker', kind: 'integer', help: 'connections one worker serves at once' },
  { flag: 'max-connections', option: 'maxConnections', kind: 'integer', help: 'connections in all (default: workers x per-worker); more get 503' },
  { flag: 'accept-backlog', option: 'acceptBacklog', kind: 'integer', help: 'connections waiting for a worker slot; more get 503' },
  { flag: 'accept-in-workers', option: 'acceptInWorkers', kind: 'boolean', help: 'workers accept connections themselves on the port (SO_REUSEPORT, Linux): the primary leaves the per-connection path' },
  { flag: 'permessage-deflate', option: 'perMessageDeflate', kind: 'boolean', help: 'compress messages for clients that offer permessage-deflate (RFC 7692)' },
  { flag: 'admin-port', option: 'adminPort', kind: 'integer', help: 'HTTP port for /healthz, /metrics, /stats (0: any free port; default: off)' },
  { flag: 'admin-host', option: 'adminHost', kind: 'string', help: 'interface of the admin port' },
  { flag: 'broker', option: 'broker', kind: 'string', help: 'cluster broker, redis://[:password@]host:port[/db] or rediss:// (default: single node)' },
  { flag: 'broker-password', option: 'brokerPassword', kind: 'string', help: 'broker password when the URL has none (prefer the env var)' },
  { flag: 'max-body-size', option: 'maxBodyBytes', kind: 'bytes', help: "largest request body for the app's http handler; bigger ones get 413" },
  { flag: 'allowed-origins', option: 'allowedOrigins', kind: 'list', help: 'origins allowed to upgrade, comma-separated (https://a.example.com, https://*.example.com); others get 403 (default: any)' },
  { flag: 'trust-proxy', option: 'trustProxy', kind: 'list', help: 'proxies (addresses or CIDRs, comma-separated) whose Forwarded / X-Forwarded-For name the client' },
  { flag: 'proxy-protocol', option: 'proxyProtocol', kind: 'boolean', help: 'every connection starts with a PROXY protocol v1/v2 header (HAProxy send-proxy, TCP load balancers)' },
  { flag: 'tls-cert', option: 'tlsCert', kind: 'string', help: 'PEM certificate (chain) file: serve wss:// and https:// (SIGHUP reloads it)' },
  { flag: 'tls-key', option: 'tlsKey', kind: 'string', help: 'PEM private key file of --tls-cert' },
  { flag: 'tls-passphrase-file', option: 'tlsPassphraseFile', kind: 'string', help: "file holding the key's passphrase (or SHOAL_TLS_PASSPHRASE; never a flag value)" },
  { flag: 'log-level', option: 'logLevel', kind: 'string', help: 'lowest level logged: trace, debug, info, warn, error, fatal or silent' },
  { flag: 'log-format', option: 'logFormat', kind: 'string', help: 'json or pretty (default: pretty when stderr is a terminal, json otherwise)' },
];

/** The key's passphrase itself: environment only, so it never shows in a process listing. */
export const TLS_PASSPHRASE_ENV = 'SHOAL_TLS_PASSPHRASE';

/** The SHOAL_* variable of a flag: `max-message-size` -> `SHOAL_MAX_MESSAGE_SIZE`. */
export function envName(flag: string): string {
  return `SHOAL_${flag.toUpperCase().replaceAll('-', '_')}`;
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };
const DURATION_UNITS: Readonly<Record<string, number>> = { '': 1, ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** "64KiB" -> 65536; plain numbers are bytes; binary multiples (KB = KiB). Null when unreadable. */
export function parseBytes(text: string): number | null {
  return parseWithUnit(text, BYTE_UNITS);
}

/** "30s" -> 30000; plain numbers are milliseconds. Null when unreadable. */
export function parseDuration(text: string): number | null {
  return parseWithUnit(text, DURATION_UNITS);
}

function parseWithUnit(text: string, units: Readonly<Record<string, number>>): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (match === null) return null;
  const unit = units[match[2].toLowerCase()];
  if (unit === undefined) return null;
  const value = Number(match[1]) * unit;
  return Number.isSafeInteger(value) ? value : null;
}

const SWITCH_WORDS: Readonly<Record<string, boolean>> = { '1': true, true: true, yes: true, on: true, '0': false, false: false, no: false, off: false };

/** "on", "1", "true", "yes" -> true; "off", "0", "false", "no" -> false (any case). Null when unreadable. */
export function parseSwitch(text: string): boolean | null {
  return SWITCH_WORDS[text.trim().toLowerCase()] ?? null;
}

function parseValue(spec: FlagSpec, text: string): string | string[] | number | boolean | null {
  switch (spec.kind) {
    case 'string':
      return text;
    case 'list': {
      const items = text.split(',').map((item) => item.trim()).filter((item) => item !== '');
      return items.length === 0 ? null : items;
    }
    case 'boolean':
      return parseSwitch(text);
    case 'integer':
      return /^\s*\d+\s*$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : null;
    case 'bytes':
      return parseBytes(text);
    case 'duration':
      return parseDuration(text);
  }
}

const EXPECTED: Readonly<Record<ValueKind, string>> = {
  integer: 'a whole number',
  bytes: 'a size such as 65536, 64KiB or 1MiB',
  duration: 'a duration such as 500, 500ms, 30s or 2m',
  string: 'a value',
  boolean: 'on or off (1/0, true/false, yes/no, on/off)',
  list: 'a comma-separated list',
};

/** The outcome of parsing `serve` arguments. */
export type ServeArgs =
  | { readonly kind: 'help' }
  | { readonly kind: 'serve'; readonly options: ServerOptions }
  | { readonly kind: 'error'; readonly message: string };

/** Parses `shoal serve` argv (without the subcommand) and the environment. */
export function parseServeArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ServeArgs {
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const spec of SERVE_FLAGS) parseOptions[spec.flag] = { type: spec.kind === 'boolean' ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    // allowNegative: --no-permessage-deflate overrides SHOAL_PERMESSAGE_DEFLATE=1.
    ({ values } = parseArgs({ args: [...argv], options: parseOptions, strict: true, allowPositionals: false, allowNegative: true }));
  } catch (error) {
    return { kind: 'error', message: (error as Error).message.split('\n')[0] };
  }
  if (values.help === true) return { kind: 'help' };
  const partial: Record<string, string | string[] | number | boolean> = {};
  for (const spec of SERVE_FLAGS) {
    const fromFlag = values[spec.flag];
    if (typeof fromFlag === 'boolean') {
      partial[spec.option] = fromFlag;
      continue;
    }
    const variable = envName(spec.flag);
    const text = typeof fromFlag === 'string' ? fromFlag : env[variable];
    if (text === undefined || (typeof fromFlag !== 'string' && text === '')) continue;
    const source = typeof fromFlag === 'string' ? `--${spec.flag}` : variable;
    const value = parseValue(spec, text);
    if (value === null) return { kind: 'error', message: `${source} must be ${EXPECTED[spec.kind]}, got ${JSON.stringify(text)}` };
    partial[spec.option] = value;
  }
  const passphrase = env[TLS_PASSPHRASE_ENV];
  if (passphrase !== undefined && passphrase !== '') partial.tlsPassphrase = passphrase;
  try {
    return { kind: 'serve', options: resolveServerOptions(partial as Partial<ServerOptions>) };
  } catch (error) {
    return { kind: 'error', message: flagNamesIn((error as Error).message) };
  }
}

/** Rewrites option names in a validation message to the flag names the user typed. */
function flagNamesIn(message: string): string {
  let text = message;
  for (const spec of SERVE_FLAGS) {
    if (text.startsWith(`${spec.option} `)) text = `--${spec.flag}${text.slice(spec.option.length)}`;
    // Other camel-cased option names in the message ("tlsCert and tlsKey ..."); plain words such as "port" stay.
    else if (/[A-Z]/.test(spec.option)) text = text.replace(new RegExp(`(^|[^\\w-])${spec.option}\\b`, 'g'), `$1--${spec.flag}`);
  }
  return text;
}

function defaultText(spec: FlagSpec): string {
  const value = (DEFAULT_OPTIONS as unknown as Partial<Record<keyof ServerOptions, unknown>>)[spec.option];
  if (value === undefined || value === null || Array.isArray(value)) return '';
  if (typeof value === 'boolean') return value ? ' [on]' : ' [off]';
  if (spec.kind === 'bytes' && typeof value === 'number') {
    return value % 1024 ** 2 === 0 ? ` [${value / 1024 ** 2}MiB]` : value % 1024 === 0 ? ` [${value / 1024}KiB]` : ` [${value}]`;
  }
  if (spec.kind === 'duration' && typeof value === 'number') return value % 1000 === 0 ? ` [${value / 1000}s]` : ` [${value}ms]`;
  return ` [${value}]`;
}

/** `shoal serve --help`. */
export function serveHelp(): string {
  const width = Math.max(...SERVE_FLAGS.map((spec) => spec.flag.length)) + 9;
  const lines = SERVE_FLAGS.map((spec) => `  ${`--${spec.flag}${spec.kind === 'boolean' ? '' : ` <${spec.kind === 'string' ? 'value' : spec.kind === 'list' ? 'list' : spec.kind === 'integer' ? 'n' : spec.kind === 'bytes' ? 'size' : 'time'}>`}`.padEnd(width)} ${spec.help}${defaultText(spec)}`);
  return [
    'Usage: shoal serve [options]',
    '',
    'Starts a multi-threaded WebSocket server.',
    '',
    'Options (defaults in brackets):',
    ...lines,
    `  ${'-h, --help'.padEnd(width)} show this help`,
    '',
    'Sizes are bytes unless suffixed (KiB, MiB, GiB); times are milliseconds unless suffixed (s, m, h).',
    'Every option can also come from the environment: --max-message-size is SHOAL_MAX_MESSAGE_SIZE. Flags win.',
    'Switches take no value (--no-permessage-deflate turns one off); in the environment they read 1/0, true/false, yes/no or on/off.',
    'SIGTERM or SIGINT closes every connection with 1001 "going away" and exits 0 after at most --drain-timeout.',
    'SIGHUP re-reads --tls-cert and --tls-key; a bad file keeps the old ones (the reason goes to stderr).',
    `${TLS_PASSPHRASE_ENV}: the passphrase of an encrypted --tls-key (or --tls-passphrase-file).`,
  ].join('\n');
}

/** `shoal --help`. */
export function mainHelp(): string {
  return [
    'Usage: shoal <command> [options]',
    '',
    'Commands:',
    '  serve    start a WebSocket server (shoal serve --help)',
    '  bench    run load benchmarks (shoal bench --help)',
    '',
    'Options:',
    '  -h, --help     show this help',
    '  -v, --version  print the version',
  ].join('\n');
}
