/** Types of peer-protocol.mjs (plain JavaScript so that the Node 20 uWS peer can load it). */

/** What a peer server offers handleEnvelope. */
export interface EnvelopeOps<S> {
  send(socket: S, data: Uint8Array): void;
  subscribe(socket: S, topic: string): void;
  /** Send an already encoded publication to every subscriber of `topic`. */
  publish(topic: string, data: Uint8Array): void;
  close(socket: S, code: number, reason: string): void;
}

/** What a peer server offers handleRawPubSub: publish sends the bytes themselves, answers are text. */
export interface RawPubSubOps<S> {
  sendText(socket: S, text: string): void;
  subscribe(socket: S, topic: string): void;
  publish(topic: string, data: Uint8Array): void;
  close(socket: S, code: number, reason: string): void;
}

export const MSGPACK_PROTOCOL: string;
export const RAW_PUBSUB_PROTOCOL: string;
export function selectProtocol(header: string | null | undefined): string | null;
export function handleEnvelope<S>(socket: S, data: Uint8Array, ops: EnvelopeOps<S>): void;
export function handleRawPubSub<S>(socket: S, data: Uint8Array | string, isBinary: boolean, ops: RawPubSubOps<S>): void;
export function parsePort(argv: readonly string[]): number;
export function parseTls(argv: readonly string[]): { cert: string; key: string } | null;
export const HTTP_BODY: string;
export function readyLine(name: string, port: number, detail: string, secure?: boolean): string;
