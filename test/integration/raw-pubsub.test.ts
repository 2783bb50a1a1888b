/**
 * Raw topics on one node with 2 workers, over loopback with `ws` clients:
 * raw connections subscribe and publish (bytes and text they choose, framed
 * once per worker), raw and subprotocol subscribers of one topic each get
 * every publication in their own form (docs/subprotocol.md §7), the host
 * process publishes and sends with `server.publish`/`server.sendTo`, and the
 * app's onStart runs in the host with its cleanup at close. A subscriber
 * closed as a slow consumer in the middle of a fan-out, whose onClose
 * publishes (apps/farewell-app.ts), leaves every other subscriber with every
 * publication in order, and itself with nothing after its close frame.
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Opcode } from '../../src/protocol/constants.ts';
import { clientFrame, RawClient as RawSocket } from '../helpers/raw-socket.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { RawClient } from './raw-client.ts';
import { EnvelopeClient, JSON_PROTOCOL, MSGPACK_PROTOCOL, spreadOverWorkers, workerOf } from './shoal-helpers.ts';
import { hostState } from './apps/raw-pubsub-app.ts';

const APP = fileURLToPath(new URL('./apps/raw-pubsub-app.ts', import.meta.url));

let server: TestServer;
const raws: RawClient[] = [];
const envelopes: EnvelopeClient[] = [];
let nextId = 1;

beforeAll(async () => {
  server = await startServer({ app: APP, workers: 2 });
});
afterAll(async () => {
  for (const client of raws) client.close();
  for (const client of envelopes) client.close();
  await server.close();
});

async function raw(): Promise<RawClient> {
  const client = await RawClient.open(`${server.origin}/`);
  raws.push(client);
  return client;
}

async function envelope(protocol: string): Promise<{ client: EnvelopeClient; address: string }> {
  const client = await EnvelopeClient.open(`${server.origin}/`, protocol);
  envelopes.push(client);
  const welcome = (await client.next((m) => Array.isArray(m) && m[1] === 'welcome')) as [0, string, { address: string }];
  return { client, address: welcome[2].address };
}

/** Two raw clients on each worker. */
async function rawOnBothWorkers(): Promise<RawClient[][]> {
  const spread = await spreadOverWorkers(raw, async (client) => client.address, 2, 2);
  return [...spread.values()];
}

const publication = (topic: string) => (m: unknown) => Array.isArray(m) && m[0] === 4 && m[1] === topic;

describe('raw topics', () => {
  it('deliver raw publications to raw and subprotocol subscribers on both workers, each in its own form', async () => {
    const rawGroups = await rawOnBothWorkers();
    const rawSubs = rawGroups.flat();
    const msgpack = await envelope(MSGPACK_PROTOCOL);
    const json = await envelope(JSON_PROTOCOL);
    for (const client of rawSubs) expect(await client.subscribe('mixed')).toBe(true);
    for (const { client } of [msgpack, json]) expect(await client.call(nextId++, '$subscribe', 'mixed')).toEqual([2, nextId - 1, null]);

    const publisher = rawGroups[0][0];
    await publisher.command({ pub: 'mixed', text: 'hello' });
    await publisher.command({ pub: 'mixed', bytes: [1, 2, 3] });
    await publisher.command({ pub: 'mixed', value: { a: 1 } });
    // A subprotocol publisher's value reaches raw subscribers as JSON text.
    expect(await msgpack.client.call(nextId++, 'publish', { topic: 'mixed', data: { b: 2 } })).toEqual([2, nextId - 1, expect.any(Number)]);

    for (const client of rawSubs) {
      const messages = [];
      for (let i = 0; i < 4; i++) messages.push(await client.next((m) => m.isBinary || !m.data.toString().startsWith('{"done"')));
      expect(messages.map((m) => [m.isBinary, m.isBinary ? [...m.data] : m.data.toString()])).toEqual([
        [false, 'hello'],
        [true, [1, 2, 3]],
        [false, '{"a":1}'],
        [false, '{"b":2}'],
      ]);
    }
    const fromMsgpack = [];
    const fromJson = [];
    for (let i = 0; i < 4; i++) {
      fromMsgpack.push(await msgpack.client.next(publication('mixed')));
      fromJson.push(await json.client.next(publication('mixed')));
    }
    expect(fromMsgpack).toEqual([
      [4, 'mixed', 'hello'],
      [4, 'mixed', new Uint8Array([1, 2, 3])],
      [4, 'mixed', { a: 1 }],
      [4, 'mixed', { b: 2 }],
    ]);
    // JSON has no binary type: bytes arrive as base64.
    expect(fromJson).toEqual([
      [4, 'mixed', 'hello'],
      [4, 'mixed', 'AQID'],
      [4, 'mixed', { a: 1 }],
      [4, 'mixed', { b: 2 }],
    ]);
  });

  it('reach every raw subscriber on every worker exactly once, in order per publisher, and stop at unsubscribe', async () => {
    const groups = await rawOnBothWorkers();
    const subscribers = groups.flat();
    for (const client of subscribers) await client.subscribe('seq');
    const publishers = groups.map((group) => group[0]);
    const COUNT = 300;
    await Promise.all(publishers.map((p, index) => p.command({ pubMany: 'seq', from: `p${index}`, count: COUNT })));
    for (const client of subscribers) {
      const seen = new Map<string, number[]>();
      for (let i = 0; i < COUNT * publishers.length; i++) {
        const text = await client.nextText((t) => t.startsWith('{"from"'));
        const { from, seq } = JSON.parse(text) as { from: string; seq: number };
        seen.set(from, [...(seen.get(from) ?? []), seq]);
      }
      for (const seqs of seen.values()) expect(seqs).toEqual([...Array(COUNT).keys()]);
      expect(seen.size).toBe(publishers.length);
    }
    const [quitter, ...others] = subscribers;
    expect(await quitter.command({ unsub: 'seq' })).toBe(true);
    await publishers[1].command({ pub: 'seq', text: 'after' });
    for (const client of others) expect(await client.nextText((t) => t === 'after')).toBe('after');
    // The quitter's next message is the answer to a later command, not the publication.
    expect(await quitter.command({ unsub: 'seq' })).toBe(false);
    expect(quitter.inbox.some((m) => m.data.toString() === 'after')).toBe(false);
  });
});

describe('publications of one turn (topic batches, src/app/pubsub/topic-batch.ts)', () => {
  it('keep their order with other topics, with sends to the subscriber, and with its own replies, from either worker', async () => {
    const groups = await rawOnBothWorkers();
    const [subscriber, sameWorker] = groups[0];
    const otherWorker = groups[1][0];
    const late = groups[0][1];
    for (const topic of ['b1', 'b2']) expect(await subscriber.subscribe(topic)).toBe(true);
    /** The subscriber's next `count` messages of the script (text starting with "s:"), in order. */
    const script = async (count: number) => {
      const texts: string[] = [];
      for (let i = 0; i < count; i++) texts.push(await subscriber.nextText((t) => t.startsWith('s:')));
      return texts;
    };
    // An event to the subscriber (sendTo) in between, from its own worker. (From another worker an event may
    // overtake that worker's publications: it is posted at once, they at the end of the turn.)
    await sameWorker.command({
      script: [
        ['pub', 'b1', 's:A'],
        ['pub', 'b1', 's:A2'],
        ['pub', 'b2', 's:B'],
        ['pub', 'b2', 's:B2'],
        ['to', subscriber.address, 's:event'],
        ['pub', 'b1', 's:C'],
        ['pub', 'b1', 's:C2'],
      ],
    });
    expect(await script(7)).toEqual(['s:A', 's:A2', 's:B', 's:B2', 's:event', 's:C', 's:C2']);
    await otherWorker.command({ script: [['pub', 'b1', 's:A'], ['pub', 'b1', 's:A2'], ['pub', 'b2', 's:B'], ['pub', 'b1', 's:C'], ['pub', 'b1', 's:C2']] });
    expect(await script(5)).toEqual(['s:A', 's:A2', 's:B', 's:C', 's:C2']);
    // The subscriber publishes to its own topic and answers itself in between, in one handler.
    await subscriber.command({ script: [['pub', 'b1', 's:D'], ['pub', 'b1', 's:D2'], ['send', 's:reply'], ['pub', 'b1', 's:E']] });
    expect(await script(4)).toEqual(['s:D', 's:D2', 's:reply', 's:E']);
    // Subscribing after a publication of the same turn: not given it; unsubscribing after one: given it.
    await late.command({ script: [['pub', 'b1', 's:F'], ['pub', 'b1', 's:F2'], ['sub', 'b1'], ['pub', 'b1', 's:G'], ['pub', 'b1', 's:G2'], ['unsub', 'b1']] });
    expect(await script(4)).toEqual(['s:F', 's:F2', 's:G', 's:G2']);
    await late.command({ pub: 'b1', text: 's:after' });
    expect(await script(1)).toEqual(['s:after']);
    expect(late.inbox.filter((m) => m.data.toString().startsWith('s:')).map((m) => m.data.toString())).toEqual(['s:G', 's:G2']);
  });
});

describe('publishing and sending from the host process', () => {
  it('server.publish reaches raw and subprotocol subscribers on both workers', async () => {
    const subscribers = (await rawOnBothWorkers()).flat();
    const msgpack = await envelope(MSGPACK_PROTOCOL);
    for (const client of subscribers) await client.subscribe('host');
    await msgpack.client.call(nextId++, '$subscribe', 'host');
    server.server.publish('host', 'text from the host');
    server.server.publish('host', new Uint8Array([9, 8]));
    server.server.publish('host', 'binary text', { isBinary: true });
    for (const client of subscribers) {
      expect((await client.next((m) => !m.data.toString().startsWith('{"done"'))).data.toString()).toBe('text from the host');
      const bytes = await client.next((m) => m.isBinary);
      expect([...bytes.data]).toEqual([9, 8]);
      const binaryText = await client.next((m) => m.isBinary);
      expect(binaryText.data.toString()).toBe('binary text');
    }
    expect(await msgpack.client.next(publication('host'))).toEqual([4, 'host', 'text from the host']);
    expect(await msgpack.client.next(publication('host'))).toEqual([4, 'host', new Uint8Array([9, 8])]);
  });

  it('server.sendTo and a raw connection\'s sendTo reach raw and subprotocol connections on any worker', async () => {
    const groups = await rawOnBothWorkers();
    const targets = groups.map((group) => group[1]);
    for (const target of targets) expect(server.server.sendTo(target.address, 'ignored', { hi: target.address })).toBe(true);
    for (const target of targets) expect(await target.nextText((t) => t.startsWith('{"hi"'))).toBe(JSON.stringify({ hi: target.address }));
    const msgpack = await envelope(MSGPACK_PROTOCOL);
    // From a raw connection on each worker to the msgpack connection: an event.
    for (const group of groups) expect(await group[0].command({ to: msgpack.address, event: 'note', value: group[0].address })).toBe(true);
    const notes = [await msgpack.client.next((m) => Array.isArray(m) && m[1] === 'note'), await msgpack.client.next((m) => Array.isArray(m) && m[1] === 'note')];
    expect(new Set(notes.map((m) => (m as unknown[])[2]))).toEqual(new Set(groups.map((g) => g[0].address)));
    expect(new Set(groups.map((g) => workerOf(g[0].address))).size).toBe(2);
    expect(server.server.sendTo('not an address', 'x')).toBe(false);
  });

  it('runs the app\'s onStart in the host: its feed publishes from outside any handler', async () => {
    expect(hostState.started).toBe(1);
    const client = await raw();
    await client.subscribe('ticks');
    expect(await client.nextText((t) => t.startsWith('tick '))).toMatch(/^tick \d+$/);
  });
});

describe('onStart cleanup', () => {
  it('runs when the server closes', async () => {
    const second = await startServer({ app: APP, workers: 1 });
    const stoppedBefore = hostState.stopped;
    await second.close();
    expect(hostState.stopped).toBe(stoppedBefore + 1);
  });
});

describe('a subscriber closed as a slow consumer during a fan-out, whose onClose publishes', () => {
  const FAREWELL_APP = fileURLToPath(new URL('./apps/farewell-app.ts', import.meta.url));
  const LIMIT = 256 * 1024;
  /** Publications per command, and their size: 128 KiB per turn, well under LIMIT for a client that reads. */
  const PER_TURN = 4;
  const BYTES = 32 * 1024;
  /** Bound on the publishing turns (the kernel's loopback buffers take a few MB before the server holds any). The close timeout is long: the closed subscriber reads its close frame only at the end. */
  const MAX_TURNS = 2000;
  let farewell: TestServer;

  beforeAll(async () => {
    farewell = await startServer({ app: FAREWELL_APP, workers: 1, maxBackpressureBytes: LIMIT, closeTimeoutMs: 30_000 });
  });
  afterAll(async () => {
    await farewell?.close();
  });

  /** A reading subscriber that keeps, of each message, its seq or its farewell (the payloads add up to megabytes). */
  interface Reader {
    readonly ws: WebSocket;
    readonly got: (number | { left: string; during: number })[];
    command(command: Record<string, unknown>): Promise<void>;
  }

  async function reader(): Promise<Reader> {
    const ws = new WebSocket(`${farewell.origin}/`);
    const got: Reader['got'] = [];
    const answers = new Map<string, () => void>();
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { seq?: number; left?: string; during?: number; done?: string };
      if (message.done !== undefined) answers.get(message.done)?.();
      else if (message.seq !== undefined) got.push(message.seq);
      else if (message.left !== undefined) got.push({ left: message.left, during: message.during as number });
    });
    await once(ws, 'open');
    let next = 0;
    const command = (body: Record<string, unknown>): Promise<void> => {
      const id = `c${next++}`;
      const answered = new Promise<void>((resolve) => answers.set(id, resolve));
      ws.send(JSON.stringify({ ...body, id }));
      return answered;
    };
    return { ws, got, command };
  }

  const farewellIn = (got: Reader['got']) => got.find((entry) => typeof entry === 'object') as { left: string; during: number } | undefined;

  it('delivers every publication in order to every other subscriber, the farewell right after the one being written, and nothing to the closed one after its close frame', async () => {
    // Set order: one reader before the slow subscriber, two after it.
    const first = await reader();
    await first.command({ sub: 'room' });
    const slow = await RawSocket.open(farewell.port);
    slow.write(clientFrame(Opcode.TEXT, JSON.stringify({ id: 'slow', sub: 'room' })));
    await slow.waitFor(() => slow.events().some((event) => event.type === 'text' && event.data.toString() === '{"done":"slow"}'));
    slow.socket.pause();
    const readers = [first, await reader(), await reader()];
    for (const r of readers.slice(1)) await r.command({ sub: 'room' });
    const publisher = await reader();

    let turns = 0;
    while (!readers.every((r) => farewellIn(r.got) !== undefined)) {
      if (++turns > MAX_TURNS) throw new Error(`the slow subscriber was not closed after ${MAX_TURNS} turns`);
      await publisher.command({ pubMany: 'room', count: PER_TURN, bytes: BYTES });
    }
    // A few more publications after the close; then every reader must have them all.
    await publisher.command({ pubMany: 'room', count: PER_TURN, bytes: BYTES });
    const seqs = (turns + 1) * PER_TURN;
    const deadline = Date.now() + 30_000;
    while (!readers.every((r) => r.got.filter((entry) => typeof entry === 'number').length >= seqs)) {
      if (Date.now() > deadline) throw new Error(`readers got ${readers.map((r) => r.got.length).join(', ')} of ${seqs} publications`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    for (const r of readers) {
      const bye = farewellIn(r.got) as { left: string; during: number };
      expect(bye.during).toBeGreaterThanOrEqual(0);
      const at = r.got.indexOf(bye);
      // Every publication, in order, and the farewell right after the publication whose fan-out closed the subscriber.
      expect(r.got.filter((entry) => typeof entry === 'number')).toEqual([...Array(seqs).keys()]);
      expect(r.got[at - 1]).toBe(bye.during);
      expect(r.got.filter((entry) => typeof entry === 'object')).toHaveLength(1);
    }
    expect(new Set(readers.map((r) => JSON.stringify(farewellIn(r.got))))).toHaveProperty('size', 1);

    // The closed subscriber: a prefix of the publications in order, then its close frame (1008), and nothing after it.
    slow.socket.resume();
    await slow.closed;
    const events = slow.events();
    const close = events.findIndex((event) => event.type === 'close');
    expect(close).toBeGreaterThan(0);
    expect(events[close]?.code).toBe(1008);
    expect(events.slice(close + 1)).toEqual([]);
    // Its welcome and its command's answer, then publications.
    expect(events.slice(0, 2).map((event) => event.type)).toEqual(['text', 'text']);
    const received = events.slice(2, close).map((event) => (JSON.parse(event.data.toString()) as { seq: number }).seq);
    expect(received).toEqual([...Array(received.length).keys()]);
    expect(received.length).toBeLessThanOrEqual((farewellIn(first.got) as { during: number }).during);
    const stats = await farewell.waitForEnd((s) => s.slowConsumer);
    expect(stats.closeCode).toBe(1008);
    for (const r of [...readers, publisher]) r.ws.close();
  }, 120_000);
});
