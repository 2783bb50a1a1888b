/**
 * A raw TCP client for the tests that must send what a real WebSocket client
 * never would: broken heads, unmasked or reserved frames, nothing at all.
 * Server frames are parsed with the protocol core's own FrameDecoder.
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../src/protocol/frame-decoder.ts';
import { Opcode } from '../../src/protocol/constants.ts';
import { encodeFrame } from '../../src/protocol/frame-encoder.ts';

/** A fixed client mask: tests need masked frames, not secret ones. */
export const TEST_MASK = Uint8Array.from([0x12, 0x34, 0x56, 0x78]);

/** A valid upgrade request head for `path`, with extra header lines. */
export function upgradeRequest(path = '/', extraHeaders: Record<string, string> = {}): string {
  const lines = [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    ...Object.entries(extraHeaders).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A masked client frame. */
export function clientFrame(opcode: number, payload: Uint8Array | string, fin = true): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return encodeFrame(opcode, bytes, { fin, mask: TEST_MASK });
}

/** An HTTP response as received. */
export interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/** Parses "HTTP/1.1 404 Not Found\r\n...\r\n\r\nbody". */
export function parseResponse(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0);
  return { status, head, body: end === -1 ? '' : text.slice(end + 4) };
}

/** What the server sent on a WebSocket connection, decoded. */
export interface ServerEvent {
  type: 'text' | 'binary' | 'ping' | 'pong' | 'close' | 'error';
  data: Buffer;
  /** For close frames: the code (1005 when the payload is empty). */
  code?: number;
  reason?: string;
}

/** A raw client connection with a log of everything received. */
export class RawClient {
  readonly socket: Socket;
  closed: Promise<void>;
  isClosed: boolean;
  private chunks: Buffer[];
  private cachedEvents: { length: number; events: ServerEvent[] } | null;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.chunks = [];
    this.cachedEvents = null;
    this.isClosed = false;
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  /** Connects to 127.0.0.1:port. */
  static async connect(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Connects and completes a handshake; throws unless the answer is 101. */
  static async open(port: number, path = '/', extraHeaders: Record<string, string> = {}): Promise<RawClient> {
    const client = await RawClient.connect(port);
    await client.upgrade(path, extraHeaders);
    return client;
  }

  /** A raw client over a socket already connected (a TLS socket, or one through a proxy). */
  static over(socket: Socket): RawClient {
    return new RawClient(socket);
  }

  /** Sends an upgrade request and waits for its answer; throws unless it is 101. */
  async upgrade(path = '/', extraHeaders: Record<string, string> = {}): Promise<void> {
    this.write(upgradeRequest(path, extraHeaders));
    await this.waitFor(() => this.received.includes('\r\n\r\n'));
    const end = this.received.indexOf('\r\n\r\n') + 4;
    const response = parseResponse(this.received.subarray(0, end).toString('latin1'));
    if (response.status !== 101) throw new Error(`expected 101, got ${response.head}`);
    this.received = this.received.subarray(end);
  }

  /** Everything received so far (after `open`, only what followed the 101 head). */
  get received(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0];
  }

  set received(bytes: Buffer) {
    this.chunks = [bytes];
    this.cachedEvents = null;
  }

  write(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  /** Polls until `condition` holds or the socket closes (then checks once more); 5 s limit. */
  async waitFor(condition: () => boolean, limitMs = 5000): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (!condition()) {
      if (this.isClosed) {
        if (condition()) return;
        throw new Error(`connection closed before the condition held; received ${JSON.stringify(this.received.toString('latin1').slice(0, 200))}`);
      }
      if (Date.now() > deadline) throw new Error(`condition not met within ${limitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Waits for the server to close the TCP connection and returns everything it sent as text. */
  async responseText(): Promise<string> {
    await this.closed;
    return this.received.toString('utf8');
  }

  /** Decodes the frames received so far (server frames are unmasked). */
  events(): ServerEvent[] {
    const received = this.received;
    if (this.cachedEvents?.length === received.length) return this.cachedEvents.events;
    const events: ServerEvent[] = [];
    const decoder = new FrameDecoder(
      {
        onMessage: (data, isBinary) => events.push({ type: isBinary ? 'binary' : 'text', data: Buffer.from(data) }),
        onControl: (opcode, payload) => {
          const data = Buffer.from(payload);
          if (opcode === Opcode.PING) events.push({ type: 'ping', data });
          else if (opcode === Opcode.PONG) events.push({ type: 'pong', data });
          else
            events.push({
              type: 'close',
              data,
              code: data.length >= 2 ? data.readUInt16BE(0) : 1005,
              reason: data.subarray(2).toString('utf8'),
            });
        },
        onError: (error) => events.push({ type: 'error', data: Buffer.from(error.message) }),
      },
      { maxMessageBytes: 64 * 1024 * 1024, requireMask: false },
    );
    decoder.push(Buffer.from(received));
    this.cachedEvents = { length: received.length, events };
    return events;
  }

  /** Waits for a close frame from the server and returns it. */
  async closeFrame(): Promise<ServerEvent> {
    await this.waitFor(() => this.events().some((event) => event.type === 'close'));
    return this.events().find((event) => event.type === 'close') as ServerEvent;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
