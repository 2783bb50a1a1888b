/**
 * Raw publications (pubsub/raw-message.ts, deliver-publication.ts) and the
 * PubSub side of the broker interface (broker.ts), with fakes: what each form
 * of subscriber receives, what crosses workers, and what goes to and comes
 * from a broker.
 */
import { describe, expect, it } from 'vitest';
import type { Broker, BrokerReceiver } from '../../../../src/app/broker.ts';
import { emptyBrokerStats } from '../../../../src/app/broker.ts';
import { AppError } from '../../../../src/app/define-app.ts';
import { PublicationForm } from '../../../../src/app/pubsub/deliver-publication.ts';
import type { Subscriber, SubscriberFormat } from '../../../../src/app/pubsub/local-subscriptions.ts';
import { PubSub } from '../../../../src/app/pubsub/pubsub.ts';
import { decodeRawFrame, encodeRawFrame } from '../../../../src/app/pubsub/raw-message.ts';
import { ErrorCode } from '../../../../src/codec/envelope.ts';
import { jsonCodec, msgpackCodec } from '../../../../src/codec/index.ts';
import { decodeMsgpack } from '../../../../src/codec/msgpack.ts';
import { FakeHandle, FakeNetwork, framePayload } from '../fakes.ts';

function subscriber(address: string, codec: SubscriberFormat): Subscriber & { handle: FakeHandle } {
  const handle = new FakeHandle(address, codec?.protocol ?? null);
  return { handle, writer: handle, codec, topics: new Set() };
}

/** What a subscriber received: [opcode, payload as text (text frames) or bytes/decoded msgpack]. */
function received(sub: Subscriber & { handle: FakeHandle }): unknown[] {
  return sub.handle.sent.map((sent) => {
    const frame = sent.data as Uint8Array;
    const payload = framePayload(frame);
    if ((frame[0] & 0x0f) === 0x1) return ['text', Buffer.from(payload).toString()];
    return ['binary', sub.codec === msgpackCodec ? decodeMsgpack(payload) : [...payload]];
  });
}

class FakeBroker implements Broker {
  readonly nodeId = 'n1';
  state: Broker['state'] = 'ready';
  readonly stats = emptyBrokerStats();
  readonly published: [string, number, Uint8Array][] = [];
  readonly interests: [string, boolean][] = [];
  receiver: BrokerReceiver | null = null;
  confirm = Promise.withResolvers<void>();
  congested = false;
  listen(receiver: BrokerReceiver): void {
    this.receiver = receiver;
  }
  interest(topic: string, on: boolean): Promise<void> {
    this.interests.push([topic, on]);
    return on ? this.confirm.promise : Promise.resolve();
  }
  admit(topic: string): void {
    if (this.state !== 'ready') throw new AppError(ErrorCode.BROKER_UNAVAILABLE, `no broker for ${topic}`);
  }
  publish(topic: string, form: PublicationForm, frame: Uint8Array): void {
    this.published.push([topic, form, frame]);
  }
  sendTo(): boolean {
    return false;
  }
  whenDrained(): Promise<void> {
    return Promise.resolve();
  }
  async close(): Promise<void> {}
}

function workers(broker: FakeBroker | null = null): { network: FakeNetwork; one: PubSub; two: PubSub } {
  const network = new FakeNetwork();
  const make = (id: number): PubSub => {
    const bus = network.bus(id);
    const pubsub = new PubSub(bus, { confirmTimeoutMs: 50, scheduleFlush: network.schedule }, id === 1 ? broker : null);
    bus.listen((message) => pubsub.receive(message));
    return pubsub;
  };
  const one = make(1);
  const two = make(2);
  one.start();
  two.start();
  network.deliverAll();
  return { network, one, two };
}

describe('raw frames', () => {
  it('carry bytes as binary, strings as text, other values as JSON text; isBinary overrides', () => {
    expect([...(decodeRawFrame(encodeRawFrame(new Uint8Array([1, 2]))) as Uint8Array)]).toEqual([1, 2]);
    expect(decodeRawFrame(encodeRawFrame('héllo'))).toBe('héllo');
    expect(decodeRawFrame(encodeRawFrame({ a: [1] }))).toBe('{"a":[1]}');
    expect(decodeRawFrame(encodeRawFrame(undefined))).toBe('null');
    expect(encodeRawFrame('x', true)[0]).toBe(0x82);
    expect(encodeRawFrame(Buffer.from('ok'), false)[0]).toBe(0x81);
    const long = 'y'.repeat(70_000);
    expect(decodeRawFrame(encodeRawFrame(long))).toBe(long);
  });

  it('refuse bytes sent as text that are not UTF-8, and values JSON cannot carry', () => {
    expect(() => encodeRawFrame(new Uint8Array([0xff]), false)).toThrow(TypeError);
    expect(() => encodeRawFrame({ big: 1n })).toThrow(TypeError);
  });
});

describe('a topic with raw and subprotocol subscribers', () => {
  it('gives each form its own frame, on the publishing worker and on another one', () => {
    const { network, one, two } = workers();
    const subs = [subscriber('1.1', null), subscriber('1.2', msgpackCodec), subscriber('1.3', jsonCodec)];
    const remote = [subscriber('2.1', null), subscriber('2.2', msgpackCodec), subscriber('2.3', jsonCodec)];
    for (const sub of subs) void one.subscribe(sub, 't');
    for (const sub of remote) void two.subscribe(sub, 't');
    network.deliverAll();
    expect(one.publish('t', new Uint8Array([7]), undefined, true)).toBe(3);
    expect(one.publish('t', 'text', undefined, true)).toBe(3);
    expect(one.publish('t', { v: 1 })).toBe(3);
    network.deliverAll();
    for (const [raw, msgpack, json] of [subs, remote]) {
      expect(received(raw)).toEqual([['binary', [7]], ['text', 'text'], ['text', '{"v":1}']]);
      expect(received(msgpack)).toEqual([
        ['binary', [4, 't', new Uint8Array([7])]],
        ['binary', [4, 't', 'text']],
        ['binary', [4, 't', { v: 1 }]],
      ]);
      expect(received(json)).toEqual([['text', '[4,"t","Bw=="]'], ['text', '[4,"t","text"]'], ['text', '[4,"t",{"v":1}]']]);
    }
  });

  it('throws before sending anything when the value cannot be written for a local form, and counts a remote one left out', () => {
    const { network, one, two } = workers();
    const raw = subscriber('1.1', null);
    const msgpack = subscriber('1.2', msgpackCodec);
    void one.subscribe(raw, 'big');
    void one.subscribe(msgpack, 'big');
    const remoteRaw = subscriber('2.1', null);
    void two.subscribe(remoteRaw, 'big');
    network.deliverAll();
    expect(() => one.publish('big', 2n ** 60n)).toThrow();
    expect(msgpack.handle.sent).toEqual([]);
    one.unsubscribe(raw, 'big');
    expect(one.publish('big', 2n ** 60n)).toBe(1);
    network.deliverAll();
    expect(remoteRaw.handle.sent).toEqual([]);
    expect(two.stats.undeliverable).toBe(1);
  });
});

describe('PubSub with a broker', () => {
  it('sends each publication made here once to the broker, in its form, and delivers locally without it', () => {
    const broker = new FakeBroker();
    const { one } = workers(broker);
    const local = subscriber('1.1', null);
    void one.subscribe(local, 'b');
    one.publish('b', 'raw one', undefined, true);
    one.publish('nobody-here', { x: 1 });
    expect(broker.published.map(([topic, form]) => [topic, form])).toEqual([
      ['b', PublicationForm.RAW],
      ['nobody-here', PublicationForm.ENVELOPE],
    ]);
    expect(received(local)).toEqual([['text', 'raw one']]);
  });

  it('refuses with BROKER_UNAVAILABLE before anything is written while the broker is not connected', () => {
    const broker = new FakeBroker();
    const { one } = workers(broker);
    const local = subscriber('1.1', msgpackCodec);
    void one.subscribe(local, 'b');
    broker.state = 'reconnecting';
    expect(() => one.publish('b', 1)).toThrow(expect.objectContaining({ code: ErrorCode.BROKER_UNAVAILABLE }));
    expect(local.handle.sent).toEqual([]);
    expect(broker.published).toEqual([]);
  });

  it('registers interest on the first subscriber and drops it with the last; subscribe waits for the broker', async () => {
    const broker = new FakeBroker();
    const { network, one } = workers(broker);
    const a = subscriber('1.1', null);
    const b = subscriber('1.2', null);
    let confirmed = false;
    void one.subscribe(a, 'i').then(() => (confirmed = true));
    void one.subscribe(b, 'i');
    network.deliverAll();
    await Promise.resolve();
    expect(confirmed).toBe(false);
    broker.confirm.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(confirmed).toBe(true);
    one.unsubscribe(a, 'i');
    one.unsubscribe(b, 'i');
    expect(broker.interests).toEqual([
      ['i', true],
      ['i', false],
    ]);
  });

  it('delivers another node\'s publications to this worker\'s subscribers only, never forwarding them to other workers', () => {
    const broker = new FakeBroker();
    const { network, one, two } = workers(broker);
    const here = subscriber('1.1', msgpackCodec);
    const there = subscriber('2.1', msgpackCodec);
    void one.subscribe(here, 'n');
    void two.subscribe(there, 'n');
    network.deliverAll();
    const frame = encodeRawFrame('from another node');
    one.receiveFromBroker('n', PublicationForm.RAW, frame);
    network.deliverAll();
    expect(received(here)).toEqual([['binary', [4, 'n', 'from another node']]]);
    expect(there.handle.sent).toEqual([]);
  });
});
