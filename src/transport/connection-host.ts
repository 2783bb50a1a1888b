/**
 * Serves the connections handed to one worker (by its lane, worker-lane.ts):
 * for each socket it reads and validates the upgrade request, asks the app's
 * upgrade hook, negotiates permessage-deflate, writes the 101 (or the
 * refusal), then runs the connection's actor until the socket closes, and
 * reports the connection's stats.
 *
 * One ConnectionHost per worker, built by the worker's start-up
 * (src/workers/connection-worker.ts) from what it owns: the app, the app
 * services (whose registry hands out addresses) and the configuration. The
 * worker's sweeper calls `sweep`, its control channel `shutdown`.
 */
import { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ConnectionActor } from '../actors/connection-actor.ts';
import type { AppServices } from '../app/services.ts';
import { isThenable } from '../app/is-thenable.ts';
import { borrowsMessages, createSession, requiresSubprotocol, supportedProtocols } from '../app/session.ts';
import type { App, UpgradeDecision, UpgradeRequest } from '../app/types.ts';
import { HandshakeError } from '../protocol/errors.ts';
import { buildAcceptResponse, buildErrorResponse, handshakeErrorResponse } from '../protocol/handshake-response.ts';
import { HandshakeParser } from '../protocol/handshake-parser.ts';
import { validateUpgradeRequest, type UpgradeRequestInfo } from '../protocol/upgrade-request.ts';
import type { RequestHead } from '../protocol/request-head.ts';
import { negotiatePerMessageDeflate } from '../protocol/permessage-deflate-negotiation.ts';
import { PerMessageDeflate } from '../protocol/permessage-deflate.ts';
import { selectSubprotocol } from '../protocol/subprotocol.ts';
import { OriginPolicy } from '../protocol/origin-policy.ts';
import { ProxyHeaderParser } from '../protocol/proxy-header.ts';
import { log } from '../telemetry/logger.ts';
import { logPeerCaused } from '../telemetry/rate-limited-log.ts';
import { workerHistograms } from '../telemetry/worker-metrics.ts';
import { dropConnection, type TcpHandle } from './accept-handles.ts';
import { adoptSocket } from './adopt-socket.ts';
import { BareTcp } from './bare-tcp.ts';
import { clock } from './heartbeat.ts';
import { HttpFront, isClientGone, isWebSocketUpgrade, type CarriedConnection } from './http-front.ts';
import { emptyConnectionStats, type ConnectionStats, type WorkerConfig } from './messages.ts';
import { BindingPhase, SocketBinding, sharedReads, type BindingDelegate } from './socket-binding.ts';
import { TlsTerminator, type TlsMaterial } from './tls-terminator.ts';
import { SlotList } from './slot-list.ts';
import { TrustedProxies } from './trusted-proxies.ts';
import { settleWireBytes } from './wire-bytes.ts';

/** Chunks of an incomplete head kept for the HTTP handler past which they are joined into one. */
const MAX_KEPT_CHUNKS = 16;

/** The handshake duration histogram (no labels: one series). */
const handshakeDuration = workerHistograms.handshake.series();

/** What a worker's connections hold at one moment (for its report). */
export interface ConnectionMeasures {
  /** Live connections, in any phase. */
  connections: number;
  /** Messages waiting in mailboxes. */
  mailboxDepth: number;
  /** Bytes waiting in send buffers. */
  sendBufferBytes: number;
}

export class ConnectionHost {
  readonly #config: WorkerConfig;
  readonly #app: Promise<App>;
  readonly #services: AppServices;
  readonly #workerId: number;
  /** Every live binding, in any phase: what the sweeper and the shutdown walk. */
  readonly #bindings: SlotList<SocketBinding>;
  /** Set by `shutdown`: new upgrades are refused with 503. */
  #shutdown: { code: number; reason: string } | null;
  readonly #delegate: BindingDelegate;
  /** The app once loaded (null before): decides synchronously whether a head may go to its `http` handler. */
  #loadedApp: App | null;
  /** The HTTP side, made on the first plain request of an app with an `http` handler. */
  #http: HttpFront | null;
  /** Earlier chunks of heads not complete yet, kept while the app may serve HTTP (the bytes Node's parser will need). */
  readonly #partialHeads: Map<SocketBinding, Buffer[]>;
  /** Bindings still reading their PROXY header (`proxyProtocol`). */
  readonly #proxyHeaders: Map<SocketBinding, ProxyHeaderParser>;
  readonly #tls: TlsTerminator | null;
  /** TLS sockets whose TLS handshake has not completed. */
  readonly #tlsPending: WeakSet<Socket>;
  readonly #origins: OriginPolicy | null;
  readonly #trustedProxies: TrustedProxies;
  /** The binding made for the connection `serve` is taking (null before it is made): what a throw there must close. */
  #serving: SocketBinding | null;

  /**
   * `app` is the worker's app, loading; a failure to load shows up as a 500
   * on each upgrade (the primary loads the app once before starting the pool
   * and reports it there).
   */
  constructor(config: WorkerConfig, app: Promise<App>, services: AppServices, workerId: number) {
    this.#config = config;
    this.#app = app;
    this.#services = services;
    this.#workerId = workerId;
    this.#bindings = new SlotList({ get: (binding) => binding.hostSlot, set: (binding, slot) => (binding.hostSlot = slot) });
    this.#shutdown = null;
    this.#loadedApp = null;
    this.#http = null;
    this.#partialHeads = new Map();
    this.#proxyHeaders = new Map();
    this.#tls = config.tls === null ? null : new TlsTerminator(config.tls);
    this.#tlsPending = new WeakSet();
    this.#origins = config.allowedOrigins === null ? null : new OriginPolicy(config.allowedOrigins);
    this.#trustedProxies = new TrustedProxies(config.trustProxy);
    this.#serving = null;
    this.#delegate = {
      handshakeData: (binding, chunk) => this.#handshakeData(binding, chunk),
      handshakeTimedOut: (binding) => {
        if (this.#proxyHeaders.has(binding) || (this.#tls !== null && this.#tlsPending.has(binding.socket))) {
          // No HTTP answer before the PROXY header or through an unfinished TLS handshake: just close.
          binding.stats.edgeRefusal = this.#proxyHeaders.has(binding) ? 'proxy_header_timeout' : 'tls_handshake_timeout';
          binding.socket.destroy();
          return;
        }
        binding.refuse(408, buildErrorResponse(408, `request head not received within ${this.#config.handshakeTimeoutMs} ms`));
      },
      closed: (binding) => {
        settleWireBytes(binding.stats, binding.wire);
        this.#bindings.delete(binding);
        if (this.#partialHeads.size > 0) this.#partialHeads.delete(binding);
        if (this.#proxyHeaders.size > 0) this.#proxyHeaders.delete(binding);
        binding.resolve?.(binding.stats);
        binding.resolve = null;
      },
    };
    app.then(
      (loaded) => {
        this.#loadedApp = loaded;
      },
      () => {},
    );
  }

  /** Live connections, in any phase (those on the HTTP side included). */
  get size(): number {
    return this.#bindings.size + (this.#http?.size ?? 0);
  }

  /**
   * Serves one connection: `received` is a TCP handle or a socket transferred
   * from the primary, not read yet (a socket is inert afterwards). `done` is
   * called once, with the connection's stats, when the socket has closed;
   * share one function between connections (it is kept for the connection's
   * lifetime).
   */
  serve(received: Socket | TcpHandle, done: (stats: ConnectionStats) => void): void {
    this.#serving = null;
    let socket: Socket | null = null;
    try {
      // Plain TCP reads into the worker's read buffer; the PROXY header and TLS
      // paths hand the socket on (unshift, a TLS wrap) and keep Node's stream reads.
      const onread = this.#config.proxyProtocol || this.#tls !== null ? undefined : sharedReads;
      if (onread !== undefined && !(received instanceof Socket) && BareTcp.accepts(received)) {
        // Plain TCP from a bare handle (the usual case): driven without a Socket until one is needed (bare-tcp.ts).
        this.#bind(new BareTcp(received, onread), done, performance.now(), true);
        return;
      }
      socket = adoptSocket(received, onread);
      // The read buffer moves every socket that reads into it when it is replaced (not one adoptSocket left as it came).
      this.#start(socket, done, onread !== undefined && socket !== received);
    } catch (error) {
      this.#serveFailed(error, received, socket, done);
    } finally {
      this.#serving = null;
    }
  }

  /**
   * A throw while taking a connection (a bug: none is known that a client
   * can reach) costs that connection only, never the worker (the lane's
   * message handler would rethrow it as an uncaught exception): the socket is
   * closed, the connection reported once, counted (`internalError`), and
   * logged (rate-limited).
   */
  #serveFailed(error: unknown, received: Socket | TcpHandle, socket: Socket | null, done: (stats: ConnectionStats) => void): void {
    logPeerCaused(log(), 'error', 'serve_failed', { err: error }, 'internal error while taking a connection; closed it');
    // A binding made before the throw reports nothing when its socket closes: the connection is reported here.
    const binding = this.#serving;
    this.#serving = null;
    const stats = binding?.stats ?? emptyConnectionStats(this.#workerId);
    if (binding !== null) binding.resolve = null;
    stats.internalError = true;
    try {
      if (binding !== null) binding.socket.destroy();
      else if (socket !== null) socket.destroy();
      else dropConnection(received);
    } catch {
      // Nothing more can be done for this connection; the worker goes on.
    }
    done(stats);
  }

  /** Starts serving an adopted socket: the PROXY header, TLS or the head first; `readsShared`: it reads into the read buffer. */
  #start(socket: Socket, done: (stats: ConnectionStats) => void, readsShared: boolean): void {
    if (this.#config.proxyProtocol) {
      // The PROXY header comes first on the wire, before any TLS.
      const binding = this.#bind(socket, done, performance.now());
      binding.parser = null;
      this.#proxyHeaders.set(binding, new ProxyHeaderParser(Math.max(232, this.#config.maxHeadBytes)));
      return;
    }
    if (this.#tls !== null) {
      this.#bindSecure(socket, done, performance.now());
      return;
    }
    this.#bind(socket, done, performance.now(), readsShared);
  }

  /** A new binding in HANDSHAKE with its head parser, tracked. */
  #bind(socket: Socket | BareTcp, done: ((stats: ConnectionStats) => void) | null, startedAt: number, readsShared: boolean = false): SocketBinding {
    const binding = new SocketBinding(socket, this.#config, this.#delegate, this.#workerId, startedAt, readsShared);
    this.#serving = binding;
    binding.parser = new HandshakeParser({ maxHeadBytes: this.#config.maxHeadBytes });
    binding.resolve = done;
    this.#bindings.add(binding);
    return binding;
  }

  /** Wraps a plain socket in TLS and binds it; a failed TLS handshake (garbage, plain HTTP) is counted and costs only this socket. */
  #bindSecure(socket: Socket, done: ((stats: ConnectionStats) => void) | null, startedAt: number): SocketBinding {
    const secure: TLSSocket = (this.#tls as TlsTerminator).wrap(socket);
    const pending = this.#tlsPending;
    pending.add(secure);
    const binding = this.#bind(secure, done, startedAt);
    secure.once('secure', () => pending.delete(secure));
    secure.once('error', (error: unknown) => {
      // A client that resets (or closes) in the handshake abandoned it: not a refusal.
      if (pending.has(secure) && binding.stats.edgeRefusal === '' && !isClientGone(error)) binding.stats.edgeRefusal = 'tls_handshake_failed';
    });
    return binding;
  }

  /** New TLS connections use this certificate and key; throws (keeping the old ones) when they are unusable. */
  reloadTls(material: TlsMaterial): void {
    if (this.#tls === null) throw new Error('this server was started without TLS');
    this.#tls.reload(material);
  }

  /** Walks every connection once (the worker's report, twice a second: about 10 us per 1,000 connections). */
  measure(): ConnectionMeasures {
    let mailboxDepth = 0;
    let sendBufferBytes = 0;
    this.#bindings.forEach((binding) => {
      mailboxDepth += binding.actor?.queued ?? 0;
      sendBufferBytes += binding.sendBufferBytes;
    });
    return { connections: this.#bindings.size, mailboxDepth, sendBufferBytes };
  }

  /** The sweeper's tick: every binding checks its deadlines. */
  sweep(now: number): void {
    this.#bindings.forEach((binding) => {
      try {
        binding.sweep(now);
      } catch (error) {
        binding.failInternal(error);
      }
    });
  }

  /** Refuse new upgrades with 503 and close every connection with `code` and `reason`. */
  shutdown(code: number, reason: string): void {
    this.#shutdown = { code, reason };
    const refusal = buildErrorResponse(503, 'server is shutting down');
    this.#bindings.forEach((binding) => binding.goAway(code, reason, refusal));
    this.#http?.shutdown();
  }

  #handshakeData(binding: SocketBinding, chunk: Buffer): void {
    if (this.#config.proxyProtocol && binding.parser === null) {
      this.#proxyHeaderData(binding, chunk);
      return;
    }
    let head: RequestHead | null;
    try {
      head = (binding.parser as HandshakeParser).push(chunk);
    } catch (error) {
      refuseWith(binding, error);
      return;
    }
    const mayServeHttp = this.#loadedApp === null || this.#loadedApp.http !== undefined;
    if (head === null) {
      if (mayServeHttp) this.#keepHeadChunk(binding, chunk);
      return;
    }
    const rest = (binding.parser as HandshakeParser).rest;
    binding.parser = null;
    if (mayServeHttp) {
      const earlier = this.#partialHeads.get(binding);
      if (earlier !== undefined) this.#partialHeads.delete(binding);
      if (!isWebSocketUpgrade(head)) {
        binding.beginUpgrade();
        const bytes = earlier === undefined ? chunk : Buffer.concat([...earlier, chunk]);
        this.#toHttp(binding, head, rest, bytes).catch((error: unknown) => refuseWith(binding, error));
        return;
      }
    }
    // Reading goes on unless the upgrade has to wait (#upgrade pauses it then).
    binding.beginUpgrade(false);
    this.#upgrade(binding, head, rest);
  }

  /** Keeps a chunk of an incomplete head (at most MAX_KEPT_CHUNKS buffers; the parser bounds the bytes). */
  #keepHeadChunk(binding: SocketBinding, chunk: Buffer): void {
    let kept = this.#partialHeads.get(binding);
    if (kept === undefined) {
      kept = [];
      this.#partialHeads.set(binding, kept);
    }
    kept.push(chunk);
    if (kept.length > MAX_KEPT_CHUNKS) kept.splice(0, kept.length, Buffer.concat(kept));
  }

  /** Reads the PROXY header; then the head follows, directly or through TLS. */
  #proxyHeaderData(binding: SocketBinding, chunk: Buffer): void {
    const parser = this.#proxyHeaders.get(binding);
    if (parser === undefined) return;
    let header;
    try {
      header = parser.push(chunk);
    } catch (error) {
      // proxy-protocol.txt §2: a receiver "must not try to guess" a broken header; the connection is closed.
      this.#proxyHeaders.delete(binding);
      binding.stats.edgeRefusal = 'proxy_header_malformed';
      binding.socket.destroy();
      return;
    }
    if (header === null) return;
    this.#proxyHeaders.delete(binding);
    const rest = parser.rest;
    if (this.#tls === null) {
      binding.clientAddress = header.sourceAddress;
      binding.parser = new HandshakeParser({ maxHeadBytes: this.#config.maxHeadBytes });
      if (rest.length > 0) this.#handshakeData(binding, rest);
      return;
    }
    // The TLS handshake follows the header: the same socket, now wrapped, in a new binding (same deadline and stats).
    this.#bindings.delete(binding);
    const raw = binding.detach();
    if (rest.length > 0) raw.unshift(rest);
    const next = this.#bindSecure(raw, binding.resolve, binding.startedAt);
    Object.assign(next.stats, binding.stats);
    next.clientAddress = header.sourceAddress;
  }

  /** A head that is not an upgrade: to the app's `http` handler, or the usual refusal without one. */
  async #toHttp(binding: SocketBinding, head: RequestHead, rest: Buffer, bytes: Buffer): Promise<void> {
    const app = this.#loadedApp ?? (await this.#app);
    if (app.http === undefined) {
      this.#upgrade(binding, head, rest);
      return;
    }
    if (binding.phase !== BindingPhase.UPGRADING) return;
    if (this.#shutdown !== null) {
      binding.refuse(503, buildErrorResponse(503, 'server is shutting down'));
      return;
    }
    this.#http ??= new HttpFront(this.#config, app.http.bind(app), (socket, upgradeHead, upgradeRest, carried) =>
      this.#upgradeFromHttp(socket, upgradeHead, upgradeRest, carried),
    );
    this.#bindings.delete(binding);
    const carried: CarriedConnection = { stats: binding.stats, done: binding.resolve, clientAddress: binding.clientAddress };
    this.#http.take(binding.detach(), bytes, carried);
  }

  /** A WebSocket upgrade on a keep-alive connection of the HTTP side: back to the handshake path. */
  #upgradeFromHttp(socket: Socket, head: RequestHead, rest: Buffer, carried: CarriedConnection): void {
    const binding = new SocketBinding(socket, this.#config, this.#delegate, this.#workerId);
    Object.assign(binding.stats, carried.stats);
    settleWireBytes(binding.stats, socket);
    binding.clientAddress = carried.clientAddress;
    binding.resolve = carried.done;
    this.#bindings.add(binding);
    binding.beginUpgrade();
    this.#upgrade(binding, head, rest);
  }

  /**
   * Runs the upgrade from a complete head to the 101 (or a refusal); never
   * throws (a failure is the connection's refusal). Synchronous when the app
   * is loaded and has no upgrade hook or one that answers synchronously: a
   * promise and a microtask per handshake and the pause and resume of the
   * socket around them were about 8% of a worker's time in a connection
   * storm (--cpu-prof, bench/handshake-cost.ts). When it has to wait,
   * reading stops until the decision (bytes pipelined behind the head wait
   * in the socket).
   */
  #upgrade(binding: SocketBinding, head: RequestHead, rest: Buffer): void {
    try {
      const info = validateUpgradeRequest(head);
      if (this.#shutdown !== null) {
        binding.refuse(503, buildErrorResponse(503, 'server is shutting down'));
        return;
      }
      if (this.#origins !== null && !this.#origins.allows(info.origin)) {
        binding.stats.edgeRefusal = 'origin_not_allowed';
        binding.refuse(403, buildErrorResponse(403, `origin ${JSON.stringify(info.origin)} is not allowed to open a WebSocket here`));
        return;
      }
      if (!this.#trustedProxies.empty) binding.clientAddress = this.#trustedProxies.clientAddress(binding.remoteAddress, head.headers);
      const app = this.#loadedApp;
      if (app === null) {
        binding.pauseForUpgrade();
        this.#app.then((loaded) => this.#decide(binding, loaded, info, rest)).catch((error: unknown) => refuseWith(binding, error));
        return;
      }
      this.#decide(binding, app, info, rest);
    } catch (error) {
      refuseWith(binding, error);
    }
  }

  /** Asks the app's upgrade hook, if any, then answers; throws only what refuseWith answers. */
  #decide(binding: SocketBinding, app: App, info: UpgradeRequestInfo, rest: Buffer): void {
    const selectedProtocol = selectSubprotocol(info.protocols, supportedProtocols(app));
    if (app.upgrade === undefined) {
      this.#answer(binding, app, info, selectedProtocol, undefined, rest);
      return;
    }
    const request: UpgradeRequest = {
      url: info.target,
      path: info.path,
      headers: info.headers,
      protocols: info.protocols,
      selectedProtocol,
      // A system call: only when the hook reads it.
      get remoteAddress() {
        return binding.remoteAddress;
      },
    };
    let decision: UpgradeDecision | Promise<UpgradeDecision>;
    try {
      decision = app.upgrade(request);
    } catch (error) {
      this.#hookFailed(binding, request, error);
      return;
    }
    if (!isThenable(decision)) {
      this.#answer(binding, app, info, selectedProtocol, decision, rest);
      return;
    }
    binding.pauseForUpgrade();
    (decision as PromiseLike<UpgradeDecision>)
      .then(
        (settled) => {
          // The client may have gone, or a shutdown refused it, while the hook ran.
          if (binding.phase === BindingPhase.UPGRADING) this.#answer(binding, app, info, selectedProtocol, settled, rest);
        },
        (error: unknown) => this.#hookFailed(binding, request, error),
      )
      .then(undefined, (error: unknown) => refuseWith(binding, error));
  }

  #hookFailed(binding: SocketBinding, request: UpgradeRequest, error: unknown): void {
    logPeerCaused(log(), 'error', 'upgrade_hook_failed', { err: error, url: request.url, peer: binding.remoteAddress }, 'upgrade hook failed; answered 500');
    binding.refuse(500, buildErrorResponse(500, 'internal error in the upgrade hook'));
  }

  /** Applies the hook's decision: the refusal, or the 101 and the connection's actor. */
  #answer(binding: SocketBinding, app: App, info: UpgradeRequestInfo, selectedProtocol: string | null, decision: UpgradeDecision, rest: Buffer): void {
    let protocol = selectedProtocol;
    let upgradeData: unknown = undefined;
    if (decision !== undefined && decision !== null) {
      if (decision.accept === false) {
        const status = Number.isInteger(decision.status) && decision.status >= 400 && decision.status <= 599 ? decision.status : 500;
        binding.refuse(status, buildErrorResponse(status, String(decision.reason ?? '')));
        return;
      }
      if (decision.protocol !== undefined) {
        // RFC 6455 §4.2.2 step 5.4: the selected subprotocol must be one the client offered.
        if (decision.protocol !== null && !info.protocols.includes(decision.protocol)) {
          logPeerCaused(log(), 'error', 'upgrade_hook_protocol', { protocol: decision.protocol, offered: info.protocols, url: info.target }, 'upgrade hook selected a subprotocol the client did not offer; answered 500');
          binding.refuse(500, buildErrorResponse(500, 'internal error in the upgrade hook'));
          return;
        }
        protocol = decision.protocol;
      }
      upgradeData = decision.data;
    }
    if (protocol === null && requiresSubprotocol(app)) {
      const names = supportedProtocols(app);
      binding.refuse(400, buildErrorResponse(400, `this endpoint requires a subprotocol: ${names.join(', ') || '(none configured)'}`));
      return;
    }
    // RFC 7692 §5: the first acceptable permessage-deflate offer, or none (no
    // Sec-WebSocket-Extensions header) when compression is off or nothing fits.
    const deflatePolicy = this.#config.perMessageDeflate;
    const negotiated = negotiatePerMessageDeflate(info.extensions, deflatePolicy);
    const response = buildAcceptResponse(info.key, { protocol, extensions: negotiated?.response ?? null });
    const deflate = negotiated === null ? null : new PerMessageDeflate(negotiated.agreement, deflatePolicy);
    const address = this.#services.router.registry.nextAddress();
    const actor = new ConnectionActor(binding, { address, protocol, upgradeData }, this.#config);
    binding.accept(response, actor, deflate, borrowsMessages(app, protocol));
    handshakeDuration.observe((performance.now() - binding.startedAt) / 1000);
    actor.start(createSession(app, actor, this.#services));
    binding.resumeAfterUpgrade(rest);
  }
}

function refuseWith(binding: SocketBinding, error: unknown): void {
  if (binding.phase !== BindingPhase.HANDSHAKE && binding.phase !== BindingPhase.UPGRADING) {
    // Past the 101 (or gone): an HTTP answer is no longer possible.
    if (binding.phase !== BindingPhase.DONE) binding.failInternal(error);
  } else if (error instanceof HandshakeError) {
    binding.refuse(error.status, handshakeErrorResponse(error));
  } else {
    logPeerCaused(log(), 'error', 'upgrade_internal_error', { err: error, peer: binding.remoteAddress }, 'upgrade failed with an internal error; answered 500');
    binding.refuse(500, buildErrorResponse(500, 'internal error'));
  }
}
