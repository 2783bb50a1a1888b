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
import type { Socket } from 'node:net';
import { ConnectionActor } from '../actors/connection-actor.ts';
import type { AppServices } from '../app/services.ts';
import { createSession, requiresSubprotocol, supportedProtocols } from '../app/session.ts';
import type { App, UpgradeDecision, UpgradeRequest } from '../app/types.ts';
import { HandshakeError } from '../protocol/errors.ts';
import { buildAcceptResponse, buildErrorResponse, handshakeErrorResponse } from '../protocol/handshake-response.ts';
import { HandshakeParser } from '../protocol/handshake-parser.ts';
import { validateUpgradeRequest } from '../protocol/upgrade-request.ts';
import type { RequestHead } from '../protocol/request-head.ts';
import { negotiatePerMessageDeflate } from '../protocol/permessage-deflate-negotiation.ts';
import { PerMessageDeflate } from '../protocol/permessage-deflate.ts';
import { selectSubprotocol } from '../protocol/subprotocol.ts';
import { log } from '../telemetry/logger.ts';
import { logPeerCaused } from '../telemetry/rate-limited-log.ts';
import { workerHistograms } from '../telemetry/worker-metrics.ts';
import type { TcpHandle } from './accept-handles.ts';
import { adoptSocket } from './adopt-socket.ts';
import type { ConnectionStats, WorkerConfig } from './messages.ts';
import { BindingPhase, SocketBinding, type BindingDelegate } from './socket-binding.ts';

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
  readonly #bindings: Set<SocketBinding>;
  /** Set by `shutdown`: new upgrades are refused with 503. */
  #shutdown: { code: number; reason: string } | null;
  readonly #delegate: BindingDelegate;

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
    this.#bindings = new Set();
    this.#shutdown = null;
    this.#delegate = {
      handshakeData: (binding, chunk) => this.#handshakeData(binding, chunk),
      handshakeTimedOut: (binding) => {
        binding.refuse(408, buildErrorResponse(408, `request head not received within ${this.#config.handshakeTimeoutMs} ms`));
      },
      closed: (binding) => {
        this.#bindings.delete(binding);
        binding.resolve?.(binding.stats);
        binding.resolve = null;
      },
    };
    app.catch(() => {});
  }

  /** Live connections, in any phase. */
  get size(): number {
    return this.#bindings.size;
  }

  /**
   * Serves one connection: `received` is a TCP handle or a socket transferred
   * from the primary, not read yet (a socket is inert afterwards). `done` is
   * called once, with the connection's stats, when the socket has closed;
   * share one function between connections (it is kept for the connection's
   * lifetime).
   */
  serve(received: Socket | TcpHandle, done: (stats: ConnectionStats) => void): void {
    const socket = adoptSocket(received);
    const binding = new SocketBinding(socket, this.#config, this.#delegate, this.#workerId);
    binding.parser = new HandshakeParser({ maxHeadBytes: this.#config.maxHeadBytes });
    binding.resolve = done;
    this.#bindings.add(binding);
  }

  /** Walks every connection once (the worker's report, twice a second: about 10 us per 1,000 connections). */
  measure(): ConnectionMeasures {
    let mailboxDepth = 0;
    let sendBufferBytes = 0;
    for (const binding of this.#bindings) {
      mailboxDepth += binding.actor?.queued ?? 0;
      sendBufferBytes += binding.socket.writableLength;
    }
    return { connections: this.#bindings.size, mailboxDepth, sendBufferBytes };
  }

  /** The sweeper's tick: every binding checks its deadlines. */
  sweep(now: number): void {
    for (const binding of this.#bindings) {
      try {
        binding.sweep(now);
      } catch (error) {
        binding.failInternal(error);
      }
    }
  }

  /** Refuse new upgrades with 503 and close every connection with `code` and `reason`. */
  shutdown(code: number, reason: string): void {
    this.#shutdown = { code, reason };
    const refusal = buildErrorResponse(503, 'server is shutting down');
    for (const binding of this.#bindings) binding.goAway(code, reason, refusal);
  }

  #handshakeData(binding: SocketBinding, chunk: Buffer): void {
    let head: RequestHead | null;
    try {
      head = (binding.parser as HandshakeParser).push(chunk);
    } catch (error) {
      refuseWith(binding, error);
      return;
    }
    if (head === null) return;
    const rest = (binding.parser as HandshakeParser).rest;
    binding.parser = null;
    binding.beginUpgrade();
    this.#upgrade(binding, head, rest).catch((error: unknown) => refuseWith(binding, error));
  }

  /** Runs the upgrade from a complete head to the 101 (or a refusal). */
  async #upgrade(binding: SocketBinding, head: RequestHead, rest: Buffer): Promise<void> {
    const info = validateUpgradeRequest(head);
    if (this.#shutdown !== null) {
      binding.refuse(503, buildErrorResponse(503, 'server is shutting down'));
      return;
    }
    const app = await this.#app;
    const offered = info.protocols;
    const request: UpgradeRequest = {
      url: info.target,
      path: info.path,
      headers: info.headers,
      protocols: offered,
      selectedProtocol: selectSubprotocol(offered, supportedProtocols(app)),
      // A system call: only when the hook reads it.
      get remoteAddress() {
        return binding.remoteAddress;
      },
    };
    let decision: UpgradeDecision;
    try {
      decision = app.upgrade === undefined ? undefined : await app.upgrade(request);
    } catch (error) {
      logPeerCaused(log(), 'error', 'upgrade_hook_failed', { err: error, url: request.url, peer: binding.remoteAddress }, 'upgrade hook failed; answered 500');
      binding.refuse(500, buildErrorResponse(500, 'internal error in the upgrade hook'));
      return;
    }
    // The client may have gone, or a shutdown refused it, while the hook ran.
    if (binding.phase !== BindingPhase.UPGRADING) return;
    let protocol = request.selectedProtocol;
    let upgradeData: unknown = undefined;
    if (decision !== undefined && decision !== null) {
      if (decision.accept === false) {
        const status = Number.isInteger(decision.status) && decision.status >= 400 && decision.status <= 599 ? decision.status : 500;
        binding.refuse(status, buildErrorResponse(status, String(decision.reason ?? '')));
        return;
      }
      if (decision.protocol !== undefined) {
        // RFC 6455 §4.2.2 step 5.4: the selected subprotocol must be one the client offered.
        if (decision.protocol !== null && !offered.includes(decision.protocol)) {
          logPeerCaused(log(), 'error', 'upgrade_hook_protocol', { protocol: decision.protocol, offered, url: request.url }, 'upgrade hook selected a subprotocol the client did not offer; answered 500');
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
    binding.accept(response, actor, deflate);
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
