/**
 * The client side of the opening handshake (RFC 6455 §4.1): build the upgrade
 * request and check the server's answer. Pure apart from the random key.
 */
import { randomBytes } from 'node:crypto';
import { computeAcceptKey } from '../../src/protocol/handshake-response.ts';

/** Largest response head the client buffers before giving up (the server's 101 is a few hundred bytes). */
export const MAX_RESPONSE_HEAD_BYTES = 16 * 1024;

/** A fresh Sec-WebSocket-Key: base64 of 16 random bytes (RFC 6455 §4.1: "randomly selected 16-byte value"). */
export function createClientKey(): string {
  return randomBytes(16).toString('base64');
}

/** What goes into one upgrade request. */
export interface UpgradeRequestOptions {
  host: string;
  port: number;
  path: string;
  key: string;
  /** Subprotocols to offer, in preference order; none when empty. */
  protocols: readonly string[];
}

/** The bytes of a client upgrade request (RFC 6455 §4.1, items 1-9 of the client requirements). */
export function buildUpgradeRequest(options: UpgradeRequestOptions): Buffer {
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let head =
    `GET ${options.path} HTTP/1.1\r\n` +
    `Host: ${host}:${options.port}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${options.key}\r\n` +
    'Sec-WebSocket-Version: 13\r\n';
  if (options.protocols.length > 0) head += `Sec-WebSocket-Protocol: ${options.protocols.join(', ')}\r\n`;
  return Buffer.from(`${head}\r\n`, 'latin1');
}

/** The verdict on a server's response head. */
export type UpgradeResponseCheck =
  | { ok: true; protocol: string | null }
  | { ok: false; status: number; reason: string };

/**
 * Check a response head (the bytes before the empty line, without it) against
 * RFC 6455 §4.1's list of what the client MUST verify; `status` is 0 when the
 * status line itself is unreadable.
 */
export function checkUpgradeResponse(head: string, key: string, offered: readonly string[]): UpgradeResponseCheck {
  const lines = head.split('\r\n');
  const statusMatch = /^HTTP\/1\.1 (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (statusMatch === null) return { ok: false, status: 0, reason: `unreadable status line: ${JSON.stringify(lines[0])}` };
  const status = Number(statusMatch[1]);
  // §4.1: "If the status code received from the server is not 101, the client handles the response per HTTP".
  if (status !== 101) return { ok: false, status, reason: `server answered ${status} ${statusMatch[2] ?? ''}`.trim() };
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) return { ok: false, status, reason: `malformed header line: ${JSON.stringify(lines[i])}` };
    const name = lines[i].slice(0, colon).trim().toLowerCase();
    const value = lines[i].slice(colon + 1).trim();
    const previous = headers.get(name);
    headers.set(name, previous === undefined ? value : `${previous}, ${value}`);
  }
  // §4.1: the response MUST contain "Upgrade: websocket" (case-insensitive).
  if (headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    return { ok: false, status, reason: 'missing or wrong Upgrade header' };
  }
  // §4.1: ... and a Connection header containing the token "Upgrade" (case-insensitive).
  const connection = (headers.get('connection') ?? '').toLowerCase().split(',').map((token) => token.trim());
  if (!connection.includes('upgrade')) return { ok: false, status, reason: 'missing or wrong Connection header' };
  // §4.1: Sec-WebSocket-Accept MUST be base64(SHA-1(key + GUID)).
  if (headers.get('sec-websocket-accept') !== computeAcceptKey(key)) {
    return { ok: false, status, reason: 'Sec-WebSocket-Accept does not match the key' };
  }
  // §4.1: a Sec-WebSocket-Extensions value the client did not ask for MUST fail the connection (we offer none).
  if (headers.has('sec-websocket-extensions')) return { ok: false, status, reason: 'server chose an extension that was not offered' };
  // §4.1: a Sec-WebSocket-Protocol value that was not offered MUST fail the connection.
  const protocol = headers.get('sec-websocket-protocol') ?? null;
  if (protocol !== null && !offered.includes(protocol)) {
    return { ok: false, status, reason: `server chose subprotocol ${JSON.stringify(protocol)} that was not offered` };
  }
  if (protocol === null && offered.length > 0) {
    return { ok: false, status, reason: `server accepted none of the offered subprotocols (${offered.join(', ')})` };
  }
  return { ok: true, protocol };
}
