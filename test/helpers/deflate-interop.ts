/**
 * The parts the permessage-deflate interop tests share
 * (test/unit/protocol/*-deflate-interop.test.ts): the stand-in echo server's
 * opening handshake, made of the protocol core the way the worker wires it,
 * and the two clients' sides of an echo (the ws package, Node's built-in
 * WebSocket).
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { buildAcceptResponse } from '../../src/protocol/handshake-response.ts';
import { HandshakeParser } from '../../src/protocol/handshake-parser.ts';
import { negotiatePerMessageDeflate, type DeflateNegotiation, type PerMessageDeflateOptions } from '../../src/protocol/permessage-deflate-negotiation.ts';
import { validateUpgradeRequest } from '../../src/protocol/upgrade-request.ts';

/**
 * Reads `socket`'s request head (HandshakeParser), validates it, negotiates
 * permessage-deflate with `options` and writes the 101 (RFC 6455 §4.2.2,
 * RFC 7692 §5); then hands every byte after the head, pipelined ones first,
 * to the receiver `open` returns for the negotiation (null: no compression).
 */
export function acceptWithDeflate(socket: Socket, options: PerMessageDeflateOptions, open: (negotiated: DeflateNegotiation | null) => (chunk: Buffer) => void): void {
  const parser = new HandshakeParser();
  let receive: ((chunk: Buffer) => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    if (receive !== null) {
      receive(chunk);
      return;
    }
    const head = parser.push(chunk);
    if (head === null) return;
    const request = validateUpgradeRequest(head);
    const negotiated = negotiatePerMessageDeflate(request.extensions, options);
    socket.write(buildAcceptResponse(request.key, { extensions: negotiated?.response ?? null }));
    receive = open(negotiated);
    if (parser.rest.length > 0) receive(parser.rest);
  });
}

/** Opens a ws client; `extensions` is the 101's Sec-WebSocket-Extensions, `next()` resolves with the next message or rejects when the connection closes first. */
export async function openWsClient(
  url: string,
  perMessageDeflate: WebSocket.PerMessageDeflateOptions | false,
): Promise<{ client: WebSocket; extensions: string; next: () => Promise<Buffer> }> {
  const client = new WebSocket(url, { perMessageDeflate });
  let extensions = '';
  client.on('upgrade', (response) => {
    extensions = response.headers['sec-websocket-extensions'] ?? '';
  });
  await once(client, 'open');
  const closed = new Promise<never>((_resolve, reject) => {
    client.once('close', (code: number, reason: Buffer) => reject(new Error(`closed with ${code} ${reason.toString()}`)));
  });
  closed.catch(() => {});
  const next = async () => ((await Promise.race([once(client, 'message'), closed])) as [Buffer, boolean])[0];
  return { client, extensions, next };
}

/** Opens Node's built-in WebSocket (undici's, which offers permessage-deflate). */
export async function openBuiltIn(url: string): Promise<globalThis.WebSocket> {
  const client = new globalThis.WebSocket(url);
  await new Promise((resolve, reject) => {
    client.onopen = resolve;
    client.onerror = reject;
  });
  return client;
}

/** Sends `text` on Node's built-in WebSocket and resolves with the reply as text; rejects when the connection closes first. */
export function roundTripBuiltIn(client: globalThis.WebSocket, text: string): Promise<string> {
  const reply = new Promise<string>((resolve, reject) => {
    client.onmessage = (event) => resolve(String(event.data));
    client.onclose = (event) => reject(new Error(`closed with ${event.code} ${event.reason}`));
  });
  client.send(text);
  return reply;
}
