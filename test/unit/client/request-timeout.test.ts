import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_CLIENT_REQUEST_TIMEOUT_MS, DEFAULT_HANDLER_TIMEOUT_MS, JSON_PROTOCOL } from '../../../src/codec/envelope.ts';
import { DEFAULT_LIMITS } from '../../../src/app/protocol-session.ts';
import { ClientErrorCode, ShoalClient, ShoalError, type WebSocketLike } from '../../../src/client/index.ts';

/** A WebSocket that opens at once with the JSON subprotocol and records what is sent; never answers. */
class SilentSocket implements WebSocketLike {
  static last: SilentSocket | null = null;
  binaryType = 'blob';
  readonly protocol = JSON_PROTOCOL;
  readyState = 0;
  readonly sent: (string | Uint8Array)[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor() {
    SilentSocket.last = this;
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }
  send(data: string | Uint8Array): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the client default request timeout', () => {
  it('is the server handler timeout plus 5 s, so the server TIMEOUT reply comes first', () => {
    expect(DEFAULT_LIMITS.requestTimeoutMs).toBe(DEFAULT_HANDLER_TIMEOUT_MS);
    expect(DEFAULT_HANDLER_TIMEOUT_MS).toBe(30_000);
    expect(DEFAULT_CLIENT_REQUEST_TIMEOUT_MS).toBe(35_000);
  });

  it('rejects an unanswered request with REQUEST_TIMEOUT after 35 s, not before', async () => {
    vi.useFakeTimers();
    const client = new ShoalClient('ws://shoal.invalid/', { WebSocket: SilentSocket, reconnect: false });
    await client.connect();
    let outcome: unknown = 'pending';
    client.request('slow', null).then(
      (value) => (outcome = value),
      (error: unknown) => (outcome = error),
    );
    expect(SilentSocket.last?.sent).toEqual(['[1,1,"slow",null]']);
    await vi.advanceTimersByTimeAsync(DEFAULT_HANDLER_TIMEOUT_MS + 4_999);
    expect(outcome).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(outcome).toBeInstanceOf(ShoalError);
    expect((outcome as ShoalError).code).toBe(ClientErrorCode.REQUEST_TIMEOUT);
    client.close();
  });
});
