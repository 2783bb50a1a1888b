/**
 * Helpers for the Shoal-subprotocol integration tests: a client that speaks
 * the envelope by hand over the `ws` package (so tests can also send what
 * the typed client never would), and a way to get connections on every worker.
 */
import { once } from 'node:events';
import WebSocket from 'ws';
import { JSON_PROTOCOL, MSGPACK_PROTOCOL } from '../../src/codec/envelope.ts';
import { decodeMsgpack, encodeMsgpack } from '../../src/codec/msgpack.ts';

/** A `ws` connection that encodes and decodes envelopes in the negotiated codec. */
export class EnvelopeClient {
  readonly ws: WebSocket;
  /** Decoded messages not yet taken by next(). */
  readonly inbox: unknown[];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: { match: (message: unknown) => boolean; resolve: (message: unknown) => void }[];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.inbox = [];
    this.#waiters = [];
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data: Buffer, isBinary) => {
      const message = isBinary ? decodeMsgpack(data) : JSON.parse(data.toString());
      const index = this.#waiters.findIndex((waiter) => waiter.match(message));
      if (index >= 0) this.#waiters.splice(index, 1)[0].resolve(message);
      else this.inbox.push(message);
    });
  }

  /** Open a connection offering `protocols`; resolves once open. */
  static async open(url: string, protocols: string | string[] = MSGPACK_PROTOCOL): Promise<EnvelopeClient> {
    const ws = new WebSocket(url, protocols);
    const client = new EnvelopeClient(ws);
    await once(ws, 'open');
    return client;
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  /** Send a value encoded in the negotiated codec (msgpack binary or JSON text). */
  send(value: unknown): void {
    if (this.ws.protocol === JSON_PROTOCOL) this.ws.send(JSON.stringify(value));
    else this.ws.send(encodeMsgpack(value as never));
  }

  /** The next received message that matches (earlier ones that do not stay in the inbox). */
  next(match: (message: unknown) => boolean = () => true): Promise<unknown> {
    const index = this.inbox.findIndex(match);
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0]);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Send a request and wait for its reply or error reply. */
  async call(id: number, method: string, data: unknown): Promise<unknown> {
    this.send([1, id, method, data]);
    return this.next((message) => Array.isArray(message) && (message[0] === 2 || message[0] === 3) && message[1] === id);
  }

  close(): void {
    this.ws.close();
  }
}

/** The worker part of an address (with its node, on a cluster). */
export const workerOf = (address: string): string => address.slice(0, address.lastIndexOf('.'));

/**
 * Open connections until at least `perWorker` of them sit on each of
 * `workers` workers (the pool balances by load); returns them grouped by
 * worker. `address` asks a client for its address.
 */
export async function spreadOverWorkers<C>(
  open: () => Promise<C>,
  address: (client: C) => Promise<string>,
  workers: number,
  perWorker: number,
): Promise<Map<string, C[]>> {
  const byWorker = new Map<string, C[]>();
  for (let attempt = 0; attempt < workers * perWorker * 4; attempt++) {
    const client = await open();
    const worker = workerOf(await address(client));
    const list = byWorker.get(worker) ?? [];
    list.push(client);
    byWorker.set(worker, list);
    if (byWorker.size >= workers && [...byWorker.values()].every((clients) => clients.length >= perWorker)) return byWorker;
  }
  throw new Error(`could not spread connections over ${workers} workers: ${[...byWorker].map(([w, c]) => `${w}:${c.length}`).join(' ')}`);
}

export { JSON_PROTOCOL, MSGPACK_PROTOCOL };
