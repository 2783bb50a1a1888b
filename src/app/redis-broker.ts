/**
 * The Redis implementation of the broker interface (broker.ts), on ioredis:
 * Redis (or Valkey) pub/sub between the nodes of a cluster. Each connection
 * worker has its own two connections (one publishing, one subscribed) and
 * the primary a publishing one for `server.publish()`:
 * - a worker subscribes to the channel of a topic (`shoal:p:<topic>`) only
 *   while it has local subscribers of it, and always to its own event channel
 *   (`shoal:to:<node>.<worker>`) for `sendTo`; subscription changes are
 *   collected during an event-loop turn and sent as one SUBSCRIBE and one
 *   UNSUBSCRIBE. A subscription made while the connection is down is made
 *   when it comes back, and every live topic is subscribed again after a
 *   reconnect.
 * - publications and events of one turn go out as one pipeline, in the order
 *   they were made, on the worker's one publishing connection: Redis keeps
 *   that order to every subscriber, so per-publisher order holds across
 *   nodes. Consecutive publications on one topic go in one PUBLISH (a batch,
 *   broker-wire.ts; a lone publication is a batch of one) that the
 *   receiving worker delivers in order; only
 *   consecutive ones, so the order across topics holds too. Each message
 *   carries its node's id, and a node drops its own publications when Redis
 *   sends them back (its workers delivered them already: never twice to one
 *   connection).
 * - at most once: a publication lost with a connection is not sent again
 *   (`autoResendUnfulfilledCommands: false`); it is counted in `lost`.
 * - the outgoing buffer (bytes sent and not yet acknowledged by Redis) is
 *   bounded: past `highWaterBytes` publishers are held as between workers,
 *   at `maxBytes` a publication is refused with OVERLOADED.
 * - a connection that does not answer a PING for `stallTimeoutMs` is
 *   dropped and made again (a stalled network or a stopped Redis: TCP alone
 *   may not notice for minutes); reconnects back off exponentially up to 2 s.
 *   Each loss is a gap (`gaps`, `gapMs`).
 * - a failing connection is logged once per cause per outage (`cause`: the
 *   error's code, ECONNREFUSED, a certificate error, or Redis's reply code,
 *   WRONGPASS, NOAUTH), not at every retry: a Redis that was down and comes
 *   back refusing the password is reported again, a wrong password that
 *   stays wrong for hours once.
 *
 * Why per-worker connections rather than one per node: a worker's
 * publications go straight from its thread to Redis and back to the
 * interested workers of other nodes with no hop through another thread, and
 * no thread of a node becomes the one that carries all of its cross-node
 * traffic. The cost: two connections per worker per node, and a node with
 * several interested workers receives a publication once per worker.
 */
import { log } from '../telemetry/logger.ts';
import { logPeerCaused } from '../telemetry/rate-limited-log.ts';
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import { ErrorCode } from '../codec/envelope.ts';
import { emptyBrokerStats, type Broker, type BrokerReceiver, type BrokerState, type BrokerStats } from './broker.ts';
import { Decoded, decodePublications, encodePublications, messageLength } from './broker-wire.ts';
import { AppError } from './define-app.ts';
import type { PublicationForm } from './pubsub/deliver-publication.ts';

/** What a node's workers (and its primary) need to reach the broker. */
export interface BrokerConfig {
  /** redis://[:password@]host:port[/db] or rediss://… (TLS). */
  readonly url: string;
  /** This node's id (registry.ts: the first part of its addresses). */
  readonly nodeId: string;
  /** Password for Redis AUTH when the URL has none (SHOAL_BROKER_PASSWORD), else null. */
  readonly password: string | null;
}

export interface RedisBrokerOptions {
  /** Subscribe (a connection worker); false for a publish-only broker (the primary). */
  readonly subscriber: boolean;
  /** Outgoing bytes past which publishers are held. */
  readonly highWaterBytes: number;
  /** Outgoing bytes at which a publication is refused with OVERLOADED. */
  readonly maxBytes: number;
  /** Interval of the PING that detects a stalled connection. */
  readonly pingIntervalMs: number;
  /** A connection with a PING unanswered for this long is dropped and made again. */
  readonly stallTimeoutMs: number;
  /** Longest wait for Redis to confirm a subscription before `interest()` resolves anyway. */
  readonly confirmTimeoutMs: number;
}

export const DEFAULT_REDIS_BROKER_OPTIONS: RedisBrokerOptions = {
  subscriber: true,
  highWaterBytes: 1024 * 1024,
  maxBytes: 16 * 1024 * 1024,
  pingIntervalMs: 1000,
  stallTimeoutMs: 3000,
  confirmTimeoutMs: 2000,
};

/** Format version of the event messages (first byte); publications have their own (broker-wire.ts). */
const VERSION = 1;
/** `#forms` entry of an event message (encoded already). */
const EVENT = -1;
/**
 * Largest batch of publications in one PUBLISH (bytes of frames): a longer
 * run on one topic goes in several, so one message never holds a receiving
 * worker's turn for long (a frame larger than this goes alone).
 */
const MAX_BATCH_BYTES = 64 * 1024;
const PREFIX = 'shoal:';
const TOPIC_PREFIX = `${PREFIX}p:`;
/** Channels per SUBSCRIBE/UNSUBSCRIBE command when resubscribing many topics. */
const CHANNELS_PER_COMMAND = 1000;
/** Distinct failure causes logged per outage; past it, the outage logs nothing more. */
const MAX_LOGGED_CAUSES = 8;

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * ioredis's client class, loaded when the first broker is made: a server
 * without `--broker` never loads ioredis (an idle server with one worker:
 * 113 MiB of memory at rest with it loaded at import, 98 MiB without).
 * ioredis is CommonJS, so require loads it synchronously.
 */
function loadRedisClient(): typeof Redis {
  return (createRequire(import.meta.url)('ioredis') as { Redis: typeof Redis }).Redis;
}

/** The Redis channel of a topic. */
export function topicChannel(topic: string): string {
  return TOPIC_PREFIX + topic;
}

/** The Redis channel of the events (sendTo) for one worker of one node. */
export function eventChannel(nodeId: string, workerId: number): string {
  return `${PREFIX}to:${nodeId}.${workerId}`;
}

/** Exponential backoff with jitter, 50 ms doubling up to 2 s; never gives up. */
function retryDelay(attempt: number): number {
  const base = Math.min(2000, 50 * 2 ** Math.min(attempt, 6));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * What made a connection fail, for logging once per cause: the error's code
 * (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, …) or, for an error reply of
 * Redis, its first word (WRONGPASS, NOAUTH, …).
 */
function failureCause(error: Error): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code !== '') return code;
  const word = /^[A-Z][A-Z_]*\b/.exec(error.message);
  return word === null ? error.name : word[0];
}

/** One ioredis connection with its stall watch. */
class WatchedConnection {
  readonly redis: Redis;
  ready: boolean;
  /** performance.now() when the outstanding PING was sent, or 0. */
  pingSentAt: number;

  constructor(redis: Redis) {
    this.redis = redis;
    this.ready = false;
    this.pingSentAt = 0;
  }
}

export class RedisBroker implements Broker {
  readonly nodeId: string;
  readonly stats: BrokerStats;
  #options: RedisBrokerOptions;
  #workerId: number;
  #nodeTag: Buffer;
  #pub: WatchedConnection;
  #sub: WatchedConnection | null;
  #receiver: BrokerReceiver | null;
  #state: BrokerState;
  /** performance.now() when the current gap started (0 when none). */
  #gapStartedAt: number;
  #everReady: boolean;
  /** Topics this worker has subscribers of (what Redis should have). */
  #wanted: Set<string>;
  /** Topics subscribed on the current subscriber connection (sent, maybe not confirmed yet). */
  #subscribed: Set<string>;
  /** Settled when the next subscription flush is confirmed (or times out). */
  #nextConfirm: PromiseWithResolvers<void> | null;
  /** This turn's messages, in order: channel, form (EVENT: an encoded event message), payload (the frame of a publication). */
  #channels: string[];
  #forms: number[];
  #payloads: Uint8Array[];
  #queuedBytes: number;
  #flushScheduled: boolean;
  #drained: PromiseWithResolvers<void> | null;
  #pingTimer: ReturnType<typeof setInterval> | null;
  /** Failure causes logged in the current outage (reset when ready): each is reported once, not at every retry. */
  #loggedCauses: Set<string>;
  #closed: boolean;
  /** The topic of the publication message being decoded (#message -> #deliverReceived). */
  #receivingTopic: string;

  constructor(config: BrokerConfig, workerId: number, options: Partial<RedisBrokerOptions> = {}) {
    this.nodeId = config.nodeId;
    this.stats = emptyBrokerStats();
    this.#options = { ...DEFAULT_REDIS_BROKER_OPTIONS, ...options };
    this.#workerId = workerId;
    this.#nodeTag = Buffer.from(config.nodeId, 'latin1');
    this.#receiver = null;
    this.#state = 'connecting';
    this.#gapStartedAt = 0;
    this.#everReady = false;
    this.#wanted = new Set();
    this.#subscribed = new Set();
    this.#nextConfirm = null;
    this.#channels = [];
    this.#forms = [];
    this.#payloads = [];
    this.#queuedBytes = 0;
    this.#flushScheduled = false;
    this.#drained = null;
    this.#loggedCauses = new Set();
    this.#closed = false;
    this.#receivingTopic = '';
    const redisOptions: RedisOptions = {
      lazyConnect: true,
      // Commands are refused at once while disconnected (nothing queues without bound) and never resent (at most once).
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 5000,
      retryStrategy: retryDelay,
      connectionName: `shoal-${config.nodeId}-${workerId}`,
      ...(config.password === null ? {} : { password: config.password }),
    };
    const Client = loadRedisClient();
    this.#pub = this.#connect(new Client(config.url, redisOptions), 'publish');
    this.#sub = this.#options.subscriber ? this.#connect(new Client(config.url, redisOptions), 'subscribe') : null;
    this.#sub?.redis.on('messageBuffer', (channel: Buffer, message: Buffer) => this.#message(channel, message));
    this.#pingTimer = setInterval(() => this.#watch(), this.#options.pingIntervalMs);
    this.#pingTimer.unref();
  }

  get state(): BrokerState {
    return this.#state;
  }

  get congested(): boolean {
    return this.stats.outgoingBytes > this.#options.highWaterBytes;
  }

  listen(receiver: BrokerReceiver): void {
    this.#receiver = receiver;
  }

  interest(topic: string, on: boolean): Promise<void> {
    if (on) this.#wanted.add(topic);
    else this.#wanted.delete(topic);
    if (this.#sub === null || !this.#sub.ready) return RESOLVED;
    this.#scheduleFlush();
    if (!on) return RESOLVED;
    this.#nextConfirm ??= Promise.withResolvers<void>();
    return this.#nextConfirm.promise;
  }

  admit(topic: string): void {
    if (this.#state !== 'ready') {
      this.stats.unavailable++;
      throw new AppError(ErrorCode.BROKER_UNAVAILABLE, `publication on ${JSON.stringify(topic)} refused: the broker is ${this.#state}`);
    }
    if (this.stats.outgoingBytes >= this.#options.maxBytes) {
      this.stats.overloaded++;
      throw new AppError(ErrorCode.OVERLOADED, `publication on ${JSON.stringify(topic)} refused: ${this.stats.outgoingBytes} bytes not yet acknowledged by the broker`);
    }
  }

  publish(topic: string, form: PublicationForm, frame: Uint8Array): void {
    this.stats.published++;
    // Encoded at the flush, in one message with the turn's next publications on this topic (counted here as a message
    // of its own). The frame may be a view into the codec's output buffer, whose bytes are never rewritten (as
    // publication-batcher.ts relies on too).
    this.#enqueue(topicChannel(topic), form, frame, messageLength(this.#nodeTag, 1, frame.length));
  }

  sendTo(nodeId: string, workerId: number, address: string, payload: Uint8Array): boolean {
    if (this.#state !== 'ready' || this.stats.outgoingBytes >= this.#options.maxBytes) {
      this.stats.unavailable++;
      return false;
    }
    const addressLength = Buffer.byteLength(address);
    const message = Buffer.allocUnsafe(3 + addressLength + payload.length);
    message[0] = VERSION;
    message.writeUInt16BE(addressLength, 1);
    message.write(address, 3, 'latin1');
    message.set(payload, 3 + addressLength);
    this.stats.sentTo++;
    this.#enqueue(eventChannel(nodeId, workerId), EVENT, message, message.length);
    return true;
  }

  whenDrained(): Promise<void> {
    if (!this.congested) return RESOLVED;
    this.#drained ??= Promise.withResolvers<void>();
    return this.#drained.promise;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#flush();
    this.#state = 'closed';
    if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
    this.#pingTimer = null;
    this.#nextConfirm?.resolve();
    this.#nextConfirm = null;
    this.#drained?.resolve();
    this.#drained = null;
    const quit = async (connection: WatchedConnection | null): Promise<void> => {
      if (connection === null) return;
      try {
        if (connection.ready) await connection.redis.quit();
      } catch {
        // Already gone: nothing to close politely.
      }
      connection.redis.disconnect();
    };
    await Promise.all([quit(this.#pub), quit(this.#sub)]);
  }

  #connect(redis: Redis, role: string): WatchedConnection {
    const connection = new WatchedConnection(redis);
    redis.on('ready', () => {
      connection.ready = true;
      connection.pingSentAt = 0;
      if (connection === this.#sub) this.#resubscribe();
      this.#updateState();
    });
    redis.on('close', () => {
      connection.ready = false;
      connection.pingSentAt = 0;
      if (connection === this.#sub) {
        this.#subscribed.clear();
        // interest() resolves at once while not connected; so does what was waiting for this connection.
        this.#nextConfirm?.resolve();
        this.#nextConfirm = null;
      }
      this.#updateState();
    });
    redis.on('error', (error: Error) => {
      const cause = failureCause(error);
      if (this.#closed || this.#loggedCauses.has(cause) || this.#loggedCauses.size >= MAX_LOGGED_CAUSES) return;
      this.#loggedCauses.add(cause);
      log().warn({ role, cause, err: error }, 'broker connection failed; retrying with backoff');
    });
    redis.connect().catch(() => {
      // Reported by the 'error' event; ioredis keeps retrying (retryStrategy).
    });
    return connection;
  }

  #updateState(): void {
    if (this.#closed) return;
    const ready = this.#pub.ready && (this.#sub === null || this.#sub.ready);
    const now = performance.now();
    if (ready && this.#state !== 'ready') {
      if (this.#gapStartedAt !== 0) this.stats.gapMs += Math.round(now - this.#gapStartedAt);
      this.#gapStartedAt = 0;
      this.#everReady = true;
      this.#loggedCauses.clear();
      this.#state = 'ready';
      if (this.stats.gaps > 0) log().info({ gaps: this.stats.gaps }, 'broker connections are back');
    } else if (!ready && this.#state === 'ready') {
      this.stats.gaps++;
      this.#gapStartedAt = now;
      this.#state = 'reconnecting';
      // Publishers held for the broker are released: what was in flight is lost or acknowledged.
      this.#releaseDrained();
    } else if (!ready && this.#everReady) {
      this.#state = 'reconnecting';
    }
  }

  /** A fresh subscriber connection: subscribe to this worker's event channel and to every topic it has subscribers of. */
  #resubscribe(): void {
    const sub = this.#sub as WatchedConnection;
    this.#subscribed.clear();
    const channels = [eventChannel(this.nodeId, this.#workerId)];
    if (this.#everReady) this.stats.resubscribed += this.#wanted.size;
    sub.redis.subscribe(...channels).catch((error: unknown) => this.#subscriptionFailed(error));
    this.#scheduleFlush();
  }

  #enqueue(channel: string, form: number, payload: Uint8Array, bytes: number): void {
    this.#channels.push(channel);
    this.#forms.push(form);
    this.#payloads.push(payload);
    this.#queuedBytes += bytes;
    this.stats.outgoingBytes += bytes;
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(this.#flush);
  }

  /** Bound once: sends this turn's subscription changes and messages. */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    this.#flushSubscriptions();
    const channels = this.#channels;
    if (channels.length === 0) return;
    const forms = this.#forms;
    const payloads = this.#payloads;
    const bytes = this.#queuedBytes;
    this.#channels = [];
    this.#forms = [];
    this.#payloads = [];
    this.#queuedBytes = 0;
    // Commands in order: channel, message, and how many publications or events it carries (counted in `lost` if it fails).
    const commands: (string | Buffer)[] = [];
    const counts: number[] = [];
    const tag = this.#nodeTag;
    for (let i = 0; i < channels.length; ) {
      const channel = channels[i] as string;
      const payload = payloads[i] as Uint8Array;
      if (forms[i] === EVENT) {
        commands.push(channel, payload as Buffer);
        counts.push(1);
        i++;
        continue;
      }
      // The run of publications on this channel that follows (an event's channel is never a topic's), up to MAX_BATCH_BYTES of frames.
      let end = i + 1;
      let frameBytes = payload.length;
      while (end < channels.length && channels[end] === channel && frameBytes + (payloads[end] as Uint8Array).length <= MAX_BATCH_BYTES) {
        frameBytes += (payloads[end] as Uint8Array).length;
        end++;
      }
      commands.push(channel, encodePublications(tag, forms, payloads, i, end, frameBytes));
      counts.push(end - i);
      i = end;
    }
    if (counts.length === 1) {
      // One message this turn: a plain PUBLISH on the same connection (so in the same order), without a
      // pipeline's own object, promise and result array (bench/micro/broker-publish.ts: 28-36 -> 17-23 us).
      this.#pub.redis.publish(commands[0] as string, commands[1] as Buffer).then(
        () => this.#settled(bytes, 0),
        () => this.#settled(bytes, counts[0] as number),
      );
      return;
    }
    const pipeline = this.#pub.redis.pipeline();
    for (let i = 0; i < commands.length; i += 2) pipeline.publish(commands[i] as string, commands[i + 1] as Buffer);
    pipeline.exec().then(
      (results) => {
        let failed = 0;
        (results ?? []).forEach(([error], i) => {
          if (error !== null) failed += counts[i] as number;
        });
        this.#settled(bytes, failed);
      },
      () => this.#settled(bytes, channels.length),
    );
  };

  #flushSubscriptions(): void {
    const sub = this.#sub;
    if (sub === null || !sub.ready) return;
    const add: string[] = [];
    const remove: string[] = [];
    for (const topic of this.#wanted) if (!this.#subscribed.has(topic)) add.push(topic);
    for (const topic of this.#subscribed) if (!this.#wanted.has(topic)) remove.push(topic);
    for (const topic of add) this.#subscribed.add(topic);
    for (const topic of remove) this.#subscribed.delete(topic);
    const confirm = this.#nextConfirm;
    this.#nextConfirm = null;
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < remove.length; i += CHANNELS_PER_COMMAND) {
      sent.push(sub.redis.unsubscribe(...remove.slice(i, i + CHANNELS_PER_COMMAND).map(topicChannel)));
    }
    for (let i = 0; i < add.length; i += CHANNELS_PER_COMMAND) {
      sent.push(sub.redis.subscribe(...add.slice(i, i + CHANNELS_PER_COMMAND).map(topicChannel)));
    }
    if (confirm === null) {
      for (const promise of sent) promise.catch((error: unknown) => this.#subscriptionFailed(error));
      return;
    }
    // A stalled Redis must not hold `$subscribe` replies for ever: resolve at the timeout anyway.
    const timer = setTimeout(confirm.resolve, this.#options.confirmTimeoutMs);
    timer.unref();
    Promise.all(sent).then(
      () => {
        clearTimeout(timer);
        confirm.resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        this.#subscriptionFailed(error);
        confirm.resolve();
      },
    );
  }

  /** A SUBSCRIBE lost with its connection: the next connection subscribes everything again. */
  #subscriptionFailed(error: unknown): void {
    if (this.#closed) return;
    if (this.#sub?.ready === true) log().warn({ err: error }, 'broker subscription failed');
  }

  #settled(bytes: number, failed: number): void {
    this.stats.outgoingBytes -= bytes;
    this.stats.lost += failed;
    if (this.#drained !== null && this.stats.outgoingBytes <= this.#options.highWaterBytes / 2) this.#releaseDrained();
  }

  #releaseDrained(): void {
    const drained = this.#drained;
    this.#drained = null;
    drained?.resolve();
  }

  /** A message on a subscribed channel: a publication of another node, or an event for this worker. */
  #message(channel: Buffer, message: Buffer): void {
    const receiver = this.#receiver;
    if (receiver === null) return;
    // channel: "shoal:p:<topic>" or "shoal:to:<node>.<worker>"
    if (channel[PREFIX.length] === 0x70 /* p */) {
      this.#receivingTopic = channel.toString('utf8', TOPIC_PREFIX.length);
      // Copies (broker-wire.ts): the frames are written to sockets later, and the message is a view into the client's read buffer.
      if (decodePublications(message, this.#nodeTag, this.#deliverReceived) === Decoded.MALFORMED) this.#malformed(channel, message);
      return;
    }
    if (message.length < 3 || message[0] !== VERSION) {
      this.#malformed(channel, message);
      return;
    }
    const addressLength = message.readUInt16BE(1);
    this.stats.receivedTo++;
    receiver.event(message.toString('latin1', 3, 3 + addressLength), Uint8Array.prototype.slice.call(message, 3 + addressLength));
  }

  /** Bound once: one publication of the message being read (its topic in `#receivingTopic`). */
  readonly #deliverReceived = (form: PublicationForm, frame: Uint8Array): void => {
    this.stats.received++;
    (this.#receiver as BrokerReceiver).publication(this.#receivingTopic, form, frame);
  };

  /**
   * A message this release cannot read (another format version, a truncated
   * batch): what it carried, past any publications already delivered, is
   * dropped, and said in the log (rate-limited per cause).
   */
  #malformed(channel: Buffer, message: Buffer): void {
    this.stats.undecodable++;
    logPeerCaused(log(), 'warn', 'broker_message_undecodable', { channel: channel.toString('utf8'), version: message[0] ?? null, bytes: message.length }, 'a broker message this node cannot decode was dropped (a node of another version? see docs/deploy.md, "Upgrading a cluster")');
  }

  /** Every ping interval: a connection with a PING unanswered for `stallTimeoutMs` is dropped and made again. */
  #watch(): void {
    for (const connection of [this.#pub, this.#sub]) {
      if (connection === null || !connection.ready) continue;
      const now = performance.now();
      if (connection.pingSentAt !== 0) {
        if (now - connection.pingSentAt < this.#options.stallTimeoutMs) continue;
        log().warn({ silentMs: Math.round(now - connection.pingSentAt) }, 'broker connection answered no PING in time; reconnecting');
        connection.pingSentAt = 0;
        connection.redis.disconnect(true);
        continue;
      }
      connection.pingSentAt = now;
      connection.redis.ping().then(
        () => {
          connection.pingSentAt = 0;
        },
        () => {
          // The connection was lost; 'close' handles it.
        },
      );
    }
  }
}
