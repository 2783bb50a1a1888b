/**
 * ConnectionActor: one per connection. Runs the session's handlers strictly
 * one at a time and in order (open, every message, close), queues what
 * arrives while an async handler runs in a bounded mailbox, and stops reading
 * the socket while that mailbox is full. A failing handler closes its own
 * connection with 1011 and nothing else.
 */
import { CloseCode } from '../protocol/constants.ts';
import { isThenable } from '../app/is-thenable.ts';
import type { ConnectionAddress, ConnectionHandle, FrameWriter, Session } from '../app/types.ts';
import { log } from '../telemetry/logger.ts';
import { logPeerCaused } from '../telemetry/rate-limited-log.ts';
import { workerCounters } from '../telemetry/worker-metrics.ts';
import { Mailbox } from './mailbox.ts';

/** What the actor needs from the socket side (SocketBinding in a worker, a fake in tests). */
export interface ActorTransport extends FrameWriter {
  /** True while the WebSocket connection is OPEN. */
  readonly isOpen: boolean;
  /** The peer's IP address ('' when unknown); may cost a system call, so read it only when asked. */
  readonly remoteAddress: string;
  /** Frame and send one data message; applies the send-buffer policy. */
  send(data: Uint8Array | string, isBinary: boolean): void;
  /**
   * `sendFrame` writes one already framed message, `sendFrames` several joined; both apply the send-buffer policy.
   * False (nothing sent): the connection is not OPEN, or this write closed it as a slow consumer. The transport
   * counts what they sent (`framesOut`, and the worker's messagesOut): the pub/sub's walks write to it directly
   * (`ConnectionHandle.frameWriter`), not through the actor.
   */
  readonly framesOut: number;
  /** Start the closing handshake (RFC 6455 §7.1.2). */
  close(code: number, reason: string): void;
  /** Stop reading the socket because the mailbox is full. */
  pauseReading(): void;
  /** Read the socket again. */
  resumeReading(): void;
}

/** Who the connection is, fixed at the upgrade. */
export interface ActorIdentity {
  readonly address: ConnectionAddress;
  readonly protocol: string | null;
  readonly upgradeData: unknown;
}

/** Mailbox thresholds. */
export interface ActorLimits {
  readonly mailboxSize: number;
  readonly mailboxBytes: number;
}

/** Reason sent with the 1011 close after a handler throws or rejects. */
export const HANDLER_FAILURE_REASON = 'internal error';

/**
 * The per-connection actor and the `ConnectionHandle` its session sends
 * through. The owner calls `start(session)` once, `deliver()` for each inbound
 * message, and `transportClosed()` once when the connection is over.
 */
export class ConnectionActor implements ConnectionHandle {
  readonly address: ConnectionAddress;
  readonly protocol: string | null;
  readonly upgradeData: unknown;
  /** Messages handed to the session. */
  messagesIn: number;
  /** Messages sent with `send` (the transport counts the framed ones: `framesOut`). */
  #messagesSent: number;
  /** Times reading was paused because the mailbox filled up. */
  mailboxPauses: number;
  #transport: ActorTransport;
  #session: Session | null;
  /** Created on the first message that has to wait: an idle connection carries none. */
  #mailbox: Mailbox | null;
  #limits: ActorLimits;
  /** A handler's promise is pending; everything else waits in the mailbox. */
  #busy: boolean;
  #paused: boolean;
  /** A handler failed: later messages are discarded. */
  #failed: boolean;
  #closePending: boolean;
  #closed: boolean;
  #closeCode: number;
  #closeReason: string;
  /** Settlement callbacks, created on the first async handler only (idle connections carry none). */
  #onSettled: (() => void) | null;
  #onRejected: ((error: unknown) => void) | null;

  constructor(transport: ActorTransport, identity: ActorIdentity, limits: ActorLimits) {
    this.address = identity.address;
    this.protocol = identity.protocol;
    this.upgradeData = identity.upgradeData;
    this.messagesIn = 0;
    this.#messagesSent = 0;
    this.mailboxPauses = 0;
    this.#transport = transport;
    this.#session = null;
    this.#mailbox = null;
    this.#limits = limits;
    this.#busy = false;
    this.#paused = false;
    this.#failed = false;
    this.#closePending = false;
    this.#closed = false;
    this.#closeCode = CloseCode.ABNORMAL_CLOSURE;
    this.#closeReason = '';
    this.#onSettled = null;
    this.#onRejected = null;
  }

  /** True while the connection is OPEN. */
  get isOpen(): boolean {
    return this.#transport.isOpen;
  }

  /** The peer's IP address, read from the transport when asked (most apps never ask). */
  get remoteAddress(): string {
    return this.#transport.remoteAddress;
  }

  /** Messages waiting in the mailbox. */
  get queued(): number {
    return this.#mailbox === null ? 0 : this.#mailbox.length;
  }

  /** Sends one data message; dropped silently once the connection is no longer OPEN. */
  send(data: Uint8Array | string, isBinary: boolean = typeof data !== 'string'): void {
    if (!this.#transport.isOpen) return;
    this.#messagesSent++;
    workerCounters.messagesOut++;
    this.#transport.send(data, isBinary);
  }

  /** Messages sent through this handle: with `send`, and framed ones (counted by the transport). */
  get messagesOut(): number {
    return this.#messagesSent + this.#transport.framesOut;
  }

  /**
   * The transport: the pub/sub writes a subscriber's publications straight to it (one object fewer read per
   * subscriber per delivery: bench/micro/fan-out-writes.ts, BENCH_SHUFFLE), as `sendFrame` and `sendFrames` do.
   */
  get frameWriter(): FrameWriter {
    return this.#transport;
  }

  /** Writes one framed message; dropped (false) once the connection is no longer OPEN or when it closes it as a slow consumer. The transport checks the state: once per delivery in a fan-out. */
  sendFrame(frame: Uint8Array): boolean {
    return this.#transport.sendFrame(frame);
  }

  /** Writes `messages` framed messages joined in one buffer (a topic's batch); dropped (false) once the connection is no longer OPEN. */
  sendFrames(frames: Uint8Array, messages: number): boolean {
    return this.#transport.sendFrames(frames, messages);
  }

  /** Starts the closing handshake; a no-op when already closing. */
  close(code: number = CloseCode.NORMAL_CLOSURE, reason: string = ''): void {
    if (this.#transport.isOpen) this.#transport.close(code, reason);
  }

  /** Attaches the session and runs its `onOpen` before any message. Call once. */
  start(session: Session): void {
    this.#session = session;
    let result: unknown;
    try {
      result = session.onOpen();
    } catch (error) {
      this.#handlerFailed(error);
      return;
    }
    if (result !== undefined) this.#await(result);
  }

  /**
   * Hands one inbound message to the session, now when nothing runs (a
   * synchronous handler completes without allocating a promise), or queued
   * behind the running handler otherwise. A `lent` message (valid only
   * during this call: FrameSink.onMessage) is copied when it has to wait.
   */
  deliver(data: Buffer, isBinary: boolean, lent: boolean = false): void {
    if (this.#failed || this.#closePending) return;
    this.messagesIn++;
    workerCounters.messagesIn++;
    if (this.#busy || this.queued !== 0) {
      const mailbox = (this.#mailbox ??= new Mailbox(this.#limits.mailboxSize, this.#limits.mailboxBytes));
      mailbox.push(lent ? Buffer.copyBytesFrom(data) : data, isBinary);
      if (!this.#paused && mailbox.isFull) {
        this.#paused = true;
        this.mailboxPauses++;
        this.#transport.pauseReading();
      }
      return;
    }
    this.#run(data, isBinary);
  }

  /**
   * The connection is over (close handshake done, failed, or TCP gone). Queued
   * messages still run, then `onClose` with this code and reason. Call once.
   */
  transportClosed(code: number, reason: string): void {
    if (this.#closePending || this.#closed) return;
    this.#closePending = true;
    this.#closeCode = code;
    this.#closeReason = reason;
    if (!this.#busy && this.queued === 0) this.#runClose();
  }

  #run(data: Buffer, isBinary: boolean): void {
    let result: unknown;
    try {
      result = (this.#session as Session).onMessage(data, isBinary);
    } catch (error) {
      this.#handlerFailed(error);
      return;
    }
    if (result !== undefined) this.#await(result);
  }

  #await(result: unknown): void {
    if (!isThenable(result)) return;
    this.#busy = true;
    this.#onSettled ??= () => {
      this.#busy = false;
      this.#drain();
    };
    this.#onRejected ??= (error: unknown) => {
      this.#busy = false;
      this.#handlerFailed(error);
      this.#drain();
    };
    result.then(this.#onSettled, this.#onRejected);
  }

  #drain(): void {
    const mailbox = this.#mailbox;
    if (mailbox === null) {
      if (!this.#busy && this.#closePending && !this.#closed) this.#runClose();
      return;
    }
    while (!this.#busy && mailbox.length !== 0) {
      const data = mailbox.shift() as Buffer;
      this.#run(data, mailbox.shiftedIsBinary);
    }
    if (this.#paused && mailbox.isBelowHalf && !this.#closePending) {
      this.#paused = false;
      this.#transport.resumeReading();
    }
    if (!this.#busy && mailbox.length === 0 && this.#closePending && !this.#closed) this.#runClose();
  }

  #handlerFailed(error: unknown): void {
    if (this.#closed) {
      logPeerCaused(log(), 'error', 'on_close_failed', { err: error, conn: this.address }, 'onClose handler failed');
      return;
    }
    logPeerCaused(log(), 'error', 'handler_failed', { err: error, conn: this.address, peer: this.remoteAddress }, 'handler failed; closing the connection with 1011');
    this.#failed = true;
    this.#mailbox?.clear();
    this.close(CloseCode.INTERNAL_ERROR, HANDLER_FAILURE_REASON);
  }

  #runClose(): void {
    this.#closed = true;
    const session = this.#session;
    if (session === null) return;
    let result: unknown;
    try {
      result = session.onClose(this.#closeCode, this.#closeReason);
    } catch (error) {
      this.#handlerFailed(error);
      return;
    }
    if (isThenable(result)) result.then(undefined, (error: unknown) => this.#handlerFailed(error));
  }
}
