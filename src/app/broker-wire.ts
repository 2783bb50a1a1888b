/**
 * The bytes of a publication on a topic's Redis channel (redis-broker.ts),
 * in two versions, told apart by the first byte:
 *
 *   version 1, one publication:
 *     [1] [form] [tag length] [node tag] [frame ...]
 *   version 2, several publications of one turn on the same topic:
 *     [2] [tag length] [node tag] then per publication, in order:
 *     [form] [frame length: u32 big-endian] [frame ...]
 *
 * `node tag` is the publishing node's id (a node drops its own messages when
 * Redis sends them back), `form` a PublicationForm, `frame` the complete
 * WebSocket frame the subscribers get. A node sends version 1 for a single
 * publication and version 2 for two or more consecutive ones on one topic,
 * and reads both; a message of another version is dropped and counted by
 * the broker (docs/deploy.md, "Upgrading a cluster").
 *
 * Why batches: a publishing node's turn often holds several publications on
 * one topic (each publisher's requests read in one turn); one PUBLISH for
 * them costs the publishing node one ioredis command instead of several,
 * Redis one fan-out, and each receiving worker one message to parse.
 */
import { Buffer } from 'node:buffer';
import type { PublicationForm } from './pubsub/deliver-publication.ts';

/** A single publication. */
export const SINGLE_VERSION = 1;
/** Several publications on one topic. */
export const BATCH_VERSION = 2;
/** Bytes before each publication in a batch: its form and the length of its frame. */
export const BATCH_ENTRY_HEADER = 5;

/** Bytes of a single publication's message. */
export function singleLength(tag: Buffer, frame: Uint8Array): number {
  return 3 + tag.length + frame.length;
}

/** A version-1 message: one publication. */
export function encodeSingle(tag: Buffer, form: PublicationForm, frame: Uint8Array): Buffer {
  const message = Buffer.allocUnsafe(singleLength(tag, frame));
  message[0] = SINGLE_VERSION;
  message[1] = form;
  message[2] = tag.length;
  tag.copy(message, 3);
  message.set(frame, 3 + tag.length);
  return message;
}

/**
 * A version-2 message: the publications `forms[i]`/`frames[i]` for `i` in
 * [start, end), in that order; `frameBytes` is the sum of their frames' lengths.
 */
export function encodeBatch(tag: Buffer, forms: readonly number[], frames: readonly Uint8Array[], start: number, end: number, frameBytes: number): Buffer {
  const message = Buffer.allocUnsafe(2 + tag.length + (end - start) * BATCH_ENTRY_HEADER + frameBytes);
  message[0] = BATCH_VERSION;
  message[1] = tag.length;
  tag.copy(message, 2);
  let at = 2 + tag.length;
  for (let i = start; i < end; i++) {
    const frame = frames[i] as Uint8Array;
    message[at] = forms[i] as number;
    message.writeUInt32BE(frame.length, at + 1);
    message.set(frame, at + BATCH_ENTRY_HEADER);
    at += BATCH_ENTRY_HEADER + frame.length;
  }
  return message;
}

/** What decoding a publication message found. */
export const Decoded = {
  /** Every publication in it was handed over. */
  DELIVERED: 0,
  /** The node's own message (sent back by Redis): nothing handed over. */
  OWN: 1,
  /** An unknown version or a truncated message: nothing more handed over (publications before the damage were). */
  MALFORMED: 2,
} as const;
export type Decoded = (typeof Decoded)[keyof typeof Decoded];

/**
 * Hands each publication of `message` to `deliver`, in order, unless it
 * comes from the node whose tag is `ownTag`. `message` may be a view into
 * the Redis client's read buffer: the frames handed over are views into one
 * copy of it, which the caller may keep.
 */
export function decodePublications(message: Buffer, ownTag: Buffer, deliver: (form: PublicationForm, frame: Uint8Array) => void): Decoded {
  const version = message.length === 0 ? 0 : message[0];
  const tagAt = version === SINGLE_VERSION ? 3 : 2;
  if ((version !== SINGLE_VERSION && version !== BATCH_VERSION) || message.length < tagAt) return Decoded.MALFORMED;
  const tagLength = message[tagAt - 1] as number;
  const bodyAt = tagAt + tagLength;
  if (message.length < bodyAt) return Decoded.MALFORMED;
  if (tagLength === ownTag.length && ownTag.equals(message.subarray(tagAt, bodyAt))) return Decoded.OWN;
  if (version === SINGLE_VERSION) {
    deliver(message[1] as PublicationForm, Uint8Array.prototype.slice.call(message, bodyAt));
    return Decoded.DELIVERED;
  }
  // One copy of the whole batch; each frame is a view into it.
  const copy = Uint8Array.prototype.slice.call(message, bodyAt);
  let at = 0;
  while (at < copy.length) {
    if (copy.length - at < BATCH_ENTRY_HEADER) return Decoded.MALFORMED;
    const length = ((copy[at + 1] as number) * 0x1000000) + (((copy[at + 2] as number) << 16) | ((copy[at + 3] as number) << 8) | (copy[at + 4] as number));
    const end = at + BATCH_ENTRY_HEADER + length;
    if (end > copy.length) return Decoded.MALFORMED;
    deliver(copy[at] as PublicationForm, copy.subarray(at + BATCH_ENTRY_HEADER, end));
    at = end;
  }
  return Decoded.DELIVERED;
}
