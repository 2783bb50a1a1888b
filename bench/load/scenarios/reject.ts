/**
 * `http` rejected upgrades: `connections` loops each open a TCP connection,
 * send an upgrade request without Sec-WebSocket-Key, read the status line,
 * and close; every answer must be `400 Bad Request` (RFC 6455 §4.2.1: a
 * request missing a required header gets 400). A new connection per request,
 * as rejected clients behave, so servers that keep the connection alive after
 * a 400 and servers that close it pay the same TCP cost.
 *
 * (autocannon is not used here: it writes its next request on a connection
 * the server is closing, and then charges the reconnect to later requests —
 * against ws with one connection it reported 2,500 requests/s with a p50 of
 * 400 ms. It drives the keep-alive health endpoint instead, see http.ts.)
 */
import net from 'node:net';
import type { LoadRecorder } from '../load-recorder.ts';
import type { ThreadSetup } from '../messages.ts';
import type { ScenarioDriver } from './driver.ts';
import { CLOSE_TIMEOUT_MS } from './driver.ts';

/** The status every server must answer the bad request with. */
export const EXPECTED_STATUS = 400;
/** Largest response head read before the attempt counts as a protocol error. */
const MAX_HEAD_BYTES = 16 * 1024;

/** An upgrade request with no Sec-WebSocket-Key. */
export function badUpgradeRequest(host: string, port: number, path: string): Buffer {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${host.includes(':') ? `[${host}]` : host}:${port}\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n',
    'latin1',
  );
}

/** One request on its own connection. */
class Attempt {
  readonly socket: net.Socket;
  readonly startedAt: number;
  head: Buffer | null;
  answered: boolean;
  closingAt: number;

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.startedAt = performance.now();
    this.head = null;
    this.answered = false;
    this.closingAt = 0;
  }
}

/** Floods the server with bad upgrade requests. */
export class RejectDriver implements ScenarioDriver {
  private readonly setupInfo: ThreadSetup;
  private readonly recorder: LoadRecorder;
  private readonly request: Buffer;
  private readonly live: Set<Attempt>;
  private sending: boolean;
  private sent: number;
  private capped: boolean;
  private pendingClosed: (() => void) | null;

  constructor(setup: ThreadSetup, recorder: LoadRecorder) {
    this.setupInfo = setup;
    this.recorder = recorder;
    this.request = badUpgradeRequest(setup.target.host, setup.target.port, setup.target.path);
    this.live = new Set();
    this.sending = false;
    this.sent = 0;
    this.capped = false;
    this.pendingClosed = null;
  }

  setup(): Promise<void> {
    return Promise.resolve();
  }

  start(): void {
    this.sending = true;
    for (let i = 0; i < this.setupInfo.connections; i++) this.next();
  }

  stop(): void {
    this.sending = false;
  }

  openCount(): number {
    return this.live.size;
  }

  hitMessageCap(): boolean {
    return this.capped;
  }

  private next(): void {
    if (!this.sending) return;
    if (this.sent >= this.setupInfo.maxMessages) {
      if (!this.capped && this.recorder.measuring) this.recorder.cappedAt = performance.now();
      this.capped = true;
      this.sending = false;
      return;
    }
    this.sent++;
    const { host, port } = this.setupInfo.target;
    const attempt = new Attempt(net.connect({ host, port, noDelay: true }));
    this.live.add(attempt);
    attempt.socket.on('connect', () => attempt.socket.write(this.request));
    attempt.socket.on('data', (chunk: Buffer) => this.onData(attempt, chunk));
    attempt.socket.on('error', (error: Error) => {
      if (!attempt.answered) this.failure(attempt, 'unexpectedClose', error.message);
    });
    attempt.socket.on('close', () => {
      if (!attempt.answered) this.failure(attempt, 'unexpectedClose', 'connection closed before an answer');
      this.live.delete(attempt);
      if (this.pendingClosed !== null && this.live.size === 0) this.pendingClosed();
      this.next();
    });
  }

  private onData(attempt: Attempt, chunk: Buffer): void {
    if (attempt.answered) return;
    const head = attempt.head === null ? chunk : Buffer.concat([attempt.head, chunk]);
    const lineEnd = head.indexOf('\r\n');
    if (lineEnd === -1) {
      if (head.length > MAX_HEAD_BYTES) this.failure(attempt, 'protocol', 'no status line in the first 16 KiB');
      else attempt.head = head;
      return;
    }
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.toString('latin1', 0, lineEnd));
    if (status === null) {
      this.failure(attempt, 'protocol', `unreadable status line: ${JSON.stringify(head.toString('latin1', 0, Math.min(lineEnd, 80)))}`);
      return;
    }
    if (Number(status[1]) !== EXPECTED_STATUS) {
      this.failure(attempt, 'protocol', `answered ${status[1]} instead of ${EXPECTED_STATUS}`);
      return;
    }
    attempt.answered = true;
    attempt.head = null;
    this.recorder.record(performance.now() - attempt.startedAt, head.length);
    attempt.closingAt = performance.now();
    attempt.socket.end();
  }

  private failure(attempt: Attempt, kind: 'unexpectedClose' | 'protocol' | 'timeout', reason: string): void {
    if (attempt.answered) return;
    attempt.answered = true;
    this.recorder.countFailure(kind, reason);
    attempt.socket.destroy();
  }

  sweep(now: number): void {
    for (const attempt of this.live) {
      if (!attempt.answered && now - attempt.startedAt > this.setupInfo.timeoutMs) {
        this.failure(attempt, 'timeout', `no answer within ${this.setupInfo.timeoutMs} ms`);
      } else if (attempt.answered && attempt.closingAt > 0 && now - attempt.closingAt > CLOSE_TIMEOUT_MS) {
        attempt.socket.destroy();
      }
    }
  }

  async shutdown(): Promise<void> {
    this.sending = false;
    if (this.live.size === 0) return;
    await new Promise<void>((resolve) => {
      this.pendingClosed = resolve;
    });
  }
}
