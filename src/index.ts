/**
 * Shoal's public entry point: the server facade, its options, and the types
 * an application module is written against.
 */
export { createServer, ShoalServer, type ListeningAddress } from './server/server.ts';
export { DEFAULT_OPTIONS, resolveServerOptions, type ServerOptions } from './server/options.ts';
export { loadApp } from './app/load-app.ts';
export type {
  App,
  ConnectionAddress,
  ConnectionHandle,
  Context,
  HostServer,
  MethodHandler,
  PublishOptions,
  Session,
  UpgradeDecision,
  UpgradeRequest,
} from './app/types.ts';
export type { ConnectionStats } from './transport/messages.ts';
export type { BrokerState, BrokerStats } from './app/broker.ts';
export { SubprotocolRequiredError } from './app/context.ts';
export type { PrimaryStats as ServerStats } from './transport/primary.ts';
export { CloseCode, Opcode } from './protocol/constants.ts';
export { AppError, defineApp, isAppError, type AppSchema, type TypedApp, type TypedContext } from './app/define-app.ts';
export { serverChannel } from './app/services.ts';
export { JSON_PROTOCOL, MSGPACK_PROTOCOL } from './codec/envelope.ts';
