/**
 * TLS in the worker that owns the connection: the socket the primary handed
 * over, unread, is wrapped in a server-side `tls.TLSSocket` here, so the
 * handshake and every record's encryption run on the worker's thread. One
 * SecureContext per worker, rebuilt when the primary broadcasts a reloaded
 * certificate (SIGHUP); connections keep the context they started with.
 *
 * Every worker gets the same session ticket keys (made once by the
 * primary), so a ticket one worker issued resumes the session on any other.
 * ALPN offers `http/1.1` only: WebSocket (RFC 6455 §4.1) and the app's
 * `http` handler are HTTP/1.1.
 */
import type { Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { WorkerTls } from './messages.ts';
import { recordTlsOver } from './wire-bytes.ts';

/** The PEM material of a certificate. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly passphrase: string | undefined;
}

/** Builds the SecureContext every connection of a worker uses. Throws when the key does not fit the certificate. */
export function secureContextOf(material: TlsMaterial, ticketKeys: Uint8Array): SecureContext {
  const context = createSecureContext({
    cert: material.cert,
    key: material.key,
    passphrase: material.passphrase,
    // Tickets resume a session on whichever worker the next connection lands (no per-worker session cache).
    ticketKeys: Buffer.from(ticketKeys),
    sessionIdContext: 'shoal',
  });
  return context;
}

/** A worker's TLS side. */
export class TlsTerminator {
  #context: SecureContext;
  readonly #ticketKeys: Uint8Array;

  constructor(tls: WorkerTls) {
    this.#ticketKeys = tls.ticketKeys;
    this.#context = secureContextOf(tls, tls.ticketKeys);
  }

  /** Wraps a plain socket (unread, or with the bytes after a PROXY header unshifted) in a server-side TLS socket. */
  wrap(socket: Socket): TLSSocket {
    const secure = new TLSSocket(socket, { isServer: true, secureContext: this.#context, ALPNProtocols: ['http/1.1'] });
    recordTlsOver(secure, socket);
    return secure;
  }

  /** New connections use this certificate and key from now on; throws (and keeps the old ones) when they are unusable. */
  reload(material: TlsMaterial): void {
    this.#context = secureContextOf(material, this.#ticketKeys);
  }
}
