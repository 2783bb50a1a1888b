/**
 * Three `shoal serve` processes (2 workers each) on one real redis-server
 * (--broker), clients on each: raw and subprotocol topics across nodes,
 * sendTo across nodes, interest that follows 1,000 topics with subscribers
 * coming and going (no Redis subscription left behind), and the broker's
 * faults: Redis absent at start, stopped (SIGSTOP/SIGCONT) and killed and
 * restarted under load.
 */
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '../helpers/redis-server.ts';
import { startShoal, type ShoalProcess } from '../helpers/shoal-process.ts';
import { until } from '../helpers/until.ts';
import { RawClient } from './raw-client.ts';
import { EnvelopeClient, MSGPACK_PROTOCOL } from './shoal-helpers.ts';

const APP = fileURLToPath(new URL('./apps/raw-pubsub-app.ts', import.meta.url));

let redis: RedisServer;
let admin: Redis;
let nodes: ShoalProcess[] = [];
const clients: { close(): void }[] = [];
let nextId = 1;

beforeAll(async () => {
  redis = await RedisServer.start();
  admin = await redis.connectClient();
  nodes = await Promise.all([0, 1, 2].map(() => startShoal(['--app', APP, '--workers', '2', '--broker', redis.url])));
  await Promise.all(nodes.map((node) => until(async () => (await healthz(node)).includes('broker: ready'), 'broker ready')));
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(nodes.map((node) => node.stop()));
  admin?.disconnect();
  await redis?.stop();
});

async function healthz(node: ShoalProcess): Promise<string> {
  const response = await fetch(`${node.admin}/healthz`);
  return response.text();
}

async function brokerStats(node: ShoalProcess): Promise<{ state: string; gaps: number; lost: number }> {
  const response = await fetch(`${node.admin}/stats`);
  return ((await response.json()) as { broker: { state: string; gaps: number; lost: number } }).broker;
}

async function raw(node: ShoalProcess): Promise<RawClient> {
  const client = await RawClient.open(`ws://127.0.0.1:${node.port}/`);
  clients.push(client);
  return client;
}

async function envelope(node: ShoalProcess): Promise<{ client: EnvelopeClient; address: string }> {
  const client = await EnvelopeClient.open(`ws://127.0.0.1:${node.port}/`, MSGPACK_PROTOCOL);
  clients.push(client);
  const welcome = (await client.next((m) => Array.isArray(m) && m[1] === 'welcome')) as [0, string, { address: string }];
  return { client, address: welcome[2].address };
}

/** Topic channels Redis has subscribers for. */
async function topicChannels(): Promise<string[]> {
  return (await admin.pubsub('CHANNELS', 'shoal:p:*')) as string[];
}

describe('three nodes on one Redis', () => {
  it('give addresses that carry the node', async () => {
    const addresses = await Promise.all(nodes.map(async (node) => (await raw(node)).address));
    const nodeIds = addresses.map((address) => address.split('.')[0]);
    expect(new Set(nodeIds).size).toBe(3);
    for (const address of addresses) expect(address).toMatch(/^[0-9a-f]{12}\.\d+\.\d+$/);
  });

  it('deliver raw and subprotocol publications to every subscriber on every node exactly once, in order per publisher', async () => {
    const rawSubs = await Promise.all(nodes.flatMap((node) => [raw(node), raw(node)]));
    const msgpackSubs = await Promise.all(nodes.map((node) => envelope(node)));
    for (const client of rawSubs) expect(await client.subscribe('cluster')).toBe(true);
    for (const { client } of msgpackSubs) expect(await client.call(nextId++, '$subscribe', 'cluster')).toEqual([2, nextId - 1, null]);
    // Publishers on two nodes at once; `$subscribe` replied, so every publication from now on counts.
    const publishers = [await raw(nodes[0]), await raw(nodes[1])];
    const COUNT = 200;
    await Promise.all(publishers.map((p, index) => p.command({ pubMany: 'cluster', from: `p${index}`, count: COUNT })));
    await Promise.all(publishers.map((p, index) => p.command({ pub: 'cluster', text: `end p${index}` })));

    for (const client of rawSubs) {
      const seen = new Map<string, number[]>();
      let ends = 0;
      while (ends < publishers.length) {
        const text = await client.nextText((t) => t.startsWith('{"from"') || t.startsWith('end '));
        if (text.startsWith('end ')) {
          ends++;
          continue;
        }
        const { from, seq } = JSON.parse(text) as { from: string; seq: number };
        seen.set(from, [...(seen.get(from) ?? []), seq]);
      }
      expect([...seen.keys()].sort()).toEqual(['p0', 'p1']);
      for (const seqs of seen.values()) expect(seqs).toEqual([...Array(COUNT).keys()]);
    }
    for (const { client } of msgpackSubs) {
      const counts = new Map<string, number>();
      let ends = 0;
      while (ends < publishers.length) {
        const [, , data] = (await client.next((m) => Array.isArray(m) && m[0] === 4)) as [4, string, string];
        if (data.startsWith('end ')) {
          ends++;
          continue;
        }
        const { from, seq } = JSON.parse(data) as { from: string; seq: number };
        expect(seq).toBe(counts.get(from) ?? 0);
        counts.set(from, seq + 1);
      }
      expect(Object.fromEntries(counts)).toEqual({ p0: COUNT, p1: COUNT });
    }
    // Nothing came twice: after the end markers, nothing else of the topic is waiting.
    await publishers[0].command({ pub: 'cluster', text: 'last' });
    for (const client of rawSubs) {
      expect(await client.nextText((t) => t === 'last' || t.startsWith('{"from"') || t.startsWith('end '))).toBe('last');
    }
  });

  it('reach a connection on another node with sendTo, raw or subprotocol', async () => {
    const sender = await raw(nodes[0]);
    const rawTarget = await raw(nodes[2]);
    const msgpackTarget = await envelope(nodes[1]);
    expect(await sender.command({ to: rawTarget.address, event: 'x', value: { hello: 'raw' } })).toBe(true);
    expect(await rawTarget.nextText((t) => t.startsWith('{"hello"'))).toBe('{"hello":"raw"}');
    expect(await sender.command({ to: msgpackTarget.address, event: 'note', value: 42 })).toBe(true);
    expect(await msgpackTarget.client.next((m) => Array.isArray(m) && m[1] === 'note')).toEqual([0, 'note', 42]);
    // And back, from a subprotocol handler to a raw connection on a third node.
    expect(await msgpackTarget.client.call(nextId++, 'sendTo', { address: sender.address, event: 'e', data: 'back' })).toEqual([2, nextId - 1, true]);
    expect(await sender.nextText((t) => t === 'back')).toBe('back');
  });

  it('follow interest over 1,000 topics with subscribers coming and going, leaving no Redis subscription behind', async () => {
    const TOPICS = Array.from({ length: 1000 }, (_, i) => `many:${i}`);
    const first = await raw(nodes[0]);
    const second = await raw(nodes[1]);
    await Promise.all(TOPICS.map((topic) => first.subscribe(topic)));
    await Promise.all(TOPICS.filter((_, i) => i % 2 === 0).map((topic) => second.subscribe(topic)));
    const subscribed = (await topicChannels()).filter((channel) => channel.startsWith('shoal:p:many:'));
    expect(subscribed.length).toBe(1000);
    // A publication from the third node reaches both through their interest.
    const publisher = await raw(nodes[2]);
    await publisher.command({ pub: 'many:998', text: 'to both' });
    expect(await first.nextText((t) => t === 'to both')).toBe('to both');
    expect(await second.nextText((t) => t === 'to both')).toBe('to both');
    // Half of the first one's topics go; those only it held leave Redis, the others stay for the second.
    await Promise.all(TOPICS.slice(0, 500).map((topic) => first.command({ unsub: topic })));
    await until(async () => {
      const left = (await topicChannels()).filter((channel) => channel.startsWith('shoal:p:many:'));
      return left.length === 750;
    }, 'the odd topics under 500 unsubscribed');
    // Subscribers come and go: new clients take some topics and close.
    for (let round = 0; round < 5; round++) {
      const visitor = await raw(nodes[round % 3]);
      await Promise.all(TOPICS.slice(round * 100, round * 100 + 100).map((topic) => visitor.subscribe(topic)));
      visitor.close();
    }
    first.close();
    second.close();
    await until(async () => (await topicChannels()).filter((channel) => channel.startsWith('shoal:p:many:')).length === 0, 'no topic channel left');
  }, 120_000);
});

describe('broker faults', () => {
  it('starts without Redis, reports it, refuses cross-node publications with BROKER_UNAVAILABLE, and joins when Redis comes', async () => {
    const port = await freePort();
    const node = await startShoal(['--app', APP, '--workers', '1', '--broker', `redis://127.0.0.1:${port}`]);
    let late: RedisServer | null = null;
    try {
      expect(await healthz(node)).toMatch(/^ok\nbroker: (connecting|reconnecting)\n$/);
      const client = await raw(node);
      expect(await client.subscribe('lonely')).toBe(true);
      expect(await client.command({ pub: 'lonely', text: 'x' })).toEqual({ error: 'BROKER_UNAVAILABLE' });
      late = await RedisServer.start(port);
      await until(async () => (await healthz(node)).includes('broker: ready'), 'broker ready');
      // The subscription made while Redis was away is registered now.
      await until(async () => {
        const probe = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true });
        probe.on('error', () => {});
        await probe.connect();
        const channels = (await probe.pubsub('CHANNELS', 'shoal:p:lonely')) as string[];
        probe.disconnect();
        return channels.length === 1;
      }, 'the late subscription');
      expect(await client.command({ pub: 'lonely', text: 'now' })).toBe(1);
      expect(await client.nextText((t) => t === 'now')).toBe('now');
    } finally {
      await node.stop();
      await late?.stop();
    }
  }, 60_000);

  /** Publishes `count` numbered texts from `publisher` in batches while `duringLoad` runs; returns the outcomes of the batches. */
  async function underLoad(publisher: RawClient, topic: string, duringLoad: (outcomes: readonly unknown[]) => Promise<void>): Promise<unknown[]> {
    let stop = false;
    const outcomes: unknown[] = [];
    const load = (async () => {
      // Bounded: at most 20,000 batches about a millisecond apart (so the load lasts as long as the fault
      // it runs under, on a fast machine too), and it stops when told.
      for (let batch = 0; batch < 20_000 && !stop; batch++) {
        outcomes.push(await publisher.command({ pubMany: topic, from: 'load', count: 20, start: batch * 20 }));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    try {
      await duringLoad(outcomes);
    } finally {
      stop = true;
      await load;
    }
    return outcomes;
  }

  /** A publish command's outcome that says the broker refused it (rather than queueing without bound or hanging). */
  function isRefusal(outcome: unknown): boolean {
    return typeof outcome === 'object' && outcome !== null && ['BROKER_UNAVAILABLE', 'OVERLOADED'].includes((outcome as { error: string }).error);
  }

  /** True when a subscriber's publications from the load only ever go up: at most once and in order (gaps allowed). */
  function inOrder(client: RawClient): boolean {
    let last = -1;
    let count = 0;
    for (const message of client.inbox.splice(0)) {
      const text = message.data.toString();
      if (!text.startsWith('{"from":"load"')) continue;
      const { seq } = JSON.parse(text) as { seq: number };
      if (seq <= last) return false;
      last = seq;
      count++;
    }
    return count > 0;
  }

  it('survives a stalled Redis (SIGSTOP/SIGCONT) under load: bounded, reconnects, resubscribes, counts the gap', async () => {
    const subscriber = await raw(nodes[1]);
    await subscriber.subscribe('stall');
    const publisher = await raw(nodes[0]);
    const gapsBefore = (await brokerStats(nodes[0])).gaps;
    const outcomes = await underLoad(publisher, 'stall', async (sofar) => {
      await subscriber.nextText((t) => t.startsWith('{"from":"load"'));
      redis.signal('SIGSTOP');
      try {
        await until(async () => (await healthz(nodes[0])).includes('broker: reconnecting'), 'the stall noticed');
        // /healthz is the primary's broker connection; the publishing worker's own notices the stall on its own PING.
        await until(() => sofar.some(isRefusal), 'a publication refused while Redis is stalled');
      } finally {
        redis.signal('SIGCONT');
      }
      await until(async () => (await Promise.all(nodes.map(healthz))).every((text) => text.includes('broker: ready')), 'broker ready again');
    });
    // While stalled, publications were refused rather than queued without bound.
    expect(outcomes.some(isRefusal)).toBe(true);
    expect((await brokerStats(nodes[0])).gaps).toBeGreaterThan(gapsBefore);
    // Resubscribed: a publication made now reaches the other node.
    await until(async () => {
      await publisher.command({ pub: 'stall', text: 'after the stall' });
      return subscriber.inbox.some((m) => m.data.toString() === 'after the stall');
    }, 'delivery across nodes again');
    expect(inOrder(subscriber)).toBe(true);
    for (const node of nodes) expect(node.child.exitCode).toBeNull();
  }, 120_000);

  it('survives Redis killed and restarted under load: reconnects with backoff, resubscribes every live topic', async () => {
    const subscriber = await raw(nodes[2]);
    await subscriber.subscribe('restart');
    const publisher = await raw(nodes[0]);
    await underLoad(publisher, 'restart', async () => {
      await subscriber.nextText((t) => t.startsWith('{"from":"load"'));
      await redis.stop();
      await until(async () => (await healthz(nodes[2])).includes('broker: reconnecting'), 'the loss noticed');
      await redis.start();
      await until(async () => (await Promise.all(nodes.map(healthz))).every((text) => text.includes('broker: ready')), 'broker ready again');
    });
    // /healthz reports the primary's broker connection; each worker's own subscriber connection resubscribes on its own schedule.
    await until(async () => (await topicChannels()).includes('shoal:p:restart'), 'the topic resubscribed');
    await until(async () => {
      await publisher.command({ pub: 'restart', text: 'after the restart' });
      return subscriber.inbox.some((m) => m.data.toString() === 'after the restart');
    }, 'delivery across nodes again');
    expect(inOrder(subscriber)).toBe(true);
    const stats = await brokerStats(nodes[2]);
    expect(stats.gaps).toBeGreaterThan(0);
    for (const node of nodes) expect(node.child.exitCode).toBeNull();
  }, 120_000);
});
