/**
 * The local side of the interest table: topic -> the connections of this
 * worker subscribed to it, and how many of them use each codec (so a
 * publication is encoded once per codec in use, never once per subscriber).
 * It reports when a topic gains its first or loses its last local
 * subscriber: those are the moments other workers must be told.
 */
import type { Codec } from '../../codec/envelope.ts';
import { msgpackCodec } from '../../codec/msgpack.ts';
import type { ConnectionHandle } from '../types.ts';

/** A connection that can hold subscriptions: its handle, its codec, and its set of topics (owned by PubSub). */
export interface Subscriber {
  readonly handle: ConnectionHandle;
  readonly codec: Codec;
  readonly topics: Set<string>;
}

/** One topic's local subscribers and how many of them use each codec. */
export class TopicSubscribers {
  readonly subscribers: Set<Subscriber>;
  readonly codecs: Map<Codec, number>;

  constructor() {
    this.subscribers = new Set();
    this.codecs = new Map();
  }

  /** True when some of the topic's subscribers use a codec other than msgpack. */
  get hasOtherCodecs(): boolean {
    return this.codecs.size > (this.codecs.has(msgpackCodec) ? 1 : 0);
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
