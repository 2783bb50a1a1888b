/**
 * RawSession: a connection with no Shoal subprotocol, on the shared Context
 * (context.ts, codec null): dispatch to onMessage, the subprotocol-only
 * methods refused, raw publications, the subscription limit, clean-up at
 * close, and the publish flow control it shares with ProtocolSession.
 */
import { describe, expect, it } from 'vitest';
import { SubprotocolRequiredError } from '../../../src/app/context.ts';
import { RawSession } from '../../../src/app/raw-session.ts';
import { createAppServices, type AppServices } from '../../../src/app/services.ts';
import type { App } from '../../../src/app/types.ts';
import { msgpackCodec } from '../../../src/codec/index.ts';
import { decodeMsgpack } from '../../../src/codec/msgpack.ts';
import { expectHeldUntil } from '../../helpers/expect-held-until.ts';
import { FakeHandle, FakeNetwork, framePayload } from './fakes.ts';

function services(): AppServices {
  return createAppServices(new FakeNetwork().bus(1), { confirmTimeoutMs: 50, createCpuPool: () => null });
}

function open(app: App, shared: AppServices = services(), address = '1.1'): { handle: FakeHandle; session: RawSession } {
  const handle = new FakeHandle(address, null);
  const session = new RawSession(app, handle, shared);
  session.onOpen();
  return { handle, session };
}

describe('RawSession', () => {
  it('hands each message to onMessage with the context, the bytes and the frame type', () => {
    const seen: [unknown, string, boolean][] = [];
    const { session } = open({ onMessage: (ctx, data, isBinary) => void seen.push([ctx, data.toString(), isBinary]) });
    expect(session.onMessage(Buffer.from('hi'), false)).toBeUndefined();
    expect(seen).toEqual([[session, 'hi', false]]);
  });

  it('refuses send() with SubprotocolRequiredError and sends nothing; sendRaw writes the message as it is', () => {
    const { handle, session } = open({ onMessage() {} });
    expect(() => session.send('news', 1)).toThrow(SubprotocolRequiredError);
    expect(handle.sent).toEqual([]);
    session.sendRaw('plain');
    expect(handle.sent).toEqual([{ kind: 'send', data: 'plain', isBinary: false }]);
  });

  it('publishes a string as it is to raw subscribers and as an envelope to subprotocol ones', async () => {
    const shared = services();
    const raw = open({ onMessage() {} }, shared, '1.2');
    await raw.session.subscribe('room');
    const shoal = new FakeHandle('1.3', msgpackCodec.protocol);
    await shared.pubsub.subscribe({ handle: shoal, writer: shoal, codec: msgpackCodec, topics: new Set() }, 'room');
    const { session } = open({ onMessage: (ctx, data) => void ctx.publish('room', data.toString()) }, shared);
    session.onMessage(Buffer.from('hello'), false);
    const rawFrame = raw.handle.sent[0].data as Uint8Array;
    expect(rawFrame[0] & 0x0f).toBe(0x1);
    expect(Buffer.from(framePayload(rawFrame)).toString()).toBe('hello');
    expect(decodeMsgpack(framePayload(shoal.sent[0].data as Uint8Array))).toEqual([4, 'room', 'hello']);
  });

  it('holds subscriptions up to the app limit (256 by default) and drops them all at close', async () => {
    const shared = services();
    const { session } = open({ onMessage() {}, limits: { maxSubscriptions: 2 } }, shared);
    await session.subscribe('a');
    await session.subscribe('b');
    await session.subscribe('a');
    expect(() => session.subscribe('c')).toThrow(RangeError);
    expect(open({ onMessage() {} }, shared, '1.9').session.maxSubscriptions).toBe(256);
    session.onClose(1000, '');
    expect(session.topics.size).toBe(0);
    expect(shared.pubsub.publish('a', 'x')).toBe(0);
    expect(shared.router.sendTo('1.1', 'dm', 1)).toBe(false);
  });

  it('holds the next message after a handler that published while another worker was congested, until it has acknowledged', async () => {
    const network = new FakeNetwork();
    const options = { confirmTimeoutMs: 50, createCpuPool: () => null, scheduleFlush: network.schedule, forwardHighWaterBytes: 100 };
    const one = createAppServices(network.bus(1), options);
    const two = createAppServices(network.bus(2), options);
    const remote = new FakeHandle('2.1', null);
    void two.pubsub.subscribe({ handle: remote, writer: remote, codec: null, topics: new Set() }, 'x');
    network.deliverAll();
    const { session } = open({ onMessage: (ctx, data) => void ctx.publish('x', data, true) }, one);
    expect(session.onMessage(Buffer.alloc(10), true)).toBeUndefined();
    network.deliverAll();
    await expectHeldUntil(session.onMessage(Buffer.alloc(200), true), () => network.deliverAll());
    expect(remote.sent).toHaveLength(2);
  });
});
