/**
 * What the admin endpoints report, without the HTTP: the server as the
 * primary sees it (`AdminSource`), the tally of finished connections'
 * handshake outcomes and close codes (`ConnectionTally`), the health and
 * readiness verdicts and the /stats snapshot. Pure: no sockets, no timers.
 *
 * Everything here is what the primary already knows: its own counters, the
 * per-worker connection counts of the pool, the ConnectionStats each
 * finished connection reports, and the workers' periodic reports (message
 * and byte counts of open connections included, histograms, gauges). Nothing
 * crosses threads per message or per scrape.
 */
import type { HistogramTotals } from '../telemetry/histogram.ts';
import { EDGE_REFUSALS, type ConnectionStats, type WorkerLoad } from '../transport/messages.ts';
import type { BrokerStatus } from '../app/broker.ts';
import type { PrimaryStats } from '../transport/primary.ts';

/** Where a server is in its life, for /healthz. */
export type ServerState = 'starting' | 'serving' | 'shutting-down' | 'stopped';

/** What the admin endpoints read from the server at each request. */
export interface AdminSource {
  /** The primary's counters (live: read, never copied ahead of time). */
  readonly stats: Readonly<PrimaryStats>;
  readonly state: ServerState;
  /** Workers that are up, with their connections. */
  workers(): readonly WorkerLoad[];
  /** True when every worker serves its lane and has reported lately (for /readyz). */
  allWorkersServing(): boolean;
  /** The workers' histograms, summed. */
  readonly histograms: HistogramTotals;
  /** The cluster broker as the primary's own connection sees it (server.publish), or null on a single node. */
  broker(): BrokerStatus | null;
}

/** The /healthz verdict: ok, or the reason it is not. */
export type Health = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const STATE_REASONS: Readonly<Record<Exclude<ServerState, 'serving'>, string>> = {
  starting: 'server is starting',
  'shutting-down': 'server is shutting down',
  stopped: 'server is stopped',
};

/**
 * Ready (/readyz) when the server is accepting connections (not starting,
 * not draining) and every worker serves its lane and has reported within
 * the last few seconds. A load balancer takes the server out of rotation
 * when this fails; /healthz stays the looser "at least one worker".
 */
export function readinessOf(source: AdminSource): Health {
  const state = source.state;
  if (state !== 'serving') return { ok: false, reason: STATE_REASONS[state] };
  if (!source.allWorkersServing()) return { ok: false, reason: 'a worker is not serving (starting, replaced, or not reporting)' };
  return { ok: true };
}

/** Healthy when the server is accepting connections and at least one worker is up. */
export function healthOf(source: AdminSource): Health {
  const state = source.state;
  if (state !== 'serving') return { ok: false, reason: STATE_REASONS[state] };
  if (source.workers().length === 0) return { ok: false, reason: 'no worker is alive' };
  return { ok: true };
}

/**
 * The label of a close code. Codes a peer may choose freely (3000-4999)
 * share one label per range, so a client cannot grow the label set (and the
 * tally's memory) by sending many distinct codes.
 */
export function closeCodeLabel(code: number): string {
  // RFC 6455 §7.4.1 defines 1000-1011 (1004-1006 never on the wire); IANA's registry adds 1012-1015.
  if (Number.isInteger(code) && code >= 1000 && code <= 1015) return String(code);
  // RFC 6455 §7.4.2: 3000-3999 registered with IANA, 4000-4999 private use.
  if (Number.isInteger(code) && code >= 3000 && code <= 3999) return '3000-3999';
  if (Number.isInteger(code) && code >= 4000 && code <= 4999) return '4000-4999';
  return 'other';
}

/** The label of a refused handshake's HTTP status: 400-599 as they are, anything else `other`. */
export function refusalStatusLabel(status: number): string {
  return Number.isInteger(status) && status >= 400 && status <= 599 ? String(status) : 'other';
}

/** Status of a connection that reached the 101. */
const SWITCHING_PROTOCOLS = 101;

/**
 * Counts what finished connections report that the primary's counters do
 * not: how their handshakes ended and how upgraded ones closed. Its maps
 * hold at most a few hundred keys (see the label functions).
 */
export class ConnectionTally {
  /** Connections that got the 101. */
  upgraded: number;
  /** Connections that closed before a complete request head. */
  abandoned: number;
  /** Refused handshakes by status label (the worker's 4xx/5xx, not the primary's 503s). */
  readonly refusals: Map<string, number>;
  /** Upgraded connections by close code label. */
  readonly closes: Map<string, number>;
  /** Times reading paused for a full send buffer. */
  writePauses: number;
  /** Connections whose socket was destroyed because the peer did not finish closing in time. */
  closeTimeouts: number;
  /** Connections refused at the edge (PROXY header, TLS, Origin) by reason (EDGE_REFUSALS). */
  readonly edgeRefusals: Map<string, number>;
  /** Requests served by the app's `http` handler. */
  httpRequests: number;
  /** Of those, requests whose handler threw or rejected (500). */
  httpHandlerErrors: number;
  /** Connections on the HTTP side ended by an error answer, by status (400, 408, 413, 431). */
  readonly httpRefusals: Map<string, number>;
  /** Connections on the HTTP side the client reset or closed in the middle of a request. */
  httpAborted: number;
  /** Connections closed by an internal error of their worker (a bug; logged). */
  internalErrors: number;

  constructor() {
    this.upgraded = 0;
    this.abandoned = 0;
    this.refusals = new Map();
    this.closes = new Map();
    this.writePauses = 0;
    this.closeTimeouts = 0;
    this.edgeRefusals = new Map();
    this.httpRequests = 0;
    this.httpHandlerErrors = 0;
    this.httpRefusals = new Map();
    this.httpAborted = 0;
    this.internalErrors = 0;
  }

  /** Adds one finished connection. */
  record(stats: ConnectionStats): void {
    this.writePauses += stats.writePauses;
    if (stats.closeTimedOut) this.closeTimeouts++;
    // Stats from an older worker may lack the edge fields.
    this.httpRequests += stats.httpRequests ?? 0;
    this.httpHandlerErrors += stats.httpHandlerErrors ?? 0;
    if ((stats.httpRefusalStatus ?? 0) !== 0) increment(this.httpRefusals, refusalStatusLabel(stats.httpRefusalStatus));
    if (stats.httpRequestAborted === true) this.httpAborted++;
    if (stats.internalError === true) this.internalErrors++;
    const edge = stats.edgeRefusal ?? '';
    if (edge !== '') increment(this.edgeRefusals, (EDGE_REFUSALS as readonly string[]).includes(edge) ? edge : 'other');
    if (stats.handshakeStatus === SWITCHING_PROTOCOLS) {
      this.upgraded++;
      increment(this.closes, closeCodeLabel(stats.closeCode));
    } else if (stats.handshakeStatus === 0) {
      // A connection that served HTTP requests, or was refused at the edge, did not abandon a handshake.
      if (edge === '' && (stats.httpRequests ?? 0) === 0 && (stats.httpRefusalStatus ?? 0) === 0 && stats.internalError !== true) this.abandoned++;
    } else {
      increment(this.refusals, refusalStatusLabel(stats.handshakeStatus));
    }
  }
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** The body of /stats. */
export interface AdminSnapshot {
  readonly state: ServerState;
  readonly healthy: boolean;
  readonly uptimeSeconds: number;
  /** The primary's counters (`server.stats`). */
  readonly stats: Readonly<PrimaryStats>;
  readonly workers: readonly WorkerLoad[];
  readonly handshakes: {
    readonly upgraded: number;
    readonly abandoned: number;
    readonly refusals: Readonly<Record<string, number>>;
  };
  readonly closeCodes: Readonly<Record<string, number>>;
  readonly writePauses: number;
  readonly closeTimeouts: number;
  /** Connections closed by an internal error of their worker (a bug; logged). */
  readonly internalErrors: number;
  /** null on a single node. */
  readonly broker: BrokerStatus | null;
  /** Connections refused at the edge, by reason (proxy_header_malformed, tls_handshake_failed, origin_not_allowed, ...). */
  readonly edgeRefusals: Readonly<Record<string, number>>;
  readonly http: {
    readonly requests: number;
    readonly handlerErrors: number;
    readonly refusals: Readonly<Record<string, number>>;
    /** Connections the client reset or closed in the middle of a request. */
    readonly aborted: number;
  };
}

/** The /stats snapshot at this moment; `uptimeMs` since the server started listening. */
export function adminSnapshot(source: AdminSource, tally: ConnectionTally, uptimeMs: number): AdminSnapshot {
  return {
    state: source.state,
    healthy: healthOf(source).ok,
    uptimeSeconds: Math.round(uptimeMs) / 1000,
    stats: { ...source.stats },
    broker: source.broker(),
    workers: source.workers().map((worker) => ({ workerId: worker.workerId, connections: worker.connections, gauges: worker.gauges })),
    handshakes: {
      upgraded: tally.upgraded,
      abandoned: tally.abandoned,
      refusals: Object.fromEntries(tally.refusals),
    },
    closeCodes: Object.fromEntries(tally.closes),
    writePauses: tally.writePauses,
    closeTimeouts: tally.closeTimeouts,
    internalErrors: tally.internalErrors,
    edgeRefusals: Object.fromEntries(tally.edgeRefusals),
    http: { requests: tally.httpRequests, handlerErrors: tally.httpHandlerErrors, refusals: Object.fromEntries(tally.httpRefusals), aborted: tally.httpAborted },
  };
}
