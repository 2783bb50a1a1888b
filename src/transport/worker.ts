/**
 * Serves the connections handed to this worker (by its lane, worker-lane.ts):
 * for each socket it reads and validates the upgrade request, asks the app's
 * upgrade hook, negotiates permessage-deflate, writes the 101 (or the
 * refusal), then runs the connection's actor until the socket closes, and
 * reports the connection's stats.
 *
 * Module state is per worker: the app (loaded once), the registry of local
 * connections, the sweeper, and the control channel for shutdown.
 */
import type { Socket } from 'node:net';
import { BroadcastChannel, threadId, workerData } from 'node:worker_threads';
import { ConnectionActor } from '../actors/connection-actor.ts';
import { ConnectionRegistry } from '../actors/registry.ts';
import { loadApp } from '../app/load-app.ts';
import { createSession, requiresSubprotocol, supportedProtocols } from '../app/session.ts';
import type { App, UpgradeDecision, UpgradeRequest } from '../app/types.ts';
import { HandshakeError } from '../protocol/errors.ts';
import {
  buildAcceptResponse,
  buildErrorResponse,
  handshakeErrorResponse,
  HandshakeParser,
  validateUpgradeRequest,
  type RequestHead,
} from '../protocol/handshake.ts';
import { negotiatePerMessageDeflate } from '../protocol/permessage-deflate-negotiation.ts';
import { PerMessageDeflate } from '../protocol/permessage-deflate.ts';
import { selectSubprotocol } from '../protocol/subprotocol.ts';
import type { TcpHandle } from './accept-handles.ts';
import { adoptSocket } from './adopt-socket.ts';
import { startSweeper, sweepIntervalMs } from './heartbeat.ts';
import type { ConnectionStats, ControlMessage, WorkerConfig } from './messages.ts';
import { BindingPhase, SocketBinding, type BindingDelegate } from './socket-binding.ts';

const config = workerData as WorkerConfig;
const registry = new ConnectionRegistry<ConnectionActor>(threadId);
/** Every live binding, in any phase: what the sweeper and the shutdown walk. */
const bindings = new Set<SocketBinding>();
let appPromise: Promise<App> | null = null;
/** Set by a shutdown message: new upgrades are refused with 503. */
let shutdown: { code: number; reason: string } | null = null;

/** The worker's registry of upgraded connections, for layers that deliver `sendTo(address)`. */
export function localConnections(): ConnectionRegistry<ConnectionActor> {
  return registry;
}

function getApp(): Promise<App> {
  appPromise ??= loadApp(config.app);
  return appPromise;
}

// Load the app when the worker starts rather than on its first connection;
// a failure shows up as a 500 on each upgrade (and was already reported by
// the primary, which loads the app once before starting the pool).
getApp().catch(() => {});

startSweeper(sweepIntervalMs(config), (now) => {
  for (const binding of bindings) {
    try {
      binding.sweep(now);
    } catch (error) {
      binding.failInternal(error);
    }
  }
});

const control = new BroadcastChannel(config.controlChannel);
control.unref();
control.onmessage = (event: unknown) => {
  const message = (event as { data: ControlMessage }).data;
  if (message.type === 'shutdown') {
    shutdown = { code: message.code, reason: message.reason };
    const refusal = buildErrorResponse(503, 'server is shutting down');
    for (const binding of bindings) binding.goAway(message.code, message.reason, refusal);
  }
};

function refuseWith(binding: SocketBinding, error: unknown): void {
  if (binding.phase !== BindingPhase.HANDSHAKE && binding.phase !== BindingPhase.UPGRADING) {
    // Past the 101 (or gone): an HTTP answer is no longer possible.
    if (binding.phase !== BindingPhase.DONE) binding.failInternal(error);
  } else if (error instanceof HandshakeError) {
    binding.refuse(error.status, handshakeErrorResponse(error));
  } else {
    console.error('shoal: upgrade failed with an internal error:', error);
    binding.refuse(500, buildErrorResponse(500, 'internal error'));
  }
}

const delegate: BindingDelegate = {
  handshakeData(binding, chunk) {
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
    upgrade(binding, head, rest).catch((error: unknown) => refuseWith(binding, error));
  },
  handshakeTimedOut(binding) {
    binding.refuse(408, buildErrorResponse(408, `request head not received within ${config.handshakeTimeoutMs} ms`));
  },
  closed(binding) {
    bindings.delete(binding);
    if (binding.localId !== 0) registry.delete(binding.localId);
    binding.resolve?.(binding.stats);
    binding.resolve = null;
  },
};

/** Runs the upgrade from a complete head to the 101 (or a refusal). */
async function upgrade(binding: SocketBinding, head: RequestHead, rest: Buffer): Promise<void> {
  const info = validateUpgradeRequest(head);
  if (shutdown !== null) {
    binding.refuse(503, buildErrorResponse(503, 'server is shutting down'));
    return;
  }
  const app = await getApp();
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
    console.error(`shoal: upgrade hook failed for ${request.url}:`, error);
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
        console.error(`shoal: upgrade hook selected ${JSON.stringify(decision.protocol)}, which the client did not offer`);
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
  const deflatePolicy = config.perMessageDeflate;
  const negotiated = negotiatePerMessageDeflate(info.extensions, deflatePolicy);
  const response = buildAcceptResponse(info.key, { protocol, extensions: negotiated?.response ?? null });
  const deflate = negotiated === null ? null : new PerMessageDeflate(negotiated.agreement, deflatePolicy);
  const { localId, address } = registry.nextAddress();
  const actor = new ConnectionActor(binding, { address, protocol, upgradeData }, config);
  registry.add(localId, actor);
  binding.accept(response, actor, localId, deflate);
  actor.start(createSession(app, actor));
  binding.resumeAfterUpgrade(rest);
}

/**
 * Serves one connection: `received` is a TCP handle or a socket transferred
 * from the primary, not read yet (a socket is inert afterwards). `done` is
 * called once, with the connection's stats, when the socket has closed;
 * share one function between connections (it is kept for the connection's
 * lifetime).
 */
export function serveSocket(received: Socket | TcpHandle, done: (stats: ConnectionStats) => void): void {
  const socket = adoptSocket(received);
  const binding = new SocketBinding(socket, config, delegate, threadId);
  binding.parser = new HandshakeParser({ maxHeadBytes: config.maxHeadBytes });
  binding.resolve = done;
  bindings.add(binding);
}
