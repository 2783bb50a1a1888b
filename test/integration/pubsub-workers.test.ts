/**
 * Pub/sub and sendTo across workers, over loopback with real clients, on a
 * server with 2 workers: every subscriber on every worker gets every
 * publication exactly once and in order per publisher, and `sendTo` reaches
 * a connection on the other worker.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.ts';
import { EnvelopeClient, JSON_PROTOCOL, MSGPACK_PROTOCOL, spreadOverWorkers, workerOf } from './shoal-helpers.ts';

const TEST_APP = fileURLToPath(new URL('./apps/shoal-test-app.ts', import.meta.url));

let server: TestServer;
const opened: EnvelopeClient[] = [];
let nextId = 1000;

beforeAll(async () => {
  server = await startServer({ app: TEST_APP, workers: 2 });
});
afterAll(async () => {
  for (const client of opened) client.close();
  await server.close();
});

/** A client and its address (from the welcome event). */
interface Peer {
  client: EnvelopeClient;
  address: string;
}

async function peer(protocol: string): Promise<Peer> {
  const client = await EnvelopeClient.open(`${server.origin}/`, protocol);
  opened.push(client);
  const welcome = (await client.next((m) => Array.isArray(m) && m[1] === 'welcome')) as [0, string, { address: string }];
  return { client, address: welcome[2].address };
}

/** Two peers per worker, alternating codecs, grouped by worker. */
async function peersOnBothWorkers(): Promise<Peer[][]> {
  let toggle = 0;
  const spread = await spreadOverWorkers(
    () => peer(toggle++ % 2 === 0 ? MSGPACK_PROTOCOL : JSON_PROTOCOL),
    async (p) => p.address,
    2,
    2,
  );
  return [...spread.values()];
}

const call = (p: Peer, method: string, data: unknown) => p.client.call(nextId++, method, data);

describe('publications across workers', () => {
  it('reach every subscriber on every worker exactly once, in order per publisher', async () => {
    const groups = await peersOnBothWorkers();
    const subscribers = groups.flat();
    const protocols = new Set(subscribers.map((s) => s.client.protocol));
    expect(protocols).toEqual(new Set([MSGPACK_PROTOCOL, JSON_PROTOCOL]));
    for (const s of subscribers) expect(await call(s, '$subscribe', 'feed')).toEqual([2, nextId - 1, null]);

    // One publisher per worker, publishing at the same time, then an end marker each.
    const publishers = groups.map((group) => group[0]);
    const COUNT = 200;
    await Promise.all(
      publishers.map(async (p, index) => {
        await call(p, 'publishMany', { topic: 'feed', from: `p${index}`, count: COUNT });
        await call(p, 'publish', { topic: 'feed', data: { from: `p${index}`, done: true } });
      }),
    );

    for (const s of subscribers) {
      const byPublisher = new Map<string, number[]>();
      let done = 0;
      while (done < publishers.length) {
        const [, topic, data] = (await s.client.next((m) => Array.isArray(m) && m[0] === 4)) as [4, string, { from: string; seq?: number; done?: true }];
        expect(topic).toBe('feed');
        if (data.done) {
          done++;
          continue;
        }
        const list = byPublisher.get(data.from) ?? [];
        list.push(data.seq as number);
        byPublisher.set(data.from, list);
      }
      const expected = [...Array(COUNT).keys()];
      expect(byPublisher.get('p0')).toEqual(expected);
      expect(byPublisher.get('p1')).toEqual(expected);
      expect(s.client.inbox.filter((m) => Array.isArray(m) && m[0] === 4)).toEqual([]);
    }
  });

  it('deliver a publication made right after the $subscribe reply, from the other worker (spec §7)', async () => {
    const groups = await peersOnBothWorkers();
    const [subscriber, publisher] = [groups[0][0], groups[1][0]];
    expect(workerOf(subscriber.address)).not.toBe(workerOf(publisher.address));
    for (let round = 0; round < 20; round++) {
      const topic = `fresh-${round}`;
      expect(await call(subscriber, '$subscribe', topic)).toEqual([2, nextId - 1, null]);
      await call(publisher, 'publish', { topic, data: round });
      expect(await subscriber.client.next((m) => Array.isArray(m) && m[0] === 4 && m[1] === topic)).toEqual([4, topic, round]);
      // The test app allows 8 subscriptions per connection.
      await call(subscriber, '$unsubscribe', topic);
    }
  });

  it('stop after $unsubscribe, and never reach connections that did not subscribe', async () => {
    const groups = await peersOnBothWorkers();
    const [listener, leaver, bystander] = [groups[0][0], groups[1][0], groups[1][1]];
    await call(listener, '$subscribe', 'quiet');
    await call(leaver, '$subscribe', 'quiet');
    expect(await call(leaver, '$unsubscribe', 'quiet')).toEqual([2, nextId - 1, true]);
    await call(bystander, 'publish', { topic: 'quiet', data: 'one' });
    await call(bystander, 'publish', { topic: 'quiet', data: 'two' });
    expect(await listener.client.next((m) => Array.isArray(m) && m[0] === 4 && m[2] === 'two')).toEqual([4, 'quiet', 'two']);
    // Same-worker publications are written before the reply; a round trip to the other worker settles the rest.
    await call(leaver, 'echo', null);
    await call(bystander, 'echo', null);
    expect(leaver.client.inbox.filter((m) => Array.isArray(m) && m[0] === 4)).toEqual([]);
    expect(bystander.client.inbox.filter((m) => Array.isArray(m) && m[0] === 4)).toEqual([]);
  });
});

describe('sendTo(address)', () => {
  it('reaches a connection on the other worker, in its own codec', async () => {
    const groups = await peersOnBothWorkers();
    for (const [from, to] of [
      [groups[0][0], groups[1][0]],
      [groups[1][1], groups[0][1]],
    ]) {
      expect(workerOf(from.address)).not.toBe(workerOf(to.address));
      expect(await call(from, 'sendTo', { address: to.address, event: 'dm', data: { from: from.address } })).toEqual([2, nextId - 1, true]);
      expect(await to.client.next((m) => Array.isArray(m) && m[1] === 'dm')).toEqual([0, 'dm', { from: from.address }]);
    }
  });

  it('reaches a connection on the same worker, and reports a local address that has gone', async () => {
    const groups = await peersOnBothWorkers();
    const [from, to] = groups[0];
    expect(await call(from, 'sendTo', { address: to.address, event: 'dm', data: 1 })).toEqual([2, nextId - 1, true]);
    expect(await to.client.next((m) => Array.isArray(m) && m[1] === 'dm')).toEqual([0, 'dm', 1]);
    const gone = `${workerOf(from.address)}.999999`;
    expect(await call(from, 'sendTo', { address: gone, event: 'dm', data: 1 })).toEqual([2, nextId - 1, false]);
  });
});
