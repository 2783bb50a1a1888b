import { captureLogs } from '../../../helpers/log-capture.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PubSub, type PubSubOptions } from '../../../../src/app/pubsub/pubsub.ts';
import type { Subscriber } from '../../../../src/app/pubsub/local-subscriptions.ts';
import type { Codec } from '../../../../src/codec/envelope.ts';
import { jsonCodec, msgpackCodec } from '../../../../src/codec/index.ts';
import { decodeMsgpack } from '../../../../src/codec/msgpack.ts';
import { FakeHandle, FakeNetwork, framePayload } from '../fakes.ts';

function subscriber(address: string, codec: Codec = msgpackCodec): Subscriber & { handle: FakeHandle } {
  const handle = new FakeHandle(address, codec.protocol);
  return { handle, writer: handle, codec, topics: new Set() };
}

/** Publications a subscriber received, decoded. */
function received(sub: Subscriber & { handle: FakeHandle }): unknown[] {
  return sub.handle.sent.map((sent) => {
    expect(sent.kind).toBe('frame');
    const payload = framePayload(sent.data as Uint8Array);
    const frame = sent.data as Uint8Array;
    if ((frame[0] & 0x0f) === 0x1) return JSON.parse(Buffer.from(payload).toString());
    expect(frame[0]).toBe(0x82);
    return decodeMsgpack(payload);
  });
}

/** A network of started workers with every hello answered. */
function cluster(...ids: number[]): { network: FakeNetwork; workers: Map<number, PubSub> } {
  return clusterWith({}, ...ids);
}

function clusterWith(options: Partial<PubSubOptions>, ...ids: number[]): { network: FakeNetwork; workers: Map<number, PubSub> } {
  const network = new FakeNetwork();
  const workers = new Map<number, PubSub>();
  for (const id of ids) {
    const bus = network.bus(id);
    const pubsub = new PubSub(bus, { confirmTimeoutMs: 50, scheduleFlush: network.schedule, ...options });
    bus.listen((message) => pubsub.receive(message));
    workers.set(id, pubsub);
  }
  for (const pubsub of workers.values()) pubsub.start();
  network.deliverAll();
  return { network, workers };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('local fan-out', () => {
  it('writes one publication to every local subscriber, with one frame encoded once', () => {
    const { workers } = cluster(1);
    const pubsub = workers.get(1) as PubSub;
    const subs = [subscriber('1.1'), subscriber('1.2'), subscriber('1.3')];
    for (const sub of subs) void pubsub.subscribe(sub, 'news');
    expect(pubsub.publish('news', { n: 1 })).toBe(3);
    for (const sub of subs) expect(received(sub)).toEqual([[4, 'news', { n: 1 }]]);
    const frames = subs.map((sub) => sub.handle.sent[0].data);
    expect(frames[1]).toBe(frames[0]);
    expect(frames[2]).toBe(frames[0]);
  });

  it('encodes once per codec: JSON subscribers get a text frame of the same envelope', () => {
    const { workers } = cluster(1);
    const pubsub = workers.get(1) as PubSub;
    const binary = subscriber('1.1');
    const text = subscriber('1.2', jsonCodec);
    const text2 = subscriber('1.3', jsonCodec);
    void pubsub.subscribe(binary, 't');
    void pubsub.subscribe(text, 't');
    void pubsub.subscribe(text2, 't');
    pubsub.publish('t', 'hello');
    expect(received(binary)).toEqual([[4, 't', 'hello']]);
    expect(received(text)).toEqual([[4, 't', 'hello']]);
    expect(text.handle.sent[0].data[0]).toBe(0x81);
    expect(text2.handle.sent[0].data).toBe(text.handle.sent[0].data);
  });

  it('delivers once to a connection that subscribed twice', () => {
    const { workers } = cluster(1);
    const pubsub = workers.get(1) as PubSub;
    const sub = subscriber('1.1');
    void pubsub.subscribe(sub, 't');
    void pubsub.subscribe(sub, 't');
    pubsub.publish('t', 1);
    expect(received(sub)).toHaveLength(1);
    expect(pubsub.subscriberCount('t')).toBe(1);
  });

  it('stops delivering after unsubscribe and after unsubscribeAll', () => {
    const { workers } = cluster(1);
    const pubsub = workers.get(1) as PubSub;
    const a = subscriber('1.1');
    const b = subscriber('1.2');
    void pubsub.subscribe(a, 'x');
    void pubsub.subscribe(a, 'y');
    void pubsub.subscribe(b, 'x');
    expect(pubsub.unsubscribe(b, 'x')).toBe(true);
    expect(pubsub.unsubscribe(b, 'x')).toBe(false);
    pubsub.unsubscribeAll(a);
    expect(a.topics.size).toBe(0);
    expect(pubsub.publish('x', 1)).toBe(0);
    expect(pubsub.publish('y', 1)).toBe(0);
    expect(a.handle.sent).toHaveLength(0);
    expect(b.handle.sent).toHaveLength(0);
    expect(pubsub.subscriberCount('x')).toBe(0);
  });

  it('skips subscribers whose connection is no longer open', () => {
    const { workers } = cluster(1);
    const pubsub = workers.get(1) as PubSub;
    const open = subscriber('1.1');
    const closing = subscriber('1.2');
    void pubsub.subscribe(open, 't');
    void pubsub.subscribe(closing, 't');
    closing.handle.isOpen = false;
    expect(pubsub.publish('t', 1)).toBe(1);
    expect(received(open)).toHaveLength(1);
  });

  for (const mixed of [false, true]) {
    it(`keeps delivering when subscribers leave and join during a fan-out${mixed ? ' (two formats)' : ''}`, () => {
      const { workers } = cluster(1);
      const pubsub = workers.get(1) as PubSub;
      const [a, b, c, d] = [subscriber('1.1'), subscriber('1.2'), subscriber('1.3'), subscriber('1.4', mixed ? jsonCodec : msgpackCodec)];
      const e = subscriber('1.5');
      for (const sub of [a, b, c, d]) void pubsub.subscribe(sub, 't');
      // The first subscriber written to closes during the write (as the slow-consumer policy closes a connection,
      // whose session then unsubscribes), another one leaves before its turn, and a new one joins.
      const subs = [a, b, c, d];
      let changed = false;
      for (const sub of subs) {
        const write = sub.handle.sendFrame.bind(sub.handle);
        sub.handle.sendFrame = (frame: Uint8Array): boolean => {
          const wrote = write(frame);
          if (!changed) {
            changed = true;
            sub.handle.isOpen = false;
            pubsub.unsubscribeAll(sub);
            pubsub.unsubscribe(sub === c ? d : c, 't');
            void pubsub.subscribe(e, 't');
          }
          return wrote;
        };
      }
      pubsub.publish('t', 1);
      const first = subs.find((sub) => sub.handle.sent.length === 1 && sub.topics.size === 0) as typeof a;
      const left = first === c ? d : c;
      expect(left.handle.sent).toHaveLength(0);
      for (const sub of subs) if (sub !== left) expect(received(sub)).toEqual([[4, 't', 1]]);
      // A subscriber that joined during the fan-out may or may not get that publication, never twice.
      expect(e.handle.sent.length).toBeLessThanOrEqual(1);
      const before = e.handle.sent.length;
      expect(pubsub.subscriberCount('t')).toBe(3);
      expect(pubsub.publish('t', 2)).toBe(3);
      expect(first.handle.sent).toHaveLength(1);
      expect(left.handle.sent).toHaveLength(0);
      for (const sub of subs) if (sub !== first && sub !== left) expect(received(sub)).toEqual([[4, 't', 1], [4, 't', 2]]);
      expect(received(e).slice(before)).toEqual([[4, 't', 2]]);
    });
  }

  it('throws before writing anything when a codec in use cannot encode the data', () => {
    const { workers } = cluster(1);
    const pubsub = workers.get(1) as PubSub;
    const binary = subscriber('1.1');
    const text = subscriber('1.2', jsonCodec);
    void pubsub.subscribe(binary, 't');
    void pubsub.subscribe(text, 't');
    expect(() => pubsub.publish('t', 10n)).toThrow(TypeError);
    expect(binary.handle.sent).toHaveLength(0);
    expect(text.handle.sent).toHaveLength(0);
  });
});

/**
 * A subscriber that the slow-consumer policy closes on its next frame, as
 * SocketBinding.sendFrame does: the frame is not written, the close frame is
 * (`closedWith`), and its session's onClose runs at once, inside the
 * fan-out: it unsubscribes everything, then runs the app's `onClose`.
 */
function closesOnNextFrame(pubsub: PubSub, sub: Subscriber & { handle: FakeHandle }, onClose: () => void): void {
  sub.handle.sendFrame = (): boolean => {
    if (!sub.handle.isOpen) return false;
    sub.handle.close(1008, 'slow consumer');
    pubsub.unsubscribeAll(sub);
    onClose();
    return false;
  };
}

/** What a subscriber received: the `data` of each publication. */
const data = (sub: Subscriber & { handle: FakeHandle }): unknown[] => received(sub).map((message) => (message as unknown[])[2]);

describe('a subscriber closed during a fan-out whose onClose publishes', () => {
  it('delivers the publication of the close handler after the one being written, to every other subscriber, in order', () => {
    const { workers } = cluster(1);
    const pubsub = workers.get(1) as PubSub;
    // The closing subscriber is second: one subscriber was written to before it, two after.
    const [a, slow, b, c] = [subscriber('1.1'), subscriber('1.2'), subscriber('1.3', jsonCodec), subscriber('1.4')];
    for (const sub of [a, slow, b, c]) void pubsub.subscribe(sub, 't');
    void pubsub.subscribe(c, 'other');
    closesOnNextFrame(pubsub, slow, () => {
      pubsub.publish('t', 'left');
      pubsub.publish('other', 'left too');
    });
    // The slow subscriber is not counted: the publication was not written to it.
    expect(pubsub.publish('t', 1)).toBe(3);
    for (let i = 2; i <= 3; i++) pubsub.publish('t', i);
    for (const sub of [a, b]) expect(data(sub)).toEqual([1, 'left', 2, 3]);
    expect(received(c)).toEqual([[4, 't', 1], [4, 't', 'left'], [4, 'other', 'left too'], [4, 't', 2], [4, 't', 3]]);
    expect(slow.handle.sent).toHaveLength(0);
    expect(slow.handle.closedWith?.code).toBe(1008);
    expect(pubsub.subscriberCount('t')).toBe(3);
  });

  it('keeps the order when the close handler\'s publication closes another subscriber whose handler publishes too', () => {
    const { network, workers } = cluster(1);
    const pubsub = workers.get(1) as PubSub;
    const [first, a, second, b] = [subscriber('1.1'), subscriber('1.2'), subscriber('1.3'), subscriber('1.4')];
    for (const sub of [first, a, second, b]) void pubsub.subscribe(sub, 't');
    closesOnNextFrame(pubsub, first, () => pubsub.publish('t', 'first left'));
    // `second` is written 1 and closes on 'first left', the publication of first's handler.
    let frames = 0;
    const write = second.handle.sendFrame.bind(second.handle);
    second.handle.sendFrame = (frame: Uint8Array): boolean => {
      if (++frames === 1) return write(frame);
      second.handle.close(1008, 'slow consumer');
      pubsub.unsubscribeAll(second);
      pubsub.publish('t', 'second left');
      return true;
    };
    pubsub.publish('t', 1);
    pubsub.publish('t', 2);
    // The order the publications were made: 'first left' during 1's walk, 'second left' during first left's, and 2
    // once publish(1) had returned (2 may join the turn's batch: written when the turn ends).
    network.endTurn();
    for (const sub of [a, b]) expect(data(sub)).toEqual([1, 'first left', 'second left', 2]);
    expect(first.handle.sent).toHaveLength(0);
    expect(data(second)).toEqual([1]);
    expect(second.handle.closedWith?.code).toBe(1008);
  });

  it('writes a turn\'s batch to every subscriber before the publication of a handler run by its write (topic-batch.ts)', () => {
    const { network, workers } = cluster(1);
    const pubsub = workers.get(1) as PubSub;
    const [a, slow, b] = [subscriber('1.1'), subscriber('1.2'), subscriber('1.3')];
    for (const sub of [a, slow, b]) void pubsub.subscribe(sub, 't');
    void pubsub.subscribe(b, 'u');
    // The batch (2, 3) is written to `slow` as one write (sendFrames); it closes on it and its handler publishes.
    slow.handle.sendFrames = (): boolean => {
      slow.handle.close(1008, 'slow consumer');
      pubsub.unsubscribeAll(slow);
      pubsub.publish('t', 'left');
      return true;
    };
    for (let i = 1; i <= 3; i++) expect(pubsub.publish('t', i)).toBe(3);
    // A publication to another topic closes the batch first; made before 'left', it is written before it.
    expect(pubsub.publish('u', 'other')).toBe(1);
    network.endTurn();
    expect(data(a)).toEqual([1, 2, 3, 'left']);
    expect(data(b)).toEqual([1, 2, 3, 'other', 'left']);
    expect(data(slow)).toEqual([1]);
    expect(pubsub.stats.delivered).toBe(3 + 3 + 3 + 1 + 2);
  });

  it('does the same for a batch forwarded from another worker: the rest of the batch after the handler\'s publication', () => {
    const { network, workers } = cluster(1, 2);
    const pubsub = workers.get(2) as PubSub;
    const [a, slow, b] = [subscriber('2.1'), subscriber('2.2'), subscriber('2.3')];
    for (const sub of [a, slow, b]) void pubsub.subscribe(sub, 't');
    network.deliverAll();
    closesOnNextFrame(pubsub, slow, () => pubsub.publish('t', 'left'));
    for (let i = 1; i <= 3; i++) workers.get(1)?.publish('t', i);
    network.deliverAll();
    for (const sub of [a, b]) expect(data(sub)).toEqual([1, 'left', 2, 3]);
    expect(slow.handle.sent).toHaveLength(0);
    expect(pubsub.stats.received).toBe(3);
  });

  it('lets the handler publish on a topic nobody else has, and later publications reach everyone as usual', () => {
    const { workers } = cluster(1);
    const pubsub = workers.get(1) as PubSub;
    const [slow, a] = [subscriber('1.1'), subscriber('1.2')];
    for (const sub of [slow, a]) void pubsub.subscribe(sub, 't');
    let returned: number | null = null;
    closesOnNextFrame(pubsub, slow, () => {
      returned = pubsub.publish('nobody', 'x');
    });
    pubsub.publish('t', 1);
    expect(returned).toBe(0);
    expect(pubsub.publish('t', 2)).toBe(1);
    expect(data(a)).toEqual([1, 2]);
  });
});

describe('interest across workers', () => {
  it('announces the first and the last local subscriber of a topic to the other workers', () => {
    const { network, workers } = cluster(1, 2, 3);
    const a = subscriber('1.1');
    const b = subscriber('1.2');
    void workers.get(1)?.subscribe(a, 'news');
    void workers.get(1)?.subscribe(b, 'news');
    network.deliverAll();
    expect(workers.get(2)?.interestedWorkers('news')).toEqual([1]);
    expect(workers.get(3)?.interestedWorkers('news')).toEqual([1]);
    workers.get(1)?.unsubscribe(a, 'news');
    network.deliverAll();
    expect(workers.get(2)?.interestedWorkers('news')).toEqual([1]);
    workers.get(1)?.unsubscribe(b, 'news');
    network.deliverAll();
    expect(workers.get(2)?.interestedWorkers('news')).toEqual([]);
    expect(workers.get(3)?.interestedWorkers('news')).toEqual([]);
  });

  it('sends a publication only to workers with subscribers, and each of them receives it once', () => {
    const { network, workers } = cluster(1, 2, 3);
    const onOne = subscriber('1.1');
    const onTwo = subscriber('2.1', jsonCodec);
    void workers.get(1)?.subscribe(onOne, 'news');
    void workers.get(2)?.subscribe(onTwo, 'news');
    network.deliverAll();
    const bus3 = network.buses.get(3);
    bus3?.sent.splice(0);
    workers.get(3)?.publish('news', { headline: 'hi' });
    network.endTurn();
    const posted = bus3?.sent ?? [];
    expect(posted.map((message) => message.t)).toEqual(['pub', 'pub']);
    expect(workers.get(3)?.stats.forwarded).toBe(2);
    network.deliverAll();
    expect(received(onOne)).toEqual([[4, 'news', { headline: 'hi' }]]);
    expect(received(onTwo)).toEqual([[4, 'news', { headline: 'hi' }]]);
  });

  it('posts nothing for a topic nobody subscribed to', () => {
    const { network, workers } = cluster(1, 2);
    network.buses.get(1)?.sent.splice(0);
    expect(workers.get(1)?.publish('empty', 1)).toBe(0);
    expect(network.buses.get(1)?.sent).toEqual([]);
  });

  it('keeps the order of one publisher across workers', () => {
    const { network, workers } = cluster(1, 2);
    const sub = subscriber('2.1');
    void workers.get(2)?.subscribe(sub, 'seq');
    network.deliverAll();
    for (let i = 0; i < 100; i++) workers.get(1)?.publish('seq', i);
    network.deliverAll();
    expect(received(sub).map((message) => (message as unknown[])[2])).toEqual([...Array(100).keys()]);
  });

  it('forwards the frame as it was built: the receiving worker writes those bytes to msgpack subscribers', () => {
    const { network, workers } = cluster(1, 2);
    const local = subscriber('1.1');
    const remote = subscriber('2.1');
    void workers.get(1)?.subscribe(local, 't');
    void workers.get(2)?.subscribe(remote, 't');
    network.deliverAll();
    workers.get(1)?.publish('t', 'x'.repeat(300));
    network.deliverAll();
    expect(Buffer.from(remote.handle.sent[0].data as Uint8Array).equals(Buffer.from(local.handle.sent[0].data as Uint8Array))).toBe(true);
  });

  it('drops a forwarded publication when the last local subscriber left meanwhile', () => {
    const { network, workers } = cluster(1, 2);
    const sub = subscriber('2.1');
    void workers.get(2)?.subscribe(sub, 't');
    network.deliverAll();
    workers.get(1)?.publish('t', 1);
    workers.get(2)?.unsubscribe(sub, 't');
    network.deliverAll();
    expect(sub.handle.sent).toHaveLength(0);
    expect(workers.get(2)?.stats.received).toBe(1);
  });

  it('gives a worker that says hello a snapshot of existing interest', () => {
    const { network, workers } = cluster(1);
    void workers.get(1)?.subscribe(subscriber('1.1'), 'a');
    void workers.get(1)?.subscribe(subscriber('1.2'), 'b');
    const bus = network.bus(9);
    const late = new PubSub(bus, { confirmTimeoutMs: 50, scheduleFlush: network.schedule });
    bus.listen((message) => late.receive(message));
    late.start();
    network.deliverAll();
    expect(late.interestedWorkers('a')).toEqual([1]);
    expect(late.interestedWorkers('b')).toEqual([1]);
    expect(late.knownWorkers()).toEqual([1]);
    expect(workers.get(1)?.knownWorkers()).toEqual([9]);
  });

  it('forgets the interest of a worker that says bye', () => {
    const { network, workers } = cluster(1, 2);
    void workers.get(2)?.subscribe(subscriber('2.1'), 't');
    network.deliverAll();
    workers.get(2)?.stop();
    network.deliverAll();
    expect(workers.get(1)?.interestedWorkers('t')).toEqual([]);
    expect(workers.get(1)?.knownWorkers()).toEqual([]);
  });
});

describe('subscription confirmation (docs/subprotocol.md §7)', () => {
  it('resolves subscribe() only once every known worker has acknowledged the interest', async () => {
    const { network, workers } = cluster(1, 2, 3);
    let confirmed = false;
    const done = workers.get(1)?.subscribe(subscriber('1.1'), 't').then(() => (confirmed = true));
    await Promise.resolve();
    expect(confirmed).toBe(false);
    network.deliverTo(2);
    network.deliverTo(3);
    // The acks are queued for worker 1, not yet read.
    await Promise.resolve();
    expect(confirmed).toBe(false);
    network.deliverTo(1);
    await done;
    expect(confirmed).toBe(true);
  });

  it('a second local subscriber waits for the same confirmation', async () => {
    const { network, workers } = cluster(1, 2);
    const first = workers.get(1)?.subscribe(subscriber('1.1'), 't');
    let secondDone = false;
    const second = workers.get(1)?.subscribe(subscriber('1.2'), 't').then(() => (secondDone = true));
    await Promise.resolve();
    expect(secondDone).toBe(false);
    network.deliverAll();
    await Promise.all([first, second]);
    expect(secondDone).toBe(true);
  });

  it('delivers every publication made after subscribe() resolved, while one in flight before may be missed', async () => {
    const { network, workers } = cluster(1, 2);
    const sub = subscriber('1.1');
    const confirmed = workers.get(1)?.subscribe(sub, 't') as Promise<void>;
    // Worker 2 publishes before it has read the interest: that one is not sent to worker 1.
    workers.get(2)?.publish('t', 'before');
    network.deliverAll();
    await confirmed;
    workers.get(2)?.publish('t', 'after');
    network.deliverAll();
    expect(received(sub)).toEqual([[4, 't', 'after']]);
  });

  it('resolves anyway after confirmTimeoutMs when a worker is silent, and stops waiting for it', async () => {
    vi.useFakeTimers();
    const { network, workers } = cluster(1, 2);
    network.buses.get(2)?.close();
    let confirmed = false;
    const done = workers.get(1)?.subscribe(subscriber('1.1'), 'a').then(() => (confirmed = true));
    network.deliverAll();
    await Promise.resolve();
    expect(confirmed).toBe(false);
    await vi.advanceTimersByTimeAsync(50);
    await done;
    expect(confirmed).toBe(true);
    expect(workers.get(1)?.knownWorkers()).toEqual([]);
    // The next new topic does not wait for the silent worker.
    let second = false;
    const next = workers.get(1)?.subscribe(subscriber('1.2'), 'b').then(() => (second = true));
    await Promise.resolve();
    await next;
    expect(second).toBe(true);
  });

  it('resolves at once when no other worker is known', async () => {
    const { workers } = cluster(1);
    await expect(workers.get(1)?.subscribe(subscriber('1.1'), 't')).resolves.toBeUndefined();
  });
});

describe('batches to other workers', () => {
  it('posts the publications of one turn for a worker as one message, delivered in order', () => {
    const { network, workers } = cluster(1, 2);
    const a = subscriber('2.1');
    const b = subscriber('2.2', jsonCodec);
    void workers.get(2)?.subscribe(a, 'x');
    void workers.get(2)?.subscribe(b, 'y');
    network.deliverAll();
    const bus1 = network.buses.get(1);
    bus1?.sent.splice(0);
    workers.get(1)?.publish('x', 1);
    workers.get(1)?.publish('y', 2);
    workers.get(1)?.publish('x', 3);
    expect(bus1?.sent).toEqual([]);
    network.endTurn();
    expect(bus1?.sent.map((message) => message.t)).toEqual(['pub']);
    expect(workers.get(1)?.stats).toMatchObject({ forwarded: 3, batches: 1 });
    network.deliverAll();
    expect(received(a)).toEqual([
      [4, 'x', 1],
      [4, 'x', 3],
    ]);
    expect(received(b)).toEqual([[4, 'y', 2]]);
    expect(workers.get(2)?.stats.received).toBe(3);
  });

  it("posts a worker's pending batch before any other message to it, so an interest ack never overtakes earlier publications", () => {
    const { network, workers } = cluster(1, 2);
    void workers.get(2)?.subscribe(subscriber('2.1'), 'x');
    network.deliverAll();
    const bus1 = network.buses.get(1);
    bus1?.sent.splice(0);
    workers.get(1)?.publish('x', 'first');
    void workers.get(2)?.subscribe(subscriber('2.2'), 'other');
    network.deliverTo(1);
    expect(bus1?.sent.map((message) => message.t)).toEqual(['pub', 'ack']);
  });

  it('counts unacknowledged bytes per worker until the receiver acknowledges the batch', () => {
    const { network, workers } = cluster(1, 2);
    void workers.get(2)?.subscribe(subscriber('2.1'), 'x');
    network.deliverAll();
    const one = workers.get(1) as PubSub;
    one.publish('x', 'payload');
    const frameBytes = one.backlog(2);
    expect(frameBytes).toBeGreaterThan(0);
    network.endTurn();
    expect(one.backlog(2)).toBe(frameBytes);
    network.deliverTo(2);
    expect(one.backlog(2)).toBe(frameBytes);
    network.deliverTo(1);
    expect(one.backlog(2)).toBe(0);
  });
});

describe('flow control (docs/subprotocol.md §7)', () => {
  /** Publications of ~90 bytes each on topic 'x', subscribed on worker 2. */
  function congestible(options: Partial<PubSubOptions>) {
    const { network, workers } = clusterWith({ forwardHighWaterBytes: 250, forwardMaxBytes: 1000, ...options }, 1, 2);
    const remote = subscriber('2.1');
    const local = subscriber('1.1');
    void workers.get(2)?.subscribe(remote, 'x');
    void workers.get(1)?.subscribe(local, 'x');
    network.deliverAll();
    return { network, one: workers.get(1) as PubSub, two: workers.get(2) as PubSub, remote, local };
  }
  const data = 'd'.repeat(80);

  it('is congested past forwardHighWaterBytes and drains once the backlog is back under half of it', async () => {
    const { network, one } = congestible({});
    one.publish('x', data);
    one.publish('x', data);
    expect(one.congested).toBe(false);
    await one.whenDrained();
    one.publish('x', data);
    expect(one.backlog(2)).toBeGreaterThan(250);
    expect(one.congested).toBe(true);
    let drained = false;
    const done = one.whenDrained().then(() => (drained = true));
    network.endTurn();
    network.deliverTo(2);
    await Promise.resolve();
    expect(drained).toBe(false);
    network.deliverTo(1);
    await done;
    expect(drained).toBe(true);
    expect(one.congested).toBe(false);
  });

  it('refuses with OVERLOADED at forwardMaxBytes, before writing to anyone, and accepts again once acknowledged', () => {
    const { network, one, local, remote } = congestible({});
    let accepted = 0;
    let refusal: unknown = null;
    for (let i = 0; i < 50 && refusal === null; i++) {
      try {
        one.publish('x', data);
        accepted++;
      } catch (error) {
        refusal = error;
      }
    }
    expect(refusal).toMatchObject({ name: 'AppError', code: 'OVERLOADED' });
    expect(one.backlog(2)).toBeGreaterThanOrEqual(1000);
    expect(one.stats.overloaded).toBe(1);
    network.endTurn();
    expect(local.handle.sent).toHaveLength(accepted);
    network.deliverAll();
    expect(received(remote)).toHaveLength(accepted);
    expect(() => one.publish('x', data)).not.toThrow();
  });

  it('presumes a worker gone when it acknowledges nothing for ackTimeoutMs, releases waiters, and relearns its interest when it speaks again', async () => {
    vi.useFakeTimers();
    const log = captureLogs();
    const { network, one, two } = congestible({ ackTimeoutMs: 100 });
    for (let i = 0; i < 4; i++) one.publish('x', data);
    expect(one.congested).toBe(true);
    const drained = one.whenDrained();
    network.endTurn();
    // Worker 2 is stuck: what was posted to it is never read.
    network.drop(2);
    await vi.advanceTimersByTimeAsync(99);
    expect(one.stats.stalls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await drained;
    expect(one.stats.stalls).toBe(1);
    expect(one.congested).toBe(false);
    expect(one.interestedWorkers('x')).toEqual([]);
    expect(log.lines).toHaveLength(1);
    expect(String(log.lines[0]?.msg)).toContain('presumed gone');
    // Worker 2 recovers and speaks: worker 1 asks it for its interest.
    void two.subscribe(subscriber('2.9'), 'other');
    network.deliverAll();
    expect(one.interestedWorkers('x')).toEqual([2]);
    vi.useRealTimers();
  });
});
