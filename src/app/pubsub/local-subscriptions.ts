/**
 * The local side of the interest table: topic -> the connections of this
 * worker subscribed to it, and how many of them use each format (a Shoal
 * codec, or raw WebSocket messages), so a publication is framed once per
 * format in use, never once per subscriber. It reports when a topic gains
 * its first or loses its last local subscriber: those are the moments other
 * workers (and the broker) must be told.
 */
import type { Codec } from '../../codec/envelope.ts';
import { msgpackCodec } from '../../codec/msgpack.ts';
import type { ConnectionHandle, FrameWriter } from '../types.ts';

/** What a subscriber receives publications as: a Shoal codec's envelope, or (null) the raw data as one WebSocket message. */
export type SubscriberFormat = Codec | null;

/** A connection that can hold subscriptions: its handle, its format, and its set of topics (owned by PubSub). */
export interface Subscriber {
  readonly handle: ConnectionHandle;
  /** `handle.frameWriter`, kept: the walks over a topic's subscribers write through it without reading the handle. */
  readonly writer: FrameWriter;
  /** The connection's Shoal codec, or null for a raw connection (no subprotocol). */
  readonly codec: SubscriberFormat;
  readonly topics: Set<string>;
}

/** One topic's local subscribers and how many of them use each format. */
export class TopicSubscribers {
  readonly subscribers: Set<Subscriber>;
  /** format -> number of subscribers (null: raw connections). */
  readonly codecs: Map<SubscriberFormat, number>;

  constructor() {
    this.subscribers = new Set();
    this.codecs = new Map();
  }

  /** True when some of the topic's subscribers use a Shoal codec other than msgpack. */
  get hasOtherCodecs(): boolean {
    return this.codecs.size > (this.codecs.has(msgpackCodec) ? 1 : 0) + (this.codecs.has(null) ? 1 : 0);
  }

  /** True when some of the topic's subscribers are raw connections. */
  get hasRaw(): boolean {
    return this.codecs.has(null);
  }
}

/** topic -> local subscribers. Callers keep `Subscriber.topics` and call add/remove once per change. */
export class LocalSubscriptions {
  #topics: Map<string, TopicSubscribers>;

  constructor() {
    this.#topics = new Map();
  }

  /** The topic's local subscribers, or undefined when it has none. */
  get(topic: string): TopicSubscribers | undefined {
    return this.#topics.get(topic);
  }

  /** Number of local subscribers of a topic. */
  count(topic: string): number {
    return this.#topics.get(topic)?.subscribers.size ?? 0;
  }

  /** Topics with at least one local subscriber. */
  topics(): string[] {
    return [...this.#topics.keys()];
  }

  /** Add a subscriber that is not yet in the topic; true when it is the topic's first. */
  add(subscriber: Subscriber, topic: string): boolean {
    let entry = this.#topics.get(topic);
    const first = entry === undefined;
    if (entry === undefined) {
      entry = new TopicSubscribers();
      this.#topics.set(topic, entry);
    }
    entry.subscribers.add(subscriber);
    entry.codecs.set(subscriber.codec, (entry.codecs.get(subscriber.codec) ?? 0) + 1);
    return first;
  }

  /** Remove a subscriber of the topic; true when it was the topic's last. */
  remove(subscriber: Subscriber, topic: string): boolean {
    const entry = this.#topics.get(topic);
    if (entry === undefined) return false;
    entry.subscribers.delete(subscriber);
    const count = (entry.codecs.get(subscriber.codec) ?? 1) - 1;
    if (count === 0) entry.codecs.delete(subscriber.codec);
    else entry.codecs.set(subscriber.codec, count);
    if (entry.subscribers.size > 0) return false;
    this.#topics.delete(topic);
    return true;
  }
}
