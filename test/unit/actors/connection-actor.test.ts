import { captureLogs } from '../../helpers/log-capture.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionActor, HANDLER_FAILURE_REASON, type ActorTransport } from '../../../src/actors/connection-actor.ts';
import type { Session } from '../../../src/app/types.ts';

class FakeTransport implements ActorTransport {
  isOpen = true;
  remoteAddress = '127.0.0.1';
  sent: [string, boolean][] = [];
  frames: Uint8Array[] = [];
  closes: [number, string][] = [];
  pauses = 0;
  resumes = 0;
  framesOut = 0;
  send(data: Uint8Array | string, isBinary: boolean): void {
    this.sent.push([Buffer.from(data).toString(), isBinary]);
  }
  sendFrame(frame: Uint8Array): boolean {
    return this.sendFrames(frame, 1);
  }
  sendFrames(frames: Uint8Array, messages: number): boolean {
    if (!this.isOpen) return false;
    this.frames.push(frames);
    this.framesOut += messages;
    return true;
  }
  close(code: number, reason: string): void {
    this.closes.push([code, reason]);
    this.isOpen = false;
  }
  pauseReading(): void {
    this.pauses++;
  }
  resumeReading(): void {
    this.resumes++;
  }
}

const identity = { address: '1.1', protocol: null, upgradeData: undefined };
const limits = { mailboxSize: 4, mailboxBytes: 1_000_000 };
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A session whose message handler resolves only when the test says so. */
function gatedSession() {
  const log: string[] = [];
  const gates: (() => void)[] = [];
  let running = 0;
  let maxRunning = 0;
  const session: Session = {
    onOpen() {
      log.push('open');
    },
    onMessage(data) {
      log.push(`start ${data}`);
      running++;
      maxRunning = Math.max(maxRunning, running);
      return new Promise<void>((resolve) => {
        gates.push(() => {
          running--;
          log.push(`end ${data}`);
          resolve();
        });
      });
    },
    onClose(code, reason) {
      log.push(`close ${code} ${reason}`);
    },
  };
  return { session, log, gates, maxRunning: () => maxRunning };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('ConnectionActor message order', () => {
  it('runs a synchronous handler at once, in order, without pausing', () => {
    const transport = new FakeTransport();
    const actor = new ConnectionActor(transport, identity, limits);
    const seen: string[] = [];
    actor.start({
      onOpen() {},
      onMessage(data, isBinary) {
        seen.push(`${data}:${isBinary}`);
      },
      onClose() {},
    });
    for (let i = 0; i < 10; i++) actor.deliver(Buffer.from(String(i)), i % 2 === 0);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `${i}:${i % 2 === 0}`));
    expect(transport.pauses).toBe(0);
    expect(actor.messagesIn).toBe(10);
  });

  it('runs async handlers one at a time: the next starts when the previous settles', async () => {
    const transport = new FakeTransport();
    const actor = new ConnectionActor(transport, identity, { mailboxSize: 100, mailboxBytes: 1e6 });
    const { session, log, gates, maxRunning } = gatedSession();
    actor.start(session);
    actor.deliver(Buffer.from('a'), false);
    actor.deliver(Buffer.from('b'), false);
    actor.deliver(Buffer.from('c'), false);
    expect(log).toEqual(['open', 'start a']);
    gates.shift()?.();
    await tick();
    expect(log).toEqual(['open', 'start a', 'end a', 'start b']);
    gates.shift()?.();
    await tick();
    gates.shift()?.();
    await tick();
    expect(log).toEqual(['open', 'start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(maxRunning()).toBe(1);
  });

  it('holds messages until an async onOpen settles', async () => {
    const transport = new FakeTransport();
    const actor = new ConnectionActor(transport, identity, limits);
    const seen: string[] = [];
    let openDone!: () => void;
    actor.start({
      onOpen: () => new Promise<void>((resolve) => (openDone = resolve)),
      onMessage(data) {
        seen.push(String(data));
      },
      onClose() {},
    });
    actor.deliver(Buffer.from('x'), false);
    expect(seen).toEqual([]);
    openDone();
    await tick();
    expect(seen).toEqual(['x']);
  });
});

describe('ConnectionActor lent messages', () => {
  it('copies a lent message that has to wait in the mailbox, and only that one', async () => {
    const transport = new FakeTransport();
    const actor = new ConnectionActor(transport, identity, { mailboxSize: 100, mailboxBytes: 1e6 });
    const { session, log, gates } = gatedSession();
    actor.start(session);
    const read = Buffer.from('abcd');
    // The first runs at once (its handler holds the view while it runs); the second waits.
    actor.deliver(read.subarray(0, 2), false, true);
    actor.deliver(read.subarray(2, 4), false, true);
    // The read buffer is rewritten once the delivery returns.
    read.fill('x');
    gates.shift()?.();
    await tick();
    gates.shift()?.();
    await tick();
    expect(log).toEqual(['open', 'start ab', 'end xx', 'start cd', 'end cd']);
  });
});

describe('ConnectionActor mailbox backpressure', () => {
  it('pauses reading when the mailbox fills and resumes below half', async () => {
    const transport = new FakeTransport();
    const actor = new ConnectionActor(transport, identity, limits);
    const { session, gates } = gatedSession();
    actor.start(session);
    actor.deliver(Buffer.from('running'), false);
    for (let i = 0; i < 3; i++) actor.deliver(Buffer.from(String(i)), false);
    expect(transport.pauses).toBe(0);
    actor.deliver(Buffer.from('3'), false);
    expect(actor.queued).toBe(4);
    expect(transport.pauses).toBe(1);
    actor.deliver(Buffer.from('4'), false);
    expect(transport.pauses).toBe(1);
    expect(actor.queued).toBe(5);
    gates.shift()?.();
    await tick();
    gates.shift()?.();
    await tick();
    expect(actor.queued).toBe(3);
    expect(transport.resumes).toBe(0);
    gates.shift()?.();
    await tick();
    gates.shift()?.();
    await tick();
    expect(actor.queued).toBe(1);
    expect(transport.resumes).toBe(1);
    expect(actor.mailboxPauses).toBe(1);
  });
});

describe('ConnectionActor failures', () => {
  it('closes with 1011 when a handler throws, and drops later messages', () => {
    const errorLog = captureLogs();
    const transport = new FakeTransport();
    const actor = new ConnectionActor(transport, identity, limits);
    let calls = 0;
    actor.start({
      onOpen() {},
      onMessage() {
        calls++;
        throw new Error('boom');
      },
      onClose() {},
    });
    actor.deliver(Buffer.from('a'), false);
    actor.deliver(Buffer.from('b'), false);
    expect(calls).toBe(1);
    expect(transport.closes).toEqual([[1011, HANDLER_FAILURE_REASON]]);
    expect(errorLog.lines).toHaveLength(1);
  });

  it('closes with 1011 when a handler rejects, dropping what was queued behind it', async () => {
    captureLogs();
    const transport = new FakeTransport();
    const actor = new ConnectionActor(transport, identity, limits);
    const seen: string[] = [];
    actor.start({
      onOpen() {},
      async onMessage(data) {
        seen.push(String(data));
        await tick();
        throw new Error('async boom');
      },
      onClose() {},
    });
    actor.deliver(Buffer.from('a'), false);
    actor.deliver(Buffer.from('b'), false);
    await tick();
    await tick();
    expect(seen).toEqual(['a']);
    expect(transport.closes).toEqual([[1011, HANDLER_FAILURE_REASON]]);
  });

  it('closes with 1011 when onOpen throws', () => {
    captureLogs();
    const transport = new FakeTransport();
    const actor = new ConnectionActor(transport, identity, limits);
    actor.start({
      onOpen() {
        throw new Error('no');
      },
      onMessage() {},
      onClose() {},
    });
    expect(transport.closes).toEqual([[1011, HANDLER_FAILURE_REASON]]);
  });
});

describe('ConnectionActor close', () => {
  it('runs onClose once, after the messages queued before the close', async () => {
    const transport = new FakeTransport();
    const actor = new ConnectionActor(transport, identity, { mailboxSize: 100, mailboxBytes: 1e6 });
    const { session, log, gates } = gatedSession();
    actor.start(session);
    actor.deliver(Buffer.from('a'), false);
    actor.deliver(Buffer.from('b'), false);
    actor.transportClosed(4000, 'bye');
    actor.transportClosed(1006, '');
    actor.deliver(Buffer.from('late'), false);
    gates.shift()?.();
    await tick();
    gates.shift()?.();
    await tick();
    expect(log).toEqual(['open', 'start a', 'end a', 'start b', 'end b', 'close 4000 bye']);
  });

  it('drops sends once the connection is no longer open', () => {
    const transport = new FakeTransport();
    const actor = new ConnectionActor(transport, identity, limits);
    actor.send('one');
    actor.send(Buffer.from('two'));
    actor.close(1000, 'done');
    actor.send('three');
    actor.close(1000, 'again');
    expect(transport.sent).toEqual([
      ['one', false],
      ['two', true],
    ]);
    expect(transport.closes).toEqual([[1000, 'done']]);
    expect(actor.messagesOut).toBe(2);
  });
});

describe('ConnectionActor identity', () => {
  it("reads the peer's address from the transport when asked, not at construction", () => {
    const transport = new FakeTransport();
    transport.remoteAddress = '';
    const actor = new ConnectionActor(transport, identity, limits);
    transport.remoteAddress = '10.0.0.7';
    expect(actor.remoteAddress).toBe('10.0.0.7');
    expect(actor.address).toBe('1.1');
  });
});

describe('handler return values', () => {
  it('ignores what a handler returns unless it is a thenable: null, numbers and objects neither throw nor hold the mailbox', () => {
    const transport = new FakeTransport();
    const actor = new ConnectionActor(transport, identity, limits);
    const seen: string[] = [];
    const returns: unknown[] = [null, 3, { then: 'not a function' }, 'text'];
    let i = 0;
    actor.start({
      onOpen: () => null,
      onMessage(data) {
        seen.push(String(data));
        return returns[i++];
      },
      onClose: () => null,
    });
    for (const text of ['a', 'b', 'c', 'd']) actor.deliver(Buffer.from(text), false);
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
    expect(transport.closes).toEqual([]);
    actor.transportClosed(1000, 'done');
    expect(transport.closes).toEqual([]);
  });
});
