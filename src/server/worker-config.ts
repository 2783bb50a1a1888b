/**
 * The configuration every connection worker starts with (WorkerConfig,
 * transport/messages.ts), built from the server options in one place: the
 * server and the tests that start a worker pool on their own use the same
 * builder, so a new option reaches the workers the same way everywhere.
 */
import type { BrokerConfig } from '../app/redis-broker.ts';
import type { LogLevel } from '../telemetry/logger.ts';
import type { WorkerConfig, WorkerTls } from '../transport/messages.ts';
import { resolvePerMessageDeflate, type ServerOptions } from './options.ts';

/** What the workers need that the options do not hold as such: resolved or made once at listen(). */
export interface WorkerStartup {
  /** The app, resolved (`echo` or an absolute path: load-app.ts resolveAppSpecifier). */
  readonly app: string;
  /** The broker with this node's id (shared with the primary's own connection), or null. */
  readonly broker: BrokerConfig | null;
  /** The certificate and key already read and checked, or null for plain TCP. */
  readonly tls: WorkerTls | null;
  /** The level the workers filter at (log-output.ts: the given logger's level, else `logLevel`). */
  readonly logLevel: LogLevel;
}

/** The workers' configuration but for `controlChannel`, which the primary names (transport/primary.ts). */
export function workerConfigFrom(options: ServerOptions, startup: WorkerStartup): Omit<WorkerConfig, 'controlChannel'> {
  return {
    app: startup.app,
    maxMessageBytes: options.maxMessageBytes,
    maxHeadBytes: options.maxHeadBytes,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    pingIntervalMs: options.pingIntervalMs,
    closeTimeoutMs: options.closeTimeoutMs,
    mailboxSize: options.mailboxSize,
    mailboxBytes: options.mailboxBytes,
    maxBackpressureBytes: options.maxBackpressureBytes,
    perMessageDeflate: resolvePerMessageDeflate(options.perMessageDeflate),
    broker: startup.broker,
    maxBodyBytes: options.maxBodyBytes,
    allowedOrigins: options.allowedOrigins,
    trustProxy: options.trustProxy,
    proxyProtocol: options.proxyProtocol,
    tls: startup.tls,
    logLevel: startup.logLevel,
    logRateLimit: options.logRateLimit,
  };
}
