/**
 * The bytes of a publication message on a topic's Redis channel
 * (redis-broker.ts): one format, a batch of one or more consecutive
 * publications on one topic, in order:
 *
 *   [2] [tag length] [node tag] then per publication:
 *   [form] [frame length: u32 big-endian] [frame ...]
 *
 * The first byte is the format's version, `node tag` the publishing node's
 * id (a node drops its own messages when Redis sends them back), `form` a
 * PublicationForm, `frame` the complete WebSocket frame the subscribers get.
 * A message of any other version is dropped and counted by the broker
 * (docs/deploy.md, "Upgrading a cluster"). Version 1, a single publication
 * without the entry header, was sent by development builds before batches
 * and never released: it is not read, and its number is not reused.
 *
 * Why batches: a publishing node's turn often holds several publications on
 * one topic (each publisher's requests read in one turn); one PUBLISH for
 * them costs the publishing node one ioredis command instead of several,
 * Redis one fan-out, and each receiving worker one message to parse. Why a
 * single publication is a batch of one too: one encoder and one decoder,
 * for 5 bytes more per single publication (its entry header).
 */
import { Buffer } from 'node:buffer';
import type { PublicationForm } from './pubsub/deliver-publication.ts';

/** The format's version (first byte of every publication message). */
export const VERSION = 2;
/** Bytes before each publication in a message: its form and the length of its frame. */
export const ENTRY_HEADER = 5;

/** Bytes of a message of `count` publications whose frames total `frameBytes`. */
export function messageLength(tag: Buffer, count: number, frameBytes: number): number {
  return 2 + tag.length + count * ENTRY_HEADER + frameBytes;
}

/**
 * A message of the publications `forms[i]`/`frames[i]` for `i` in
 * [start, end) (at least one), in that order; `frameBytes` is the sum of
 * their frames' lengths.
 */
export function encodePublications(tag: Buffer, forms: readonly number[], frames: readonly Uint8Array[], start: number, end: number, frameBytes: number): Buffer {
  const message = Buffer.allocUnsafe(messageLength(tag, end - start, frameBytes));
  message[0] = VERSION;
  message[1] = tag.length;
  tag.copy(message, 2);
  let at = 2 + tag.length;
  for (let i = start; i < end; i++) {
    const frame = frames[i] as Uint8Array;
    message[at] = forms[i] as number;
    message.writeUInt32BE(frame.length, at + 1);
    message.set(frame, at + ENTRY_HEADER);
    at += ENTRY_HEADER + frame.length;
  }
  return message;
}

/** What decoding a publication message found. */
export const Decoded = {
  /** Every publication in it was handed over. */
  DELIVERED: 0,
  /** The node's own message (sent back by Redis): nothing handed over. */
  OWN: 1,
  /** An unknown version, no publication or a truncated message: nothing more handed over (publications before the damage were). */
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
  if (message.length < 2 || message[0] !== VERSION) return Decoded.MALFORMED;
  const tagLength = message[1] as number;
  const bodyAt = 2 + tagLength;
  // At least one entry header after the tag.
  if (message.length < bodyAt + ENTRY_HEADER) return Decoded.MALFORMED;
  if (tagLength === ownTag.length && ownTag.equals(message.subarray(2, bodyAt))) return Decoded.OWN;
  // One copy of the whole body; each frame is a view into it.
  const copy = Uint8Array.prototype.slice.call(message, bodyAt);
  let at = 0;
  while (at < copy.length) {
    if (copy.length - at < ENTRY_HEADER) return Decoded.MALFORMED;
    const length = ((copy[at + 1] as number) * 0x1000000) + (((copy[at + 2] as number) << 16) | ((copy[at + 3] as number) << 8) | (copy[at + 4] as number));
    const end = at + ENTRY_HEADER + length;
    if (end > copy.length) return Decoded.MALFORMED;
    deliver(copy[at] as PublicationForm, copy.subarray(at + ENTRY_HEADER, end));
    at = end;
  }
  return Decoded.DELIVERED;
}
