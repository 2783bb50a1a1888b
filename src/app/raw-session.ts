/**
 * The session of a connection that negotiated no Shoal subprotocol: raw
 * WebSocket messages go to the app's `onMessage`. Text messages arrive as a
 * Buffer holding valid UTF-8 with `isBinary` false (as in ws 8): no string is
 * made unless the app asks for one with `data.toString()`.
 */
import { CloseCode } from '../protocol/constants.ts';
import { log, type Logger } from '../telemetry/logger.ts';
import type { App, ConnectionAddress, ConnectionHandle, Context, Session } from './types.ts';

/** Thrown by the Context methods that only exist on the Shoal subprotocols. */
export class SubprotocolRequiredError extends Error {
  constructor(method: string) {
    super(`ctx.${method}() requires the Shoal subprotocol; this connection negotiated none (use ctx.sendRaw)`);
    this.name = 'SubprotocolRequiredError';
  }
}

/**
 * Session and Context in one object, to keep one allocation per connection
 * (memory per idle connection matters more than the tidiness of two objects).
 */
export class RawSession implements Session, Context {
  readonly address: ConnectionAddress;
  readonly protocol: string | null;
  readonly upgradeData: unknown;
  state: Record<string, unknown>;
  #app: App;
  #handle: ConnectionHandle;
  #log: Logger | null;

  constructor(app: App, handle: ConnectionHandle) {
    this.address = handle.address;
    this.protocol = handle.protocol;
    this.upgradeData = handle.upgradeData;
    this.state = {};
    this.#app = app;
    this.#handle = handle;
    this.#log = null;
  }

  /** The worker's logger bound to this connection (a pino child, made on first use). */
  get log(): Logger {
    this.#log ??= log().child({ conn: this.address, peer: this.#handle.remoteAddress });
    return this.#log;
  }

  onOpen(): void | Promise<void> {
    return this.#app.onOpen?.(this);
  }

  onMessage(data: Buffer, isBinary: boolean): void | Promise<void> {
    return this.#app.onMessage?.(this, data, isBinary);
  }

  onClose(code: number, reason: string): void | Promise<void> {
    return this.#app.onClose?.(this, code, reason);
  }

  sendRaw(data: Uint8Array | string, isBinary: boolean = typeof data !== 'string'): void {
    this.#handle.send(data, isBinary);
  }

  close(code: number = CloseCode.NORMAL_CLOSURE, reason: string = ''): void {
    this.#handle.close(code, reason);
  }

  send(_event: string, _data?: unknown): void {
    throw new SubprotocolRequiredError('send');
  }

  sendTo(_address: ConnectionAddress, _event: string, _data?: unknown): never {
    throw new SubprotocolRequiredError('sendTo');
  }

  publish(_topic: string, _data?: unknown): never {
    throw new SubprotocolRequiredError('publish');
  }

  subscribe(_topic: string): never {
    throw new SubprotocolRequiredError('subscribe');
  }

  unsubscribe(_topic: string): never {
    throw new SubprotocolRequiredError('unsubscribe');
  }
}
