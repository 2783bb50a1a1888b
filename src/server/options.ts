/**
 * Server options: names carry their units, defaults live here and nowhere
 * else, and `resolveServerOptions` turns a partial set into a checked full set.
 */
import { availableParallelism } from 'node:os';
import { normalizeOriginPattern } from '../protocol/origin-policy.ts';
import { resolvePerMessageDeflateOptions, type PerMessageDeflateOptions } from '../protocol/permessage-deflate-negotiation.ts';
import { parseAddressRange } from '../transport/trusted-proxies.ts';
import { isLogLevel, LOG_FORMATS, LOG_LEVELS, type LogFormat, type Logger, type LogLevel } from '../telemetry/logger.ts';
import { DEFAULT_LOG_RATE_LIMIT, type LogRateLimit } from '../telemetry/rate-limited-log.ts';

/** Everything `createServer` and `shoal serve` accept. */
export interface ServerOptions {
  /** TCP port; 0 asks the OS for a free one (read it back from `listen()`). */
  port: number;
  /** Interface to listen on. Loopback by default: exposing a server is a deliberate choice. */
  host: string;
  /** Worker threads in the pool. */
  workers: number;
  /** `echo` (built in) or a path to an app module (resolved against the cwd). */
  app: string;
  /** Largest message, after reassembly of fragments; bigger ones close with 1009. */
  maxMessageBytes: number;
  /** Largest HTTP upgrade request head; bigger ones get 431. */
  maxHeadBytes: number;
  /** Time a new connection has to deliver its request head; then 408 and close. */
  handshakeTimeoutMs: number;
  /** Close with 1001 "idle timeout" after this long without a byte from the client; 0 turns it off. */
  idleTimeoutMs: number;
  /** Ping a connection after this long without a byte from the client; 0 turns pings off. */
  pingIntervalMs: number;
  /** Time the peer has to answer our close frame (or drain its buffer) before the socket is destroyed. */
  closeTimeoutMs: number;
  /** On shutdown, time connections have to finish their close handshakes. */
  drainTimeoutMs: number;
  /** Messages waiting in a connection's mailbox before it stops reading its socket. */
  mailboxSize: number;
  /** Bytes waiting in a connection's mailbox before it stops reading its socket. */
  mailboxBytes: number;
  /** Bytes waiting in a connection's send buffer past which it is closed as a slow consumer (1008). */
  maxBackpressureBytes: number;
  /** Connections one worker serves at once; past it on every worker, connections wait in the accept backlog. */
  maxConnectionsPerWorker: number;
  /** Connections the server holds at once, queued ones included; more get 503. */
  maxConnections: number;
  /** Accepted connections waiting, unread, for a worker with room (the primary's own backlog, transport/connection-pool.ts); more get 503. */
  acceptBacklog: number;
  /**
   * Workers accept connections themselves on the server's port
   * (SO_REUSEPORT, Linux only) instead of the primary accepting and handing
   * each one over: the primary leaves the path of every connection. The
   * kernel picks the worker (not the one with the fewest connections), the
   * limits are checked by the workers, there is no accept backlog, and at
   * shutdown new connections are refused by the kernel instead of answered
   * 503 (docs/server.md, "Accepting in the workers").
   */
  acceptInWorkers: boolean;
  /**
   * permessage-deflate (RFC 7692): false (the default) never compresses;
   * true accepts clients' offers with DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS;
   * an object accepts them with those options overridden (`enabled` is
   * true unless the object says otherwise). `resolveServerOptions` turns it
   * into a full, checked PerMessageDeflateOptions.
   */
  perMessageDeflate: PerMessageDeflateSetting;
  /** Port of the admin HTTP endpoints (/healthz, /metrics, /stats) on the primary; null (the default) turns them off, 0 picks a free port. */
  adminPort: number | null;
  /** Interface of the admin port. Loopback by default: metrics are not for the public. */
  adminHost: string;
  /**
   * The cluster broker: redis://[:password@]host:port[/db] or rediss://… (TLS);
   * null (the default) runs a single node. docs/deploy.md, "Running several nodes".
   */
  broker: string | null;
  /** Password for the broker when its URL carries none (SHOAL_BROKER_PASSWORD keeps it out of `ps`); null: none. */
  brokerPassword: string | null;
  /** Largest request body given to the app's `http` handler; a bigger one gets 413 and the connection is closed. */
  maxBodyBytes: number;
  /**
   * Origins allowed to open a WebSocket: exact origins (`https://chat.example.com`) or one
   * wildcard label (`https://*.example.com`); other Origin headers get 403. null (the
   * default) accepts every origin; docs/deploy.md says why a browser-facing server should set it.
   */
  allowedOrigins: string[] | null;
  /** Proxies (IP addresses or CIDRs) whose Forwarded / X-Forwarded-For headers name the client. */
  trustProxy: string[];
  /** Every connection starts with a PROXY protocol v1 or v2 header (HAProxy `send-proxy`, cloud TCP load balancers). */
  proxyProtocol: boolean;
  /** PEM certificate chain file: serve TLS (wss://, https://) in the workers. Needs `tlsKey`. */
  tlsCert: string | null;
  /** PEM private key file of `tlsCert`. */
  tlsKey: string | null;
  /** File holding the key's passphrase (first line); the CLI also reads SHOAL_TLS_PASSPHRASE. */
  tlsPassphraseFile: string | null;
  /** The key's passphrase itself (programmatic use; never a command-line flag). */
  tlsPassphrase: string | null;
  /** Lowest level logged (docs/operations.md); ignored when `logger` is given (its own level counts). */
  logLevel: LogLevel;
  /** `json` lines or `pretty` lines for people; by default pretty when stderr is a terminal, json otherwise. Ignored with `logger`. */
  logFormat: LogFormat;
  /**
   * A pino (or pino-compatible) logger that receives every line, the
   * workers' included (they arrive through the primary); null: Shoal logs to
   * stderr with `logLevel` and `logFormat`.
   */
  logger: Logger | null;
  /** Lines caused by peers (a failing handler, a failing upgrade hook): at most `lines` per cause per `intervalMs`, then one line with the suppressed count. */
  logRateLimit: LogRateLimit;
}

/** What `perMessageDeflate` accepts: a switch, or the policy with any defaults overridden. */
export type PerMessageDeflateSetting = boolean | Partial<PerMessageDeflateOptions>;

/** The defaults of every option except `workers`, `maxConnections` and `logFormat`, which depend on the machine. */
export const DEFAULT_OPTIONS = {
  port: 9001,
  host: '127.0.0.1',
  app: 'echo',
  maxMessageBytes: 1024 * 1024,
  maxHeadBytes: 16 * 1024,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 120_000,
  pingIntervalMs: 30_000,
  closeTimeoutMs: 5_000,
  drainTimeoutMs: 10_000,
  mailboxSize: 1024,
  mailboxBytes: 4 * 1024 * 1024,
  maxBackpressureBytes: 4 * 1024 * 1024,
  maxConnectionsPerWorker: 10_000,
  acceptBacklog: 511,
  acceptInWorkers: false,
  perMessageDeflate: false,
  adminPort: null,
  adminHost: '127.0.0.1',
  maxBodyBytes: 1024 * 1024,
  allowedOrigins: null,
  trustProxy: [],
  proxyProtocol: false,
  tlsCert: null,
  tlsKey: null,
  tlsPassphraseFile: null,
  tlsPassphrase: null,
  broker: null,
  brokerPassword: null,
  logLevel: 'info',
  logger: null,
  logRateLimit: DEFAULT_LOG_RATE_LIMIT,
} as const satisfies Partial<ServerOptions>;

/** Options that are integers and their smallest allowed value. */
type NonIntegerOption =
  | 'host'
  | 'app'
  | 'perMessageDeflate'
  | 'adminPort'
  | 'adminHost'
  | 'allowedOrigins'
  | 'trustProxy'
  | 'proxyProtocol'
  | 'acceptInWorkers'
  | 'tlsCert'
  | 'tlsKey'
  | 'tlsPassphraseFile'
  | 'tlsPassphrase'
  | 'broker'
  | 'brokerPassword'
  | 'logLevel'
  | 'logFormat'
  | 'logger'
  | 'logRateLimit';
const INTEGER_MINIMUMS: Readonly<Record<Exclude<keyof ServerOptions, NonIntegerOption>, number>> = {
  port: 0,
  workers: 1,
  maxMessageBytes: 1,
  maxHeadBytes: 256,
  handshakeTimeoutMs: 1,
  idleTimeoutMs: 0,
  pingIntervalMs: 0,
  closeTimeoutMs: 1,
  drainTimeoutMs: 0,
  mailboxSize: 1,
  mailboxBytes: 1,
  maxBackpressureBytes: 1,
  maxConnectionsPerWorker: 1,
  maxConnections: 1,
  acceptBacklog: 0,
  maxBodyBytes: 0,
};

/** Fills in defaults and checks ranges; throws a RangeError naming the option. */
export function resolveServerOptions(partial: Partial<ServerOptions> = {}): ServerOptions {
  const workers = partial.workers ?? availableParallelism();
  const maxConnectionsPerWorker = partial.maxConnectionsPerWorker ?? DEFAULT_OPTIONS.maxConnectionsPerWorker;
  const options: ServerOptions = {
    ...DEFAULT_OPTIONS,
    workers,
    maxConnectionsPerWorker,
    maxConnections: workers * maxConnectionsPerWorker,
    logFormat: defaultLogFormat(),
    ...withoutUndefined(partial),
  };
  for (const [name, minimum] of Object.entries(INTEGER_MINIMUMS)) {
    const value = options[name as keyof ServerOptions];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
      throw new RangeError(`${name} must be an integer >= ${minimum}, got ${String(value)}`);
    }
  }
  if (options.port > 65535) throw new RangeError(`port must be <= 65535, got ${options.port}`);
  if (typeof options.host !== 'string' || options.host === '') throw new RangeError('host must be a non-empty string');
  if (typeof options.app !== 'string' || options.app === '') throw new RangeError('app must be "echo" or a module path');
  const adminPort = options.adminPort;
  if (adminPort !== null && (typeof adminPort !== 'number' || !Number.isSafeInteger(adminPort) || adminPort < 0 || adminPort > 65535)) {
    throw new RangeError(`adminPort must be null (off) or an integer from 0 to 65535, got ${String(adminPort)}`);
  }
  if (adminPort !== null && adminPort !== 0 && adminPort === options.port) throw new RangeError(`adminPort must differ from port ${options.port}`);
  if (typeof options.adminHost !== 'string' || options.adminHost === '') throw new RangeError('adminHost must be a non-empty string');
  if (!isLogLevel(options.logLevel)) throw new RangeError(`logLevel must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(options.logLevel)}`);
  if (!(LOG_FORMATS as readonly string[]).includes(options.logFormat)) {
    throw new RangeError(`logFormat must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(options.logFormat)}`);
  }
  const logger = options.logger;
  if (logger !== null && (typeof logger !== 'object' || typeof logger.error !== 'function' || typeof logger.child !== 'function')) {
    throw new RangeError('logger must be null or a pino-compatible logger (info, warn, error, ..., child)');
  }
  const limit = options.logRateLimit;
  if (typeof limit !== 'object' || limit === null || !Number.isSafeInteger(limit.lines) || limit.lines < 1 || !Number.isSafeInteger(limit.intervalMs) || limit.intervalMs < 1) {
    throw new RangeError('logRateLimit must be { lines, intervalMs } with integers >= 1');
  }
  options.perMessageDeflate = resolvePerMessageDeflate(options.perMessageDeflate);
  if (options.broker !== null) checkBrokerUrl(options.broker);
  if (options.brokerPassword !== null && typeof options.brokerPassword !== 'string') throw new RangeError('brokerPassword must be a string or null');
  if (options.allowedOrigins !== null) {
    if (!Array.isArray(options.allowedOrigins) || options.allowedOrigins.length === 0) {
      throw new RangeError('allowedOrigins must be null (any origin) or a non-empty list of origins');
    }
    // Throws a RangeError naming the bad entry.
    options.allowedOrigins = options.allowedOrigins.map(normalizeOriginPattern);
  }
  if (!Array.isArray(options.trustProxy)) throw new RangeError('trustProxy must be a list of addresses or CIDRs');
  for (const entry of options.trustProxy) parseAddressRange(entry);
  if (typeof options.proxyProtocol !== 'boolean') throw new RangeError('proxyProtocol must be true or false');
  if (typeof options.acceptInWorkers !== 'boolean') throw new RangeError('acceptInWorkers must be true or false');
  // Elsewhere SO_REUSEPORT either does not exist or does not spread connections over the listeners.
  if (options.acceptInWorkers && process.platform !== 'linux') throw new RangeError(`acceptInWorkers needs Linux (SO_REUSEPORT load balancing); this is ${process.platform}`);
  if ((options.tlsCert === null) !== (options.tlsKey === null)) throw new RangeError('tlsCert and tlsKey go together: give both or neither');
  for (const name of ['tlsCert', 'tlsKey', 'tlsPassphraseFile', 'tlsPassphrase'] as const) {
    const value = options[name];
    if (value !== null && (typeof value !== 'string' || value === '')) throw new RangeError(`${name} must be a non-empty string`);
  }
  if (options.tlsCert === null && (options.tlsPassphraseFile !== null || options.tlsPassphrase !== null)) {
    throw new RangeError('tlsPassphraseFile needs tlsCert and tlsKey');
  }
  return options;
}

/** Throws a RangeError unless `url` is redis://host[:port][/db] or rediss://… */
function checkBrokerUrl(url: unknown): void {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new RangeError(`broker must be a URL such as redis://127.0.0.1:6379, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new RangeError(`broker must be a redis:// or rediss:// URL, got ${parsed.protocol}//`);
  if (parsed.hostname === '') throw new RangeError('broker URL must name a host');
  if (parsed.pathname !== '' && parsed.pathname !== '/' && !/^\/\d+$/.test(parsed.pathname)) throw new RangeError(`broker URL path must be a database number, got ${parsed.pathname}`);
}

/** Lines for people on a terminal, JSON lines for everything else (a file, a pipe, a log collector). */
export function defaultLogFormat(): LogFormat {
  return process.stderr.isTTY === true ? 'pretty' : 'json';
}

/**
 * The full permessage-deflate policy of a `perMessageDeflate` setting:
 * false turns it off, true turns it on with the defaults, an object turns
 * it on (unless it says `enabled: false`) with its values over the defaults.
 * Throws RangeError for a value out of range. Resolving a resolved policy
 * returns an equal one.
 */
export function resolvePerMessageDeflate(setting: PerMessageDeflateSetting): PerMessageDeflateOptions {
  if (typeof setting === 'boolean') return resolvePerMessageDeflateOptions({ enabled: setting });
  if (typeof setting !== 'object' || setting === null) {
    throw new RangeError(`perMessageDeflate must be a boolean or an options object, got ${String(setting)}`);
  }
  return resolvePerMessageDeflateOptions({ ...setting, enabled: setting.enabled ?? true });
}

function withoutUndefined(partial: Partial<ServerOptions>): Partial<ServerOptions> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(partial)) if (value !== undefined) out[key] = value;
  return out as Partial<ServerOptions>;
}
