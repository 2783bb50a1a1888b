import { describe, expect, it } from 'vitest';
import { Router, type Routable } from '../../../src/app/routing.ts';
import type { Codec } from '../../../src/codec/envelope.ts';
import { jsonCodec, msgpackCodec } from '../../../src/codec/index.ts';
import { decodeMsgpack } from '../../../src/codec/msgpack.ts';
import { createAppServices } from '../../../src/app/services.ts';
import { FakeHandle, FakeNetwork } from './fakes.ts';

function target(address: string, codec: Codec = msgpackCodec): Routable & { handle: FakeHandle } {
  return { handle: new FakeHandle(address, codec.protocol), codec };
}

function routers(...ids: number[]): { network: FakeNetwork; routers: Map<number, Router> } {
  const network = new FakeNetwork();
  const map = new Map<number, Router>();
  for (const id of ids) {
    const bus = network.bus(id);
    const router = new Router(bus);
    bus.listen((message) => router.receive(message));
    map.set(id, router);
  }
  return { network, routers: map };
}

describe('Router', () => {
  it('writes an event to a local connection in its codec', () => {
    const { routers: map } = routers(1);
    const router = map.get(1) as Router;
    const binary = target('1.1');
    const text = target('1.2', jsonCodec);
    router.register(binary);
    router.register(text);
    expect(router.sendTo('1.1', 'dm', { from: 'a' })).toBe(true);
    expect(router.sendTo('1.2', 'dm', { from: 'a' })).toBe(true);
    expect(binary.handle.sent[0].isBinary).toBe(true);
    expect(decodeMsgpack(binary.handle.sent[0].data as Uint8Array)).toEqual([0, 'dm', { from: 'a' }]);
    expect(text.handle.sent[0]).toEqual({ kind: 'send', data: '[0,"dm",{"from":"a"}]', isBinary: false });
  });

  it('returns false for a malformed address or a local connection that has gone', () => {
    const { routers: map } = routers(1);
    const router = map.get(1) as Router;
    const gone = target('1.1');
    router.register(gone);
    router.unregister(gone);
    expect(router.sendTo('1.1', 'dm', null)).toBe(false);
    expect(router.sendTo('nonsense', 'dm', null)).toBe(false);
    expect(router.stats.dropped).toBe(1);
  });

  it('hands an event for another worker to that worker only, which writes it to the connection', () => {
    const { network, routers: map } = routers(1, 2, 3);
    const onTwo = target('2.5');
    const onTwoText = target('2.6', jsonCodec);
    map.get(2)?.register(onTwo);
    map.get(2)?.register(onTwoText);
    expect(map.get(1)?.sendTo('2.5', 'dm', 'hi')).toBe(true);
    expect(map.get(1)?.sendTo('2.6', 'dm', 'hi')).toBe(true);
    expect(network.queues.get(3)).toEqual([]);
    network.deliverAll();
    expect(decodeMsgpack(onTwo.handle.sent[0].data as Uint8Array)).toEqual([0, 'dm', 'hi']);
    expect(onTwoText.handle.sent[0].data).toBe('[0,"dm","hi"]');
    expect(map.get(2)?.stats.delivered).toBe(2);
  });

  it('keeps the order of events from one sender to one address', () => {
    const { network, routers: map } = routers(1, 2);
    const onTwo = target('2.1');
    map.get(2)?.register(onTwo);
    for (let i = 0; i < 50; i++) map.get(1)?.sendTo('2.1', 'n', i);
    network.deliverAll();
    expect(onTwo.handle.sent.map((sent) => (decodeMsgpack(sent.data as Uint8Array) as unknown[])[2])).toEqual([...Array(50).keys()]);
  });

  it('drops an event for a remote connection that has gone', () => {
    const { network, routers: map } = routers(1, 2);
    map.get(1)?.sendTo('2.9', 'dm', 1);
    network.deliverAll();
    expect(map.get(2)?.stats.dropped).toBe(1);
  });
});

describe('an event after publications of the same worker', () => {
  it('reaches a connection of another worker after the publications made before it in the turn', () => {
    const network = new FakeNetwork();
    const options = { confirmTimeoutMs: 50, createCpuPool: () => null, scheduleFlush: network.schedule };
    const one = createAppServices(network.bus(1), options);
    const two = createAppServices(network.bus(2), options);
    const remote: Routable & { handle: FakeHandle } = { handle: new FakeHandle('2.1', null), codec: null };
    two.router.register(remote);
    void two.pubsub.subscribe({ handle: remote.handle, writer: remote.handle, codec: null, topics: new Set() }, 't');
    network.deliverAll();
    // Worker 1's publications to worker 2 wait for the end of its turn; the event is sent in the same turn.
    one.pubsub.publish('t', Buffer.from('p1'), true, true);
    expect(one.router.sendTo('2.1', 'ev', Buffer.from('e1'))).toBe(true);
    one.pubsub.publish('t', Buffer.from('p2'), true, true);
    network.deliverAll();
    // A raw connection gets each as one binary message: its payload is the frame's last bytes.
    const payloads = remote.handle.sent.map((sent) => Buffer.from(sent.data as Uint8Array).subarray(-2).toString());
    expect(payloads).toEqual(['p1', 'e1', 'p2']);
  });
});
