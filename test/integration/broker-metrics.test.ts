/**
 * The broker on /metrics (server/metrics.ts): two `shoal serve --broker`
 * nodes (one worker each) on a real redis-server. Scrapes show every broker
 * connection up (the workers' and the primary's), publications counted where
 * they were sent and where they were received, and, once Redis is killed,
 * the connections down, a gap counted and publications refused as
 * unavailable.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../helpers/redis-server.ts';
import { startShoal, type ShoalProcess } from '../helpers/shoal-process.ts';
import { until } from '../helpers/until.ts';
import { RawClient } from './raw-client.ts';
import { parseSamples } from '../helpers/prometheus.ts';

const APP = fileURLToPath(new URL('./apps/raw-pubsub-app.ts', import.meta.url));

let redis: RedisServer | null = null;
let nodes: ShoalProcess[] = [];
const clients: RawClient[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  const url = redis.url;
  nodes = await Promise.all([0, 1].map(() => startShoal(['--app', APP, '--workers', '1', '--broker', url])));
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(nodes.map((node) => node.stop()));
  await redis?.stop();
});

/** The `shoal_broker_*` samples of one scrape: `name{labels}` -> value. */
async function brokerSamples(node: ShoalProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`${node.admin}/metrics`)).text();
  return new Map([...parseSamples(text)].filter(([name]) => name.startsWith('shoal_broker_')));
}

/** The samples of one metric, by their `worker` label. */
function byWorker(samples: Map<string, number>, name: string, extra: string = ''): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of samples) {
    const match = new RegExp(`^${name}\\{worker="([^"]+)"${extra}\\}$`).exec(key);
    if (match !== null) out.set(match[1] as string, value);
  }
  return out;
}

async function raw(node: ShoalProcess): Promise<RawClient> {
  const client = await RawClient.open(`ws://127.0.0.1:${node.port}/`);
  clients.push(client);
  return client;
}

describe('broker metrics', () => {
  it('show every broker connection up, and publications counted where sent and where received', async () => {
    for (const node of nodes) {
      // The primary's connection and the worker's (its report every 0.5 s): two series at 1.
      await until(async () => {
        const up = byWorker(await brokerSamples(node), 'shoal_broker_up');
        return up.get('primary') === 1 && up.size === 2 && [...up.values()].every((value) => value === 1);
      }, 'broker up on /metrics');
    }
    const [first, second] = nodes as [ShoalProcess, ShoalProcess];
    const subscriber = await raw(second);
    expect(await subscriber.subscribe('metered')).toBe(true);
    const before = await brokerSamples(first);
    const worker = [...byWorker(before, 'shoal_broker_up').keys()].find((label) => label !== 'primary') as string;
    const publishedBefore = byWorker(before, 'shoal_broker_published_total').get(worker) ?? 0;
    const publisher = await raw(first);
    const COUNT = 20;
    expect(await publisher.command({ pubMany: 'metered', from: 'p', count: COUNT })).toBe(true);
    await until(() => subscriber.inbox.some((m) => m.data.toString() === JSON.stringify({ from: 'p', seq: COUNT - 1 })), 'the last publication on the other node');
    await until(async () => {
      return (byWorker(await brokerSamples(first), 'shoal_broker_published_total').get(worker) ?? 0) >= publishedBefore + COUNT;
    }, 'published counted on the publishing worker');
    await until(async () => {
      const received = byWorker(await brokerSamples(second), 'shoal_broker_received_total');
      return [...received].some(([label, value]) => label !== 'primary' && value >= COUNT);
    }, 'received counted on the subscribing worker');
    // The primary publishes a tick every 20 ms (the app's onStart): its own counter moves too.
    const primaryBefore = byWorker(await brokerSamples(first), 'shoal_broker_published_total').get('primary') ?? 0;
    await until(async () => (byWorker(await brokerSamples(first), 'shoal_broker_published_total').get('primary') ?? 0) > primaryBefore, 'the primary publishing');
  }, 60_000);

  it('drop to 0 with Redis stopped, and count the gap and the refused publications', async () => {
    const node = nodes[0] as ShoalProcess;
    const publisher = await raw(node);
    await (redis as RedisServer).stop();
    await until(async () => {
      const up = byWorker(await brokerSamples(node), 'shoal_broker_up');
      return up.size === 2 && [...up.values()].every((value) => value === 0);
    }, 'broker down on /metrics');
    expect(await publisher.command({ pub: 'metered', text: 'nobody' })).toEqual({ error: 'BROKER_UNAVAILABLE' });
    await until(async () => {
      const samples = await brokerSamples(node);
      const gaps = byWorker(samples, 'shoal_broker_gaps_total');
      const refused = byWorker(samples, 'shoal_broker_refused_total', ',reason="unavailable"');
      const worker = [...gaps.keys()].find((label) => label !== 'primary') as string;
      return (gaps.get('primary') ?? 0) >= 1 && (gaps.get(worker) ?? 0) >= 1 && (refused.get(worker) ?? 0) >= 1;
    }, 'the gap and the refusal counted');
  }, 60_000);
});
