import { captureLogs } from '../../helpers/log-capture.ts';
import { expectHeldUntil } from '../../helpers/expect-held-until.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../../src/app/define-app.ts';
import { AppTable, DEFAULT_LIMITS, ProtocolSession } from '../../../src/app/protocol-session.ts';
import { createAppServices, type AppServices } from '../../../src/app/services.ts';
import type { App } from '../../../src/app/types.ts';
import type { Codec } from '../../../src/codec/envelope.ts';
import { jsonCodec, msgpackCodec } from '../../../src/codec/index.ts';
import { decodeMsgpack, encodeMsgpack } from '../../../src/codec/msgpack.ts';
import { FakeHandle, FakeNetwork, framePayload } from './fakes.ts';

function services(): AppServices {
  return createAppServices(new FakeNetwork().bus(1), { confirmTimeoutMs: 50, createCpuPool: () => null });
}

function open(app: App<any>, codec: Codec = msgpackCodec, shared: AppServices = services()) {
  const handle = new FakeHandle('1.1', codec.protocol);
  const session = new ProtocolSession(app, handle, codec, shared);
  session.onOpen();
  const message = (value: unknown): unknown =>
    codec.binary ? session.onMessage(Buffer.from(encodeMsgpack(value as never)), true) : session.onMessage(Buffer.from(JSON.stringify(value)), false);
  const out = (): unknown[] =>
    handle.sent.map((sent) => {
      if (typeof sent.data === 'string') return JSON.parse(sent.data);
      const bytes = sent.kind === 'frame' ? framePayload(sent.data) : sent.data;
      return codec.binary ? decodeMsgpack(bytes) : JSON.parse(Buffer.from(bytes).toString());
    });
  return { handle, session, message, out, services: shared };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('requests (spec §4)', () => {
  it('answers a synchronous method with a reply carrying its id', () => {
    const { message, out } = open({ methods: { add: (_ctx, d: { a: number; b: number }) => d.a + d.b } });
    expect(message([1, 7, 'add', { a: 2, b: 3 }])).toBeUndefined();
    expect(out()).toEqual([[2, 7, 5]]);
  });

  it('answers an async method when its promise resolves, holding the next message back until then', async () => {
    const { message, out } = open({ methods: { later: async (_ctx, d: number) => d * 2 } });
    const pending = message([1, 1, 'later', 21]);
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    expect(out()).toEqual([[2, 1, 42]]);
  });

  it('answers an unknown method with UNKNOWN_METHOD and stays open', () => {
    const { message, out, handle } = open({ methods: {} });
    message([1, 3, 'nope', null]);
    expect(out()).toEqual([[3, 3, { code: 'UNKNOWN_METHOD', message: 'unknown method "nope"' }]]);
    expect(handle.isOpen).toBe(true);
  });

  it('refuses reserved names that are not built-ins as unknown methods', () => {
    const { message, out } = open({ methods: {} });
    message([1, 3, '$shutdown', null]);
    expect((out()[0] as any[])[2].code).toBe('UNKNOWN_METHOD');
  });

  it('turns a throwing handler into HANDLER_ERROR without details, and logs it', () => {
    const log = captureLogs();
    const { message, out, handle } = open({
      methods: {
        boom: () => {
          throw new Error('secret stack detail');
        },
      },
    });
    message([1, 4, 'boom', null]);
    expect(out()).toEqual([[3, 4, { code: 'HANDLER_ERROR', message: 'internal error in the handler' }]]);
    expect(JSON.stringify(out())).not.toContain('secret');
    expect(log.lines).toHaveLength(1);
    expect(handle.isOpen).toBe(true);
  });

  it('turns a rejecting handler into HANDLER_ERROR', async () => {
    captureLogs();
    const { message, out } = open({ methods: { bad: async () => Promise.reject(new Error('no')) } });
    await message([1, 5, 'bad', null]);
    expect(out()).toEqual([[3, 5, { code: 'HANDLER_ERROR', message: 'internal error in the handler' }]]);
  });

  it('sends an AppError with its own code, message and data', async () => {
    const { message, out } = open({
      methods: {
        nick: async () => {
          throw new AppError('NICK_TAKEN', 'nickname is taken', { nick: 'ann' });
        },
      },
    });
    await message([1, 6, 'nick', 'ann']);
    expect(out()).toEqual([[3, 6, { code: 'NICK_TAKEN', message: 'nickname is taken', data: { nick: 'ann' } }]]);
  });

  it('answers TIMEOUT when a handler does not settle in time, and drops its late result', async () => {
    vi.useFakeTimers();
    let finish: (value: number) => void = () => {};
    const { message, out, session } = open({
      methods: { slow: { handler: () => new Promise<number>((resolve) => (finish = resolve)), timeoutMs: 100 } },
    });
    const pending = message([1, 8, 'slow', null]) as Promise<void>;
    await vi.advanceTimersByTimeAsync(99);
    expect(out()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await pending;
    expect(out()).toEqual([[3, 8, { code: 'TIMEOUT', message: 'method "slow" did not answer within 100 ms' }]]);
    expect(session.inFlight).toBe(1);
    finish(1);
    await Promise.resolve();
    await Promise.resolve();
    expect(out()).toHaveLength(1);
    expect(session.inFlight).toBe(0);
  });

  it('uses the app-wide requestTimeoutMs for methods without their own', async () => {
    vi.useFakeTimers();
    const { message, out } = open({ methods: { never: () => new Promise(() => {}) }, limits: { requestTimeoutMs: 20 } });
    const pending = message([1, 1, 'never', null]) as Promise<void>;
    await vi.advanceTimersByTimeAsync(20);
    await pending;
    expect((out()[0] as any[])[2].code).toBe('TIMEOUT');
  });

  it('answers TOO_MANY_REQUESTS while timed-out handlers fill the in-flight limit', async () => {
    vi.useFakeTimers();
    const { message, out } = open({
      methods: { never: { handler: () => new Promise(() => {}), timeoutMs: 10 }, ping: () => 'pong' },
      limits: { maxOutstandingRequests: 2 },
    });
    for (const id of [1, 2]) {
      const pending = message([1, id, 'never', null]) as Promise<void>;
      await vi.advanceTimersByTimeAsync(10);
      await pending;
    }
    message([1, 3, 'ping', null]);
    expect(out()[2]).toEqual([3, 3, { code: 'TOO_MANY_REQUESTS', message: 'more than 2 requests in flight' }]);
  });

  it('answers BAD_REQUEST for an id that is still outstanding', async () => {
    const { message, out } = open({ methods: { wait: () => new Promise((resolve) => setTimeout(resolve, 5, 'ok')) } });
    const first = message([1, 9, 'wait', null]);
    message([1, 9, 'wait', null]);
    expect(out()).toEqual([[3, 9, { code: 'BAD_REQUEST', message: 'request id 9 is already in use' }]]);
    await first;
    expect(out()[1]).toEqual([2, 9, 'ok']);
  });

  it('answers HANDLER_ERROR when the result cannot be encoded (JSON twin and BigInt)', () => {
    captureLogs();
    const { message, out } = open({ methods: { big: () => 10n } }, jsonCodec);
    message([1, 2, 'big', null]);
    expect(out()).toEqual([[3, 2, { code: 'HANDLER_ERROR', message: 'the result could not be encoded' }]]);
  });

  it('runs cpu: true methods inline when no CPU pool is available', () => {
    const { message, out } = open({ methods: { fib: { handler: (_ctx, n: number) => n + 1, cpu: true } } });
    message([1, 1, 'fib', 1]);
    expect(out()).toEqual([[2, 1, 2]]);
  });
});

describe('events (spec §4, §6)', () => {
  it('calls the event handler with the data and sends nothing back', () => {
    const seen: unknown[] = [];
    const { message, out } = open({ events: { note: (_ctx, d) => void seen.push(d) } });
    message([0, 'note', { x: 1 }]);
    expect(seen).toEqual([{ x: 1 }]);
    expect(out()).toEqual([]);
  });

  it('answers an unknown event with an $error event', () => {
    const { message, out } = open({ events: {} });
    message([0, 'what', null]);
    expect(out()).toEqual([[0, '$error', { code: 'UNKNOWN_EVENT', message: 'unknown event "what"', data: { event: 'what' } }]]);
  });

  it('answers a throwing event handler with an $error event and stays open', () => {
    captureLogs();
    const { message, out, handle } = open({
      events: {
        bad: () => {
          throw new Error('x');
        },
      },
    });
    message([0, 'bad', null]);
    expect(out()).toEqual([[0, '$error', { code: 'HANDLER_ERROR', message: 'internal error in the handler', data: { event: 'bad' } }]]);
    expect(handle.isOpen).toBe(true);
  });
});

describe('bad input (spec §6)', () => {
  it('closes with 1003 on a text message on the msgpack protocol', () => {
    const { session, handle } = open({ methods: {} });
    session.onMessage(Buffer.from('[0,"x",null]'), false);
    expect(handle.closedWith).toEqual({ code: 1003, reason: 'text message on the msgpack protocol' });
  });

  it('closes with 1003 on a binary message on the JSON protocol', () => {
    const { session, handle } = open({ methods: {} }, jsonCodec);
    session.onMessage(Buffer.from([0x93, 0, 0xa1, 0x78, 0xc0]), true);
    expect(handle.closedWith).toEqual({ code: 1003, reason: 'binary message on the JSON protocol' });
  });

  it('closes with 1007 on bytes that are not msgpack', () => {
    const { session, handle } = open({ methods: {} });
    session.onMessage(Buffer.from([0x93, 0x00]), true);
    expect(handle.closedWith?.code).toBe(1007);
  });

  it('closes with 1007 on a valid value that is not an envelope, and ignores what follows', () => {
    const seen: unknown[] = [];
    const { message, handle } = open({ events: { x: (_ctx, d) => void seen.push(d) } });
    message({ hello: 'world' });
    expect(handle.closedWith).toEqual({ code: 1007, reason: 'message must be a non-empty array' });
    message([0, 'x', 1]);
    expect(seen).toEqual([]);
  });

  it('closes with 1007 on a JSON text that is not JSON', () => {
    const { session, handle } = open({ methods: {} }, jsonCodec);
    session.onMessage(Buffer.from('{nope'), false);
    expect(handle.closedWith?.code).toBe(1007);
  });
});

describe('built-in $subscribe / $unsubscribe (spec §5)', () => {
  it('subscribes, replies null, and receives publications', async () => {
    const { message, out, services: shared } = open({ methods: {} });
    await message([1, 1, '$subscribe', 'news']);
    expect(out()).toEqual([[2, 1, null]]);
    expect(shared.pubsub.subscriberCount('news')).toBe(1);
    shared.pubsub.publish('news', 'hi');
    expect(out()[1]).toEqual([4, 'news', 'hi']);
  });

  it('unsubscribes, replying whether it was subscribed', async () => {
    const { message, out, services: shared } = open({ methods: {} });
    await message([1, 1, '$subscribe', 'news']);
    await message([1, 2, '$unsubscribe', 'news']);
    await message([1, 3, '$unsubscribe', 'news']);
    expect(out().slice(1)).toEqual([
      [2, 2, true],
      [2, 3, false],
    ]);
    expect(shared.pubsub.subscriberCount('news')).toBe(0);
  });

  it('answers BAD_REQUEST when the topic is not a name', async () => {
    const { message, out } = open({ methods: {} });
    await message([1, 1, '$subscribe', 42]);
    expect((out()[0] as any[])[2].code).toBe('BAD_REQUEST');
  });

  it('answers FORBIDDEN when authorizeSubscribe refuses', async () => {
    const { message, out, services: shared } = open({ methods: {}, authorizeSubscribe: (_ctx, topic) => topic.startsWith('public:') });
    await message([1, 1, '$subscribe', 'secret']);
    await message([1, 2, '$subscribe', 'public:a']);
    expect(out()).toEqual([
      [3, 1, { code: 'FORBIDDEN', message: 'subscription to "secret" refused' }],
      [2, 2, null],
    ]);
    expect(shared.pubsub.subscriberCount('secret')).toBe(0);
  });

  it('answers TOO_MANY_SUBSCRIPTIONS past maxSubscriptions', async () => {
    const { message, out } = open({ methods: {}, limits: { maxSubscriptions: 2 } });
    for (const [id, topic] of [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'a']] as const) await message([1, id, '$subscribe', topic]);
    expect(out()).toEqual([
      [2, 1, null],
      [2, 2, null],
      [3, 3, { code: 'TOO_MANY_SUBSCRIPTIONS', message: 'this connection already holds 2 subscriptions' }],
      [2, 4, null],
    ]);
  });
});

describe('context and lifetime', () => {
  it('ctx.send writes an event in the connection codec; a bad name throws before anything is sent', () => {
    const { session, out } = open({ methods: {} }, jsonCodec);
    session.send('welcome', { n: 1 });
    expect(() => session.send('', 1)).toThrow(TypeError);
    expect(out()).toEqual([[0, 'welcome', { n: 1 }]]);
  });

  it('exposes address, protocol, upgrade data and per-connection state', () => {
    const shared = services();
    const handle = new FakeHandle('1.4', msgpackCodec.protocol, { user: 'ann' });
    const session = new ProtocolSession({ methods: { bump: (ctx) => ((ctx.state.n = ((ctx.state.n as number) ?? 0) + 1), ctx.state.n) } }, handle, msgpackCodec, shared);
    expect(session.address).toBe('1.4');
    expect(session.protocol).toBe('v1.msgpack.shoal.dev');
    expect(session.upgradeData).toEqual({ user: 'ann' });
    session.onMessage(Buffer.from(encodeMsgpack([1, 1, 'bump', null])), true);
    session.onMessage(Buffer.from(encodeMsgpack([1, 2, 'bump', null])), true);
    expect(handle.sent.map((sent) => decodeMsgpack(sent.data as Uint8Array))).toEqual([
      [2, 1, 1],
      [2, 2, 2],
    ]);
  });

  it('on close: drops every subscription, leaves the router, then calls the app', async () => {
    const closes: unknown[] = [];
    const { message, session, services: shared } = open({ methods: {}, onClose: (_ctx, code, reason) => void closes.push([code, reason]) });
    await message([1, 1, '$subscribe', 'a']);
    await message([1, 2, '$subscribe', 'b']);
    await session.onClose(1001, 'going away');
    expect(shared.pubsub.subscriberCount('a')).toBe(0);
    expect(shared.pubsub.subscriberCount('b')).toBe(0);
    expect(shared.router.sendTo('1.1', 'x', null)).toBe(false);
    expect(closes).toEqual([[1001, 'going away']]);
  });

  it('sendTo reaches another connection of the same worker', () => {
    const shared = services();
    const a = open({ methods: {} }, msgpackCodec, shared);
    const bHandle = new FakeHandle('1.2', jsonCodec.protocol);
    new ProtocolSession({ methods: {} }, bHandle, jsonCodec, shared).onOpen();
    expect(a.session.sendTo('1.2', 'dm', 'psst')).toBe(true);
    expect(bHandle.sent[0].data).toBe('[0,"dm","psst"]');
  });
});

describe('publish flow control (docs/subprotocol.md §7)', () => {
  /** Worker 1 (the session's) and worker 2 with a subscriber of 'x'; a backlog past 100 bytes congests worker 1. */
  function twoWorkers() {
    const network = new FakeNetwork();
    const options = { confirmTimeoutMs: 50, createCpuPool: () => null, scheduleFlush: network.schedule, forwardHighWaterBytes: 100 };
    const one = createAppServices(network.bus(1), options);
    const two = createAppServices(network.bus(2), options);
    const remote = new FakeHandle('2.1', msgpackCodec.protocol);
    void two.pubsub.subscribe({ handle: remote, writer: remote, codec: msgpackCodec, topics: new Set() }, 'x');
    network.deliverAll();
    const app: App<any> = {
      methods: {
        publish(ctx, data: string) {
          ctx.publish('x', data);
          return 'published';
        },
      },
      events: {
        publish(ctx, data: string) {
          ctx.publish('x', data);
        },
      },
    };
    return { network, one, remote, ...open(app, msgpackCodec, one) };
  }
  const big = 'b'.repeat(200);

  it('answers at once while the fan-out keeps up', () => {
    const { message, out } = twoWorkers();
    expect(message([1, 1, 'publish', 'small'])).toBeUndefined();
    expect(out()).toEqual([[2, 1, 'published']]);
  });

  it('holds the reply of a request that published while another worker was congested until that worker has acknowledged', async () => {
    const { message, out, network, one, remote } = twoWorkers();
    const held = message([1, 1, 'publish', big]);
    expect(held).toBeInstanceOf(Promise);
    expect(one.pubsub.congested).toBe(true);
    expect(out()).toEqual([]);
    network.endTurn();
    network.deliverTo(2);
    expect(remote.sent).toHaveLength(1);
    await Promise.resolve();
    expect(out()).toEqual([]);
    network.deliverTo(1);
    await held;
    expect(out()).toEqual([[2, 1, 'published']]);
    expect(one.pubsub.congested).toBe(false);
  });

  it('holds the next message after an event that published while congested', async () => {
    const { message, network } = twoWorkers();
    await expectHeldUntil(message([0, 'publish', big]), () => network.deliverAll());
  });

  it('answers OVERLOADED when the backlog of another worker reached its maximum, and stays open', () => {
    const network = new FakeNetwork();
    const options = { confirmTimeoutMs: 50, createCpuPool: () => null, scheduleFlush: network.schedule, forwardMaxBytes: 100 };
    const one = createAppServices(network.bus(1), options);
    const two = createAppServices(network.bus(2), options);
    const remote = new FakeHandle('2.1', msgpackCodec.protocol);
    void two.pubsub.subscribe({ handle: remote, writer: remote, codec: msgpackCodec, topics: new Set() }, 'x');
    network.deliverAll();
    one.pubsub.publish('x', big);
    const { message, out, handle } = open({ methods: { publish: (ctx, data: string) => ctx.publish('x', data) } }, msgpackCodec, one);
    message([1, 9, 'publish', big]);
    expect(out()).toEqual([[3, 9, { code: 'OVERLOADED', message: expect.stringContaining('worker 2') }]]);
    expect(handle.isOpen).toBe(true);
  });
});

describe('limits', () => {
  it('keeps the default of a limit that an app sets to undefined (a spread would have removed it)', () => {
    const table = new AppTable({ methods: {}, limits: { requestTimeoutMs: undefined, maxSubscriptions: undefined, maxOutstandingRequests: 3 } });
    expect(table.limits).toEqual({ requestTimeoutMs: DEFAULT_LIMITS.requestTimeoutMs, maxSubscriptions: DEFAULT_LIMITS.maxSubscriptions, maxOutstandingRequests: 3 });
  });
});
