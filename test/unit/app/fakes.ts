/**
 * In-memory stand-ins for the app layer's tests: a bus network whose
 * messages wait in per-worker queues until the test delivers them (so races
 * can be staged), and a connection handle that records what was sent.
 */
import type { ConnectionHandle, FrameWriter } from '../../../src/app/types.ts';
import type { BusMessage, WorkerBus, WorkerId } from '../../../src/app/worker-bus.ts';

/** Messages in flight between fake workers; nothing moves until `deliver*()` or `endTurn()`. */
export class FakeNetwork {
  readonly buses: Map<WorkerId, FakeBus>;
  /** Per receiver, messages in arrival order (per-sender order is kept, as with BroadcastChannel). */
  readonly queues: Map<WorkerId, BusMessage[]>;
  /** End-of-turn callbacks (PubSub's batch flush), waiting for `endTurn()`. */
  readonly scheduled: (() => void)[];

  constructor() {
    this.buses = new Map();
    this.queues = new Map();
    this.scheduled = [];
  }

  /** A PubSub `scheduleFlush` that waits for `endTurn()` (or `deliverAll()`). */
  readonly schedule = (callback: () => void): void => {
    this.scheduled.push(callback);
  };

  /** End the current event-loop turn: run the scheduled callbacks. Returns true when there were any. */
  endTurn(): boolean {
    const callbacks = this.scheduled.splice(0, this.scheduled.length);
    for (const callback of callbacks) callback();
    return callbacks.length > 0;
  }

  bus(workerId: WorkerId): FakeBus {
    const bus = new FakeBus(this, workerId);
    this.buses.set(workerId, bus);
    this.queues.set(workerId, []);
    return bus;
  }

  enqueue(to: WorkerId, message: BusMessage): void {
    // A structured clone, like the real channel: receivers never share objects with senders.
    this.queues.get(to)?.push(structuredClone(message));
  }

  /** End turns and deliver every queued message (and those they cause) until nothing is left. */
  deliverAll(): void {
    for (let rounds = 0; rounds < 1000; rounds++) {
      let moved = this.endTurn();
      for (const [workerId, queue] of this.queues) {
        while (queue.length > 0) {
          moved = true;
          this.buses.get(workerId)?.receive(queue.shift() as BusMessage);
        }
      }
      if (!moved) return;
    }
    throw new Error('bus messages never settled');
  }

  /** Deliver the queued messages of one worker only (not those they cause elsewhere). */
  deliverTo(workerId: WorkerId): void {
    const queue = this.queues.get(workerId) as BusMessage[];
    const batch = queue.splice(0, queue.length);
    for (const message of batch) this.buses.get(workerId)?.receive(message);
  }

  /** Drop everything queued for a worker (it is dead, or the test stalls it). */
  drop(workerId: WorkerId): void {
    this.queues.set(workerId, []);
  }
}

export class FakeBus implements WorkerBus {
  readonly workerId: WorkerId;
  readonly sent: BusMessage[];
  closed: boolean;
  #network: FakeNetwork;
  #receiver: ((message: BusMessage) => void) | null;

  constructor(network: FakeNetwork, workerId: WorkerId) {
    this.workerId = workerId;
    this.sent = [];
    this.closed = false;
    this.#network = network;
    this.#receiver = null;
  }

  broadcast(message: BusMessage): void {
    this.sent.push(message);
    for (const workerId of this.#network.buses.keys()) if (workerId !== this.workerId) this.#network.enqueue(workerId, message);
  }

  postTo(workerId: WorkerId, message: BusMessage): void {
    this.sent.push(message);
    this.#network.enqueue(workerId, message);
  }

  listen(receiver: (message: BusMessage) => void): void {
    this.#receiver = receiver;
  }

  receive(message: BusMessage): void {
    if (!this.closed) this.#receiver?.(message);
  }

  forget(): void {}

  close(): void {
    this.closed = true;
  }
}

/** One recorded write. */
export interface Sent {
  kind: 'send' | 'frame';
  data: Uint8Array | string;
  isBinary: boolean;
}

/** A ConnectionHandle that records its writes and its close. */
export class FakeHandle implements ConnectionHandle {
  readonly address: string;
  readonly protocol: string | null;
  readonly upgradeData: unknown;
  readonly remoteAddress: string;
  readonly sent: Sent[];
  isOpen: boolean;
  closedWith: { code: number; reason: string } | null;

  constructor(address: string, protocol: string | null = null, upgradeData?: unknown) {
    this.address = address;
    this.protocol = protocol;
    this.upgradeData = upgradeData;
    this.remoteAddress = '127.0.0.1';
    this.sent = [];
    this.isOpen = true;
    this.closedWith = null;
  }

  send(data: Uint8Array | string, isBinary: boolean = typeof data !== 'string'): void {
    if (this.isOpen) this.sent.push({ kind: 'send', data, isBinary });
  }

  /** Frames are written to the handle itself (what a test replaces of it applies to the pub/sub's walks too). */
  get frameWriter(): FrameWriter {
    return this;
  }

  sendFrame(frame: Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.sent.push({ kind: 'frame', data: frame, isBinary: true });
    return true;
  }

  /** Records each frame of a topic batch (pubsub/topic-batch.ts), in order. */
  sendFrames(frame: Uint8Array, messages: number): boolean {
    if (!this.isOpen) return false;
    let at = 0;
    for (let i = 0; i < messages; i++) {
      const length = frameLength(frame.subarray(at));
      this.sent.push({ kind: 'frame', data: frame.subarray(at, at + length), isBinary: true });
      at += length;
    }
    if (at !== frame.length) throw new Error(`a batch of ${messages} frames has ${frame.length - at} bytes more`);
    return true;
  }

  close(code: number = 1000, reason: string = ''): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.closedWith = { code, reason };
  }
}

/** Length of the unmasked server frame at the start of `bytes`, header included (RFC 6455 §5.2). */
function frameLength(bytes: Uint8Array): number {
  const length7 = bytes[1] & 0x7f;
  if (length7 < 126) return 2 + length7;
  if (length7 === 126) return 4 + ((bytes[2] << 8) | bytes[3]);
  return 10 + Number(Buffer.from(bytes.buffer, bytes.byteOffset + 2, 8).readBigUInt64BE(0));
}

/** Payload of an unmasked server frame (RFC 6455 §5.2). */
export function framePayload(frame: Uint8Array): Uint8Array {
  const length7 = frame[1] & 0x7f;
  return frame.subarray(length7 < 126 ? 2 : length7 === 126 ? 4 : 10);
}
