/**
 * The topic batch of a turn (src/app/pubsub/topic-batch.ts) through the real
 * write path: PubSub, ConnectionActor and SocketBinding over sockets that
 * record what they are given. Each test makes its publications, sends,
 * subscriptions and closes in one synchronous stretch (one event-loop turn),
 * then reads what every connection was sent, in order. Each ordering rule
 * below fails if the batch were not closed at the moment the rule names.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionActor } from '../../../src/actors/connection-actor.ts';
import type { Subscriber } from '../../../src/app/pubsub/local-subscriptions.ts';
import { PubSub } from '../../../src/app/pubsub/pubsub.ts';
import { Router } from '../../../src/app/routing.ts';
import type { Session } from '../../../src/app/types.ts';
import { decodeMsgpack, msgpackCodec } from '../../../src/codec/msgpack.ts';
import { Opcode } from '../../../src/protocol/constants.ts';
import { SocketBinding } from '../../../src/transport/socket-binding.ts';
import { parseServerFrames } from '../../conformance/frame-cases.ts';
import { clientFrame } from '../../helpers/raw-socket.ts';
import { StubSocket } from '../../helpers/stub-socket.ts';
import { FakeNetwork, type FakeBus } from '../app/fakes.ts';

const config = { maxMessageBytes: 1 << 20, maxBackpressureBytes: 1000, handshakeTimeoutMs: 1e9, idleTimeoutMs: 0, pingIntervalMs: 0, closeTimeoutMs: 1e9 };
const delegate = { handshakeData() {}, handshakeTimedOut() {}, closed() {} };
const turn = () => new Promise((resolve) => setImmediate(resolve));

interface Conn {
  socket: StubSocket;
  binding: SocketBinding;
  actor: ConnectionActor;
  sub: Subscriber;
  /** What the connection received so far: text and binary messages as strings, msgpack publications as `topic:data`, a close as `close:code`. */
  received(): string[];
}

let nextConnection = 1;

/** An open connection; `codec` null: a raw subscriber, else a msgpack one. */
function connect(codec: typeof msgpackCodec | null = null, session?: (actor: ConnectionActor) => Session): Conn {
  const socket = new StubSocket();
  const binding = new SocketBinding(socket as unknown as Socket, config, delegate, 1);
  const address = `1.${nextConnection++}`;
  const actor = new ConnectionActor(binding, { address, protocol: codec === null ? null : codec.protocol, upgradeData: undefined }, { mailboxSize: 100, mailboxBytes: 1 << 20 });
  binding.accept(Buffer.alloc(0), actor);
  actor.start(session?.(actor) ?? { onOpen() {}, onMessage() {}, onClose() {} });
  binding.resumeAfterUpgrade(Buffer.alloc(0));
  const sub: Subscriber = { handle: actor, writer: actor.frameWriter, codec, topics: new Set() };
  return {
    socket,
    binding,
    actor,
    sub,
    received: () =>
      parseServerFrames(Buffer.concat(socket.writes)).frames.map((frame) => {
        if (frame.opcode === Opcode.CLOSE) return `close:${frame.payload.readUInt16BE(0)}`;
        if (frame.opcode === Opcode.PING) return 'ping';
        if (codec !== null) {
          const [, topic, data] = decodeMsgpack(frame.payload) as [number, string, string];
          return `${topic}:${data}`;
        }
        return frame.payload.toString();
      }),
  };
}

function pubsubs(...workerIds: number[]): { network: FakeNetwork; workers: PubSub[] } {
  const network = new FakeNetwork();
  const workers = workerIds.map((id) => {
    const bus = network.bus(id);
    const pubsub = new PubSub(bus, { scheduleFlush: network.schedule });
    bus.listen((message) => pubsub.receive(message));
    return pubsub;
  });
  for (const pubsub of workers) pubsub.start();
  network.deliverAll();
  return { network, workers };
}

/** A raw publication of text (what a raw publisher sends). */
function publish(pubsub: PubSub, topic: string, text: string): number {
  return pubsub.publish(topic, text, false, true);
}

describe('topic batch of a turn', () => {
  it('keeps one publisher\'s order across topics: t1:A, t1:A2, t2:B, t1:C reach a subscriber of both in that order', async () => {
    const [pubsub] = pubsubs(1).workers;
    const both = connect();
    const onlyT1 = connect();
    void pubsub.subscribe(both.sub, 't1');
    void pubsub.subscribe(both.sub, 't2');
    void pubsub.subscribe(onlyT1.sub, 't1');
    for (const [topic, text] of [['t1', 'A'], ['t1', 'A2'], ['t2', 'B'], ['t1', 'C'], ['t1', 'D']]) publish(pubsub, topic, text);
    await turn();
    expect(both.received()).toEqual(['A', 'A2', 'B', 'C', 'D']);
    expect(onlyT1.received()).toEqual(['A', 'A2', 'C', 'D']);
    // One write per connection for the turn, and every publication counted as a message.
    expect(both.socket.writes).toHaveLength(1);
    expect(both.actor.messagesOut).toBe(5);
    expect(onlyT1.actor.messagesOut).toBe(4);
  });

  it('keeps the order of a subscriber\'s own sends between publications, outside and inside its reads', async () => {
    const [pubsub] = pubsubs(1).workers;
    const other = connect();
    const self = connect(null, (actor) => ({
      onOpen() {},
      onMessage() {
        // In this connection's read: its replies go through the read's write buffer.
        publish(pubsub, 't', 'D');
        publish(pubsub, 't', 'E');
        actor.send('r2', false);
        publish(pubsub, 't', 'F');
      },
      onClose() {},
    }));
    void pubsub.subscribe(self.sub, 't');
    void pubsub.subscribe(other.sub, 't');
    publish(pubsub, 't', 'A');
    publish(pubsub, 't', 'B');
    self.actor.send('r1', false);
    publish(pubsub, 't', 'C');
    self.actor.deliver(Buffer.from('go'), false);
    await turn();
    expect(self.received()).toEqual(['A', 'B', 'r1', 'C', 'D', 'E', 'r2', 'F']);
    expect(other.received()).toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
  });

  it('keeps the order when the subscriber\'s reply is written during its own socket read', async () => {
    const [pubsub] = pubsubs(1).workers;
    const self = connect(null, (actor) => ({
      onOpen() {},
      onMessage(data) {
        publish(pubsub, 't', 'D');
        publish(pubsub, 't', 'E');
        // Bytes: framed by the binding into the read's write buffer (a string goes through ServerConnection.send).
        actor.send(Buffer.from(`re:${data.toString()}`), false);
        publish(pubsub, 't', 'F');
      },
      onClose() {},
    }));
    void pubsub.subscribe(self.sub, 't');
    publish(pubsub, 't', 'A');
    publish(pubsub, 't', 'B');
    // A client frame read from the socket: the echo is written in the read, corked with the read's other writes.
    (self.socket as unknown as { emit(event: string, chunk: Buffer): void }).emit('data', clientFrame(Opcode.TEXT, 'x'));
    publish(pubsub, 't', 'C');
    await turn();
    expect(self.received()).toEqual(['A', 'B', 'D', 'E', 're:x', 'F', 'C']);
  });

  it('writes a ping after the publications before it', async () => {
    const [pubsub] = pubsubs(1).workers;
    const sub = connect();
    void pubsub.subscribe(sub.sub, 't');
    publish(pubsub, 't', 'A');
    publish(pubsub, 't', 'B');
    sub.binding.connection?.ping();
    publish(pubsub, 't', 'C');
    await turn();
    expect(sub.received()).toEqual(['A', 'B', 'ping', 'C']);
  });

  it('does not give a publication to a connection that subscribes after it in the same turn', async () => {
    const [pubsub] = pubsubs(1).workers;
    const early = connect();
    const late = connect();
    void pubsub.subscribe(early.sub, 't');
    publish(pubsub, 't', 'A');
    publish(pubsub, 't', 'B');
    void pubsub.subscribe(late.sub, 't');
    expect(publish(pubsub, 't', 'C')).toBe(2);
    expect(publish(pubsub, 't', 'D')).toBe(2);
    await turn();
    expect(early.received()).toEqual(['A', 'B', 'C', 'D']);
    expect(late.received()).toEqual(['C', 'D']);
  });

  it('gives a publication to a connection that unsubscribes after it in the same turn', async () => {
    const [pubsub] = pubsubs(1).workers;
    const stays = connect();
    const leaves = connect();
    void pubsub.subscribe(stays.sub, 't');
    void pubsub.subscribe(leaves.sub, 't');
    expect(publish(pubsub, 't', 'A')).toBe(2);
    expect(publish(pubsub, 't', 'B')).toBe(2);
    pubsub.unsubscribe(leaves.sub, 't');
    expect(publish(pubsub, 't', 'C')).toBe(1);
    await turn();
    expect(stays.received()).toEqual(['A', 'B', 'C']);
    expect(leaves.received()).toEqual(['A', 'B']);
  });

  it('writes a subscriber\'s close frame after the publications before it, and counts it out of the ones after', async () => {
    const [pubsub] = pubsubs(1).workers;
    const stays = connect();
    const closes = connect();
    void pubsub.subscribe(stays.sub, 't');
    void pubsub.subscribe(closes.sub, 't');
    publish(pubsub, 't', 'A');
    publish(pubsub, 't', 'B');
    closes.actor.close(4000, 'bye');
    expect(publish(pubsub, 't', 'C')).toBe(1);
    expect(publish(pubsub, 't', 'D')).toBe(1);
    await turn();
    expect(closes.received()).toEqual(['A', 'B', 'close:4000']);
    expect(stays.received()).toEqual(['A', 'B', 'C', 'D']);
  });

  it('writes the publications before a close the client sent mid-turn ahead of the close reply, and a protocol error\'s close likewise', async () => {
    const [pubsub] = pubsubs(1).workers;
    const stays = connect();
    const closes = connect();
    const fails = connect();
    for (const conn of [stays, closes, fails]) void pubsub.subscribe(conn.sub, 't');
    publish(pubsub, 't', 'A');
    publish(pubsub, 't', 'B');
    const closeFrame = Buffer.alloc(2);
    closeFrame.writeUInt16BE(4001);
    closes.socket.emit('data', clientFrame(Opcode.CLOSE, closeFrame));
    // An unmasked client frame: a protocol error (RFC 6455 §5.1), the connection is failed with 1002.
    fails.socket.emit('data', Buffer.from([0x81, 0x01, 0x78]));
    expect(publish(pubsub, 't', 'C')).toBe(1);
    await turn();
    expect(closes.received()).toEqual(['A', 'B', 'close:4001']);
    expect(fails.received()).toEqual(['A', 'B', 'close:1002']);
    expect(stays.received()).toEqual(['A', 'B', 'C']);
  });

  it('counts a subscriber whose socket closed mid-turn out of the publications after the close', async () => {
    const [pubsub] = pubsubs(1).workers;
    const stays = connect();
    const drops = connect();
    void pubsub.subscribe(stays.sub, 't');
    void pubsub.subscribe(drops.sub, 't');
    expect(publish(pubsub, 't', 'A')).toBe(2);
    expect(publish(pubsub, 't', 'B')).toBe(2);
    // The TCP connection is gone (no closing handshake): the binding is DONE, its session unsubscribes later.
    drops.socket.emit('close');
    expect(publish(pubsub, 't', 'C')).toBe(1);
    await turn();
    expect(stays.received()).toEqual(['A', 'B', 'C']);
    expect(pubsub.stats.delivered).toBe(5);
  });

  it('applies the slow-consumer policy to batched publications: over maxBackpressureBytes the subscriber is closed with 1008', async () => {
    const [pubsub] = pubsubs(1).workers;
    const healthy = connect();
    const slow = connect();
    void pubsub.subscribe(healthy.sub, 't');
    void pubsub.subscribe(slow.sub, 't');
    publish(pubsub, 't', 'A');
    // The kernel stopped taking the slow one's bytes: its buffer is over the limit (1000) before B and C.
    slow.socket.writableLength = 2000;
    publish(pubsub, 't', 'B');
    publish(pubsub, 't', 'C');
    await turn();
    expect(healthy.received()).toEqual(['A', 'B', 'C']);
    expect(slow.received()).toEqual(['A', 'close:1008']);
  });

  it('writes the batch to every subscriber before the publication of a subscriber\'s close handler run by the batch\'s slow-consumer close', async () => {
    const [pubsub] = pubsubs(1).workers;
    const before = connect();
    let slow: Conn | null = null;
    // As the app session does: the connection's subscriptions go, then the app's onClose publishes.
    slow = connect(null, () => ({
      onOpen() {},
      onMessage() {},
      onClose() {
        pubsub.unsubscribeAll((slow as Conn).sub);
        publish(pubsub, 't', 'left');
      },
    }));
    const after = connect();
    for (const conn of [before, slow, after]) void pubsub.subscribe(conn.sub, 't');
    publish(pubsub, 't', 'A');
    // Over maxBackpressureBytes before the batch (B, C): its write at the turn end closes the slow one with 1008.
    slow.socket.writableLength = 2000;
    publish(pubsub, 't', 'B');
    publish(pubsub, 't', 'C');
    await turn();
    expect(slow.received()).toEqual(['A', 'close:1008']);
    expect(before.received()).toEqual(['A', 'B', 'C', 'left']);
    expect(after.received()).toEqual(['A', 'B', 'C', 'left']);
  });

  it('gives raw and msgpack subscribers of one topic their own form, in order with a raw-only topic', async () => {
    const [pubsub] = pubsubs(1).workers;
    const raw = connect();
    const envelope = connect(msgpackCodec);
    void pubsub.subscribe(raw.sub, 'mixed');
    void pubsub.subscribe(raw.sub, 'rawonly');
    void pubsub.subscribe(envelope.sub, 'mixed');
    publish(pubsub, 'mixed', 'A');
    publish(pubsub, 'mixed', 'B');
    publish(pubsub, 'rawonly', 'X');
    publish(pubsub, 'rawonly', 'Y');
    publish(pubsub, 'mixed', 'C');
    await turn();
    expect(raw.received()).toEqual(['A', 'B', 'X', 'Y', 'C']);
    expect(envelope.received()).toEqual(['mixed:A', 'mixed:B', 'mixed:C']);
  });

  it('schedules one close per turn when topics alternate (a topic per connection), and delivers every publication', async () => {
    const network = new FakeNetwork();
    const scheduled: (() => void)[] = [];
    const pubsub = new PubSub(network.bus(1), { scheduleFlush: (close) => void scheduled.push(close) });
    const conns = [connect(), connect(), connect()];
    conns.forEach((conn, i) => void pubsub.subscribe(conn.sub, `user${i}`));
    for (const round of ['a', 'b']) conns.forEach((_, i) => publish(pubsub, `user${i}`, `${round}${i}`));
    // Six batches opened (each publication's topic differs from the one before), one close scheduled.
    expect(scheduled).toHaveLength(1);
    for (const close of scheduled.splice(0)) close();
    await turn();
    conns.forEach((conn, i) => expect(conn.received()).toEqual([`a${i}`, `b${i}`]));
    // The next turn schedules its own close.
    publish(pubsub, 'user0', 'c0');
    expect(scheduled).toHaveLength(1);
  });

  it('writes a sendTo event to a raw subscriber after the open batch\'s publications, and the batch goes on for the others', async () => {
    const { network, workers } = pubsubs(1);
    const [pubsub] = workers;
    const router = new Router(network.buses.get(1) as FakeBus);
    const target = connect();
    const other = connect();
    router.register({ handle: target.actor, codec: null });
    for (const conn of [target, other]) void pubsub.subscribe(conn.sub, 't');
    publish(pubsub, 't', 'A');
    publish(pubsub, 't', 'B');
    expect(router.sendTo(target.actor.address, 'dm', 'E')).toBe(true);
    publish(pubsub, 't', 'C');
    await turn();
    expect(target.received()).toEqual(['A', 'B', 'E', 'C']);
    expect(other.received()).toEqual(['A', 'B', 'C']);
    // One write per connection for the turn.
    expect(target.socket.writes).toHaveLength(1);
  });

  it('batches publications forwarded from another worker, keeping their order across topics', async () => {
    const { network, workers } = pubsubs(1, 2);
    const [one, two] = workers;
    const sub = connect();
    void two.subscribe(sub.sub, 't1');
    void two.subscribe(sub.sub, 't2');
    network.deliverAll();
    for (const [topic, text] of [['t1', 'A'], ['t1', 'A2'], ['t2', 'B'], ['t1', 'C'], ['t1', 'D']]) publish(one, topic, text);
    network.deliverAll();
    await turn();
    expect(sub.received()).toEqual(['A', 'A2', 'B', 'C', 'D']);
    expect(two.stats.delivered).toBe(5);
  });
});
