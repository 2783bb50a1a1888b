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
import type { ConnectionHandle } from '../types.ts';

/** What a subscriber receives publications as: a Shoal codec's envelope, or (null) the raw data as one WebSocket message. */
export type SubscriberFormat = Codec | null;

/** A connection that can hold subscriptions: its handle, its format, and its set of topics (owned by PubSub). */
export interface Subscriber {
  readonly handle: ConnectionHandle;
  /** The connection's Shoal codec, or null for a raw connection (no subprotocol). */
  readonly codec: SubscriberFormat;
  readonly topics: Set<string>;
}

/**
 * One topic's local subscribers and how many of them use each format. The
 * subscribers' handles are kept in a flat array, walked by index for each
 * publication (deliver-publication.ts): no Set iteration and no read of the
 * subscriber object per delivery. A subscriber leaves its slot by taking the
 * last one's place, except while the topic is being walked (a subscriber that
 * closes mid fan-out, the slow-consumer policy, unsubscribes from inside the
 * walk): then its slot is emptied (null) and the array is compacted when the
 * last walk ends, so the walk sees every slot once and in place.
 */
export class TopicSubscribers {
  /** The subscribers' handles, by slot; null: a slot emptied during a walk. */
  handles: (ConnectionHandle | null)[];
  /** The subscribers, by the same slots. */
  subscribers: (Subscriber | null)[];
  /** format -> number of subscribers (null: raw connections). */
  readonly codecs: Map<SubscriberFormat, number>;
  /** subscriber -> its slot. */
  #slots: Map<Subscriber, number>;
  /** Walks under way (a delivery can publish again to the same topic from a close handler). */
  #walks: number;
  /** Slots emptied during walks, compacted when the last walk ends. */
  #holes: number;

  constructor() {
    this.handles = [];
    this.subscribers = [];
    this.codecs = new Map();
    this.#slots = new Map();
    this.#walks = 0;
    this.#holes = 0;
  }

  /** Number of subscribers. */
  get size(): number {
    return this.#slots.size;
  }

  /** True when some of the topic's subscribers use a Shoal codec other than msgpack. */
  get hasOtherCodecs(): boolean {
    return this.codecs.size > (this.codecs.has(msgpackCodec) ? 1 : 0) + (this.codecs.has(null) ? 1 : 0);
  }

  /** True when some of the topic's subscribers are raw connections. */
  get hasRaw(): boolean {
    return this.codecs.has(null);
  }

  /** Adds a subscriber that is not in the topic yet (during a walk: after the slots that walk visits). */
  add(subscriber: Subscriber): void {
    this.#slots.set(subscriber, this.handles.length);
    this.handles.push(subscriber.handle);
    this.subscribers.push(subscriber);
    this.codecs.set(subscriber.codec, (this.codecs.get(subscriber.codec) ?? 0) + 1);
  }

  /** Removes a subscriber of the topic (a no-op when it is not one). */
  remove(subscriber: Subscriber): void {
    const slot = this.#slots.get(subscriber);
    if (slot === undefined) return;
    this.#slots.delete(subscriber);
    const count = (this.codecs.get(subscriber.codec) ?? 1) - 1;
    if (count === 0) this.codecs.delete(subscriber.codec);
    else this.codecs.set(subscriber.codec, count);
    const handles = this.handles;
    const subscribers = this.subscribers;
    if (this.#walks > 0) {
      handles[slot] = null;
      subscribers[slot] = null;
      this.#holes++;
      return;
    }
    const last = handles.length - 1;
    if (slot !== last) {
      const moved = subscribers[last] as Subscriber;
      handles[slot] = handles[last] as ConnectionHandle;
      subscribers[slot] = moved;
      this.#slots.set(moved, slot);
    }
    handles.pop();
    subscribers.pop();
  }

  /** A walk of the slots begins: until `endWalk`, no slot moves. Returns the number of slots it visits. */
  beginWalk(): number {
    this.#walks++;
    return this.handles.length;
  }

  /** A walk ended: the last one compacts the slots emptied meanwhile. */
  endWalk(): void {
    if (--this.#walks > 0 || this.#holes === 0) return;
    this.#holes = 0;
    const handles = this.handles;
    const subscribers = this.subscribers;
    let kept = 0;
    for (let i = 0; i < subscribers.length; i++) {
      const subscriber = subscribers[i];
      if (subscriber === null) continue;
      handles[kept] = handles[i] as ConnectionHandle;
      subscribers[kept] = subscriber;
      this.#slots.set(subscriber, kept);
      kept++;
    }
    handles.length = kept;
    subscribers.length = kept;
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
    return this.#topics.get(topic)?.size ?? 0;
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
    entry.add(subscriber);
    return first;
  }

  /** Remove a subscriber of the topic; true when it was the topic's last. */
  remove(subscriber: Subscriber, topic: string): boolean {
    const entry = this.#topics.get(topic);
    if (entry === undefined) return false;
    entry.remove(subscriber);
    if (entry.size > 0) return false;
    this.#topics.delete(topic);
    return true;
  }
}
