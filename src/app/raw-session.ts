/**
 * The session of a connection that negotiated no Shoal subprotocol: raw
 * WebSocket messages go to the app's `onMessage`. Text messages arrive as a
 * Buffer holding valid UTF-8 with `isBinary` false (as in ws 8): no string is
 * made unless the app asks for one with `data.toString()`.
 *
 * Raw connections take part in pub/sub (`ctx.subscribe`, `ctx.publish`, as
 * `ws.subscribe`/`ws.publish` in uWebSockets.js) and can be reached with
 * `sendTo`: what they receive is the published data itself as one message
 * (pubsub/raw-message.ts, docs/subprotocol.md §7). Everything but the
 * dispatch is the shared Context (context.ts, codec `null`), including the
 * flow control: a message whose handler published while another worker or
 * the broker was congested holds this connection's next messages until the
 * fan-out has drained, as on the subprotocols.
 */
import { ShoalContext } from './context.ts';
import { DEFAULT_LIMITS } from './protocol-session.ts';
import type { AppServices } from './services.ts';
import { isThenable } from './is-thenable.ts';
import type { App, ConnectionHandle, Session } from './types.ts';

/**
 * Session and Context in one object, to keep one allocation per connection
 * (memory per idle connection matters more than the tidiness of two objects);
 * also the connection's entry in the pub/sub and routing tables.
 */
export class RawSession extends ShoalContext<Record<string, unknown>, null> implements Session {
  #app: App;

  constructor(app: App, handle: ConnectionHandle, services: AppServices) {
    super(handle, null, services, app.limits?.maxSubscriptions ?? DEFAULT_LIMITS.maxSubscriptions);
    this.#app = app;
  }

  onOpen(): unknown {
    this.services.router.register(this);
    return this.#app.onOpen?.(this);
  }

  onMessage(data: Buffer, isBinary: boolean): unknown {
    this.publishedWhileCongested = false;
    const result = this.#app.onMessage?.(this, data, isBinary);
    if (!isThenable(result)) return this.afterFanOut();
    return result.then(() => this.afterFanOut());
  }

  onClose(code: number, reason: string): unknown {
    this.services.pubsub.unsubscribeAll(this);
    this.services.router.unregister(this);
    return this.#app.onClose?.(this, code, reason);
  }
}
