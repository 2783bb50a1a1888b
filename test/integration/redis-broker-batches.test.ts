/**
 * The Redis broker's publication messages (app/broker-wire.ts) on a real
 * redis-server: the publications of one turn on one topic leave in one
 * PUBLISH and arrive in order; only consecutive ones are merged (the order
 * across topics holds); a long run is split; a lone publication is a batch
 * of one (the one format); a node drops its own messages; what cannot be
 * decoded (the unreleased version-1 single format included) is dropped and
 * counted without stopping what follows. Two brokers (nodes "na" and "nb") and two plain
 * ioredis clients: an observer of the channels and an "old node" that
 * publishes hand-made messages.
 */
import { Buffer } from 'node:buffer';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisBroker, topicChannel } from '../../src/app/redis-broker.ts';
import { PublicationForm } from '../../src/app/pubsub/deliver-publication.ts';
import { RedisServer } from '../helpers/redis-server.ts';
import { until } from '../helpers/until.ts';

interface Received {
  topic: string;
  form: number;
  text: string;
}

let redis: RedisServer;
let publisher: RedisBroker;
let receiver: RedisBroker;
let observer: Redis;
let oldNode: Redis;
const received: Received[] = [];
/** Messages Redis carried on the topic channels: channel and the message's first byte (its version). */
const observed: { channel: string; version: number }[] = [];

/** A version-1 message as development builds before batches sent it (never released; no longer read). */
function versionOne(tag: string, form: number, text: string): Buffer {
  return Buffer.concat([Buffer.from([1, form, tag.length]), Buffer.from(tag, 'latin1'), Buffer.from(text)]);
}

/** The header of a message (version 2) from the node `tag`. */
function header(tag: string): Buffer {
  return Buffer.concat([Buffer.from([2, tag.length]), Buffer.from(tag, 'latin1')]);
}

/** A message entry. */
function entry(form: number, text: string, declaredLength = Buffer.byteLength(text)): Buffer {
  const header = Buffer.alloc(5);
  header[0] = form;
  header.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([header, Buffer.from(text)]);
}

async function settled(broker: RedisBroker): Promise<void> {
  await until(async () => broker.stats.outgoingBytes === 0, 'acknowledged by Redis');
}

beforeAll(async () => {
  redis = await RedisServer.start();
  const config = { url: redis.url, password: null };
  publisher = new RedisBroker({ ...config, nodeId: 'na' }, 0, { subscriber: false });
  receiver = new RedisBroker({ ...config, nodeId: 'nb' }, 0);
  receiver.listen({
    publication: (topic, form, frame) => received.push({ topic, form, text: Buffer.from(frame).toString() }),
    event: () => {},
  });
  [observer, oldNode] = await Promise.all([redis.connectClient(), redis.connectClient()]);
  observer.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer, message: Buffer) => observed.push({ channel: channel.toString(), version: message[0] as number }));
  await observer.psubscribe('shoal:p:*');
  await until(async () => publisher.state === 'ready' && receiver.state === 'ready', 'brokers ready');
  await Promise.all([receiver.interest('t1', true), receiver.interest('t2', true)]);
}, 30_000);

afterAll(async () => {
  await publisher?.close();
  await receiver?.close();
  observer?.disconnect();
  oldNode?.disconnect();
  await redis?.stop();
});

beforeEach(() => {
  received.length = 0;
  observed.length = 0;
});

describe('publication batches across nodes', () => {
  it('send the publications of one turn on one topic in one PUBLISH, delivered one by one in order with their forms', async () => {
    for (let i = 0; i < 10; i++) publisher.publish('t1', i % 3 === 0 ? PublicationForm.RAW : PublicationForm.ENVELOPE, Buffer.from(`p${i}`));
    await until(async () => received.length === 10, '10 delivered');
    expect(received).toEqual(Array.from({ length: 10 }, (_, i) => ({ topic: 't1', form: i % 3 === 0 ? PublicationForm.RAW : PublicationForm.ENVELOPE, text: `p${i}` })));
    await until(async () => observed.length >= 1, 'observed');
    expect(observed).toEqual([{ channel: topicChannel('t1'), version: 2 }]);
    expect(receiver.stats.received).toBeGreaterThanOrEqual(10);
  });

  it('merge only consecutive publications on one topic, so the order across topics holds', async () => {
    const plan: [string, string][] = [
      ['t1', 'a'],
      ['t1', 'b'],
      ['t2', 'c'],
      ['t1', 'd'],
      ['t1', 'e'],
      ['t2', 'f'],
    ];
    for (const [topic, text] of plan) publisher.publish(topic, PublicationForm.RAW, Buffer.from(text));
    await until(async () => received.length === 6, '6 delivered');
    expect(received.map((r) => [r.topic, r.text])).toEqual(plan);
    await until(async () => observed.length >= 4, '4 messages observed');
    expect(observed).toEqual([
      { channel: topicChannel('t1'), version: 2 },
      { channel: topicChannel('t2'), version: 2 },
      { channel: topicChannel('t1'), version: 2 },
      { channel: topicChannel('t2'), version: 2 },
    ]);
  });

  it('split a run of more than 64 KiB of frames into several messages, still in order', async () => {
    const texts = ['A', 'B', 'C', 'D', 'E'].map((letter) => letter.repeat(30 * 1024));
    for (const text of texts) publisher.publish('t1', PublicationForm.RAW, Buffer.from(text));
    await until(async () => received.length === 5, '5 delivered');
    expect(received.map((r) => r.text)).toEqual(texts);
    await until(async () => observed.length >= 3, '3 messages observed');
    // 30 + 30 KiB fit in one batch, a third would not: two batches of two and a batch of one.
    expect(observed.map((o) => o.version)).toEqual([2, 2, 2]);
  });

  it('send a lone publication as a batch of one, read batches of other nodes and drop their own, one or several', async () => {
    await oldNode.publish(topicChannel('t1'), Buffer.concat([header('old'), entry(PublicationForm.ENVELOPE, 'hand-1')]));
    await until(async () => received.length === 1, 'hand-1');
    publisher.publish('t1', PublicationForm.RAW, Buffer.from('new-1'));
    publisher.publish('t1', PublicationForm.RAW, Buffer.from('new-2'));
    await until(async () => received.length === 3, 'new batch');
    publisher.publish('t1', PublicationForm.ENVELOPE, Buffer.from('new-3'));
    await until(async () => received.length === 4, 'new-3');
    // The receiving node's own messages come back from Redis before the marker (one subscriber connection, in order).
    receiver.publish('t1', PublicationForm.RAW, Buffer.from('own-1'));
    await settled(receiver);
    receiver.publish('t1', PublicationForm.RAW, Buffer.from('own-2'));
    receiver.publish('t1', PublicationForm.RAW, Buffer.from('own-3'));
    await settled(receiver);
    publisher.publish('t1', PublicationForm.RAW, Buffer.from('marker'));
    await until(async () => received.some((r) => r.text === 'marker'), 'marker');
    expect(received.map((r) => [r.form, r.text])).toEqual([
      [PublicationForm.ENVELOPE, 'hand-1'],
      [PublicationForm.RAW, 'new-1'],
      [PublicationForm.RAW, 'new-2'],
      [PublicationForm.ENVELOPE, 'new-3'],
      [PublicationForm.RAW, 'marker'],
    ]);
    // hand-1, the new batch, new-3 alone, own-1 alone, the own batch, the marker: all version 2.
    await until(async () => observed.length >= 6, '6 messages observed');
    expect(observed.map((o) => o.version)).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('drop what it cannot decode, count it, deliver what came before the damage and everything after', async () => {
    const undecodable = receiver.stats.undecodable;
    const channel = topicChannel('t1');
    const tag = header('old');
    await oldNode.publish(channel, Buffer.from([9, 0, 3, ...Buffer.from('oldxyz')])); // an unknown version
    await oldNode.publish(channel, versionOne('old', PublicationForm.RAW, 'single')); // the unreleased single format
    await oldNode.publish(channel, Buffer.concat([tag, entry(PublicationForm.RAW, 'kept'), entry(PublicationForm.RAW, 'cut', 100)])); // truncated
    await oldNode.publish(channel, Buffer.from([2, 40, 1])); // a tag longer than the message
    await oldNode.publish(channel, Buffer.concat([tag, entry(PublicationForm.RAW, 'x').subarray(0, 3)])); // an entry header cut short
    await oldNode.publish(channel, Buffer.concat([tag, entry(PublicationForm.RAW, 'after')]));
    await until(async () => received.some((r) => r.text === 'after'), 'after');
    expect(received.map((r) => r.text)).toEqual(['kept', 'after']);
    expect(receiver.stats.undecodable - undecodable).toBe(5);
    expect(receiver.state).toBe('ready');
  });
});
