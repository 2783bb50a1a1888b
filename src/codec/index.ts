/**
 * The Shoal subprotocol codecs by name. Pure (no node: imports): the client
 * uses this module in browsers too.
 */
import type { Codec } from './envelope.ts';
import { jsonCodec } from './json.ts';
import { msgpackCodec } from './msgpack.ts';

export * from './envelope.ts';
export { jsonCodec } from './json.ts';
export { msgpackCodec } from './msgpack.ts';

/** Every codec, msgpack first (the default preference). */
export const CODECS: readonly Codec[] = [msgpackCodec, jsonCodec];

/** The codec of a subprotocol name, or undefined when it is not a Shoal subprotocol. */
export function findCodec(protocol: string | null): Codec | undefined {
  if (protocol === msgpackCodec.protocol) return msgpackCodec;
  if (protocol === jsonCodec.protocol) return jsonCodec;
  return undefined;
}
