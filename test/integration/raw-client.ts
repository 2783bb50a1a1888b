/**
 * A `ws` client for raw connections (no subprotocol) to the raw pub/sub test
 * app (apps/raw-pubsub-app.ts): it sends the app's JSON commands and keeps
 * every message it receives, text or binary, for the test to take in order.
 */
import { once } from 'node:events';
import WebSocket from 'ws';

/** One received message: its bytes and whether it came as a binary message. */
export interface RawMessage {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

export class RawClient {
  readonly ws: WebSocket;
  readonly inbox: RawMessage[];
  /** Its address, from the app's welcome message. */
  address: string;
  #waiters: { match: (message: RawMessage) => boolean; resolve: (message: RawMessage) => void }[];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.inbox = [];
    this.address = '';
    this.#waiters = [];
    ws.on('message', (data: Buffer, isBinary) => {
      const message = { data, isBinary };
      const index = this.#waiters.findIndex((waiter) => waiter.match(message));
      if (index >= 0) this.#waiters.splice(index, 1)[0].resolve(message);
      else this.inbox.push(message);
    });
  }

  /** Open a raw connection and wait for the app's welcome (its address). */
  static async open(url: string): Promise<RawClient> {
    const ws = new WebSocket(url);
    const client = new RawClient(ws);
    await once(ws, 'open');
    const welcome = await client.nextText((text) => text.startsWith('{"address"'));
    client.address = (JSON.parse(welcome) as { address: string }).address;
    return client;
  }

  /** The next message that matches (earlier ones that do not stay in the inbox). */
  next(match: (message: RawMessage) => boolean = () => true): Promise<RawMessage> {
    const index = this.inbox.findIndex(match);
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0]);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** The next text message that matches, as a string. */
  async nextText(match: (text: string) => boolean = () => true): Promise<string> {
    const message = await this.next((m) => !m.isBinary && match(m.data.toString()));
    return message.data.toString();
  }

  /** Send one command to the app and wait for its `{"done": n}` answer. */
  async command(command: Record<string, unknown>): Promise<unknown> {
    const id = Math.random().toString(36).slice(2);
    this.ws.send(JSON.stringify({ ...command, id }));
    const answer = await this.nextText((text) => text.startsWith(`{"done":"${id}"`));
    return (JSON.parse(answer) as { result: unknown }).result;
  }

  subscribe(topic: string): Promise<unknown> {
    return this.command({ sub: topic });
  }

  close(): void {
    this.ws.close();
  }
}
