/**
 * Validation of a parsed request head as a WebSocket upgrade request (RFC
 * 6455 §4.2.1), and extraction of what the negotiation and the app's upgrade
 * hook need (UpgradeRequestInfo). Every refusal is a HandshakeError carrying
 * its HTTP status. Choices where the RFCs leave room (documented at the line
 * that makes them):
 * - HTTP/1.0 and older get 400, "HTTP/2.0" and later in an HTTP/1 request
 *   line get 505;
 * - a missing Sec-WebSocket-Version gets 426 like an unknown one, so the
 *   client learns which version to send;
 * - the Sec-WebSocket-Key must be canonical base64 (RFC 4648 §3.5);
 * - a GET carrying a body (Content-Length other than 0, Transfer-Encoding)
 *   is refused: the bytes after the head must be WebSocket frames.
 */
import { HandshakeError } from './errors.ts';
import { parseExtensions } from './extensions.ts';
import type { ExtensionOffer } from './extensions.ts';
import { listHasToken } from './http-syntax.ts';
import type { RequestHead } from './request-head.ts';
import { parseProtocolList } from './subprotocol.ts';

/** A validated upgrade request: what the app's upgrade hook and the negotiation need. */
export interface UpgradeRequestInfo {
  /** Path of the target without the query ("/" for an absolute-form target without a path). */
  path: string;
  /** Request target as sent. */
  target: string;
  /** The server authority: Host, or the authority of an absolute-form target (RFC 9112 §3.2.2). */
  host: string;
  /** Sec-WebSocket-Key, validated (24 characters of base64 for 16 bytes). */
  key: string;
  /** Offered subprotocols in the client's order. */
  protocols: string[];
  /** Offered extensions in the client's order. */
  extensions: ExtensionOffer[];
  /** Null-prototype record: lower-cased names, repeated lines joined ", " (Cookie lines joined "; "); made when first read. */
  readonly headers: Record<string, string>;
  /** The Origin header, or null when absent (RFC 6455 §4.2.1 item 7, §10.2). */
  origin: string | null;
}

/**
 * Check a request head against RFC 6455 §4.2.1 and extract what negotiation
 * needs. Throws HandshakeError: 405 for a method other than GET, 426 for a
 * missing or unsupported Sec-WebSocket-Version, 505 for HTTP/2+, 400 for
 * anything else the server cannot understand.
 */
export function validateUpgradeRequest(head: RequestHead): UpgradeRequestInfo {
  const headers = head.headers;
  // RFC 6455 §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
  const major = head.httpVersion.charCodeAt(0) - 0x30;
  const minor = head.httpVersion.charCodeAt(2) - 0x30;
  if (major < 1 || (major === 1 && minor < 1)) {
    throw new HandshakeError('HS_ERR_HTTP_VERSION_TOO_OLD', 'WebSocket upgrade requires HTTP/1.1 or later');
  }
  // RFC 9110 §15.6.6: 505 when the server does not support "the major
  // version of HTTP that was used in the request message"; HTTP/2 and later
  // never use the HTTP/1 request line.
  if (major > 1) {
    throw new HandshakeError('HS_ERR_HTTP_VERSION_NOT_SUPPORTED', `HTTP/${head.httpVersion} is not supported over this connection; use HTTP/1.1`);
  }
  // RFC 6455 §4.2.1 item 1: "... GET request". The method is case-sensitive
  // (RFC 9110 §9.1); RFC 9110 §15.5.6: the 405 response carries Allow.
  if (head.method !== 'GET') {
    throw new HandshakeError('HS_ERR_METHOD_NOT_ALLOWED', 'WebSocket upgrade requires the GET method');
  }
  const target = parseTarget(head.target);

  // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status
  // code to any HTTP/1.1 request message that lacks a Host header field and
  // to any request message that contains more than one Host header field line
  // or a Host header field with an invalid field value."
  const hostLines = headers.get('host');
  if (hostLines === undefined) throw new HandshakeError('HS_ERR_INVALID_HOST', 'Missing Host header');
  if (hostLines.length > 1) throw new HandshakeError('HS_ERR_INVALID_HOST', 'More than one Host header');
  // RFC 6455 §4.2.1 item 2: "A |Host| header field containing the server's
  // authority", so an empty Host is refused too.
  if (!isAuthority(hostLines[0])) throw new HandshakeError('HS_ERR_INVALID_HOST', 'Invalid Host header');
  // RFC 9112 §3.2.2: for an absolute-form target the server "MUST ignore the
  // received Host header field (if any) and instead use the host information
  // of the request-target."
  const host = target.authority ?? hostLines[0];

  // RFC 9112 §6.1-§6.3: a request has content when it carries
  // Transfer-Encoding or a non-zero Content-Length. Bytes after the upgrade
  // request head must be WebSocket frames, so a body is refused.
  const contentLength = headers.get('content-length');
  if (headers.has('transfer-encoding') || (contentLength !== undefined && contentLength.some((v) => v !== '0'))) {
    throw new HandshakeError('HS_ERR_UNEXPECTED_BODY', 'A WebSocket upgrade request must not have a body');
  }

  // RFC 6455 §4.2.1 item 3: "An |Upgrade| header field containing the value
  // "websocket", treated as an ASCII case-insensitive value."
  const upgrade = headers.get('upgrade');
  if (upgrade === undefined || !listHasToken(upgrade, 'websocket')) {
    throw new HandshakeError('HS_ERR_INVALID_UPGRADE', 'Expected an Upgrade header containing "websocket"');
  }
  // RFC 6455 §4.2.1 item 4: "A |Connection| header field that includes the
  // token "Upgrade", treated as an ASCII case-insensitive value."
  const connection = headers.get('connection');
  if (connection === undefined || !listHasToken(connection, 'upgrade')) {
    throw new HandshakeError('HS_ERR_INVALID_CONNECTION', 'Expected a Connection header containing "Upgrade"');
  }

  // RFC 6455 §4.2.2 /version/: "If this version does not match a version
  // understood by the server, the server MUST abort the WebSocket handshake
  // ... and instead send an appropriate HTTP error code (such as 426 Upgrade
  // Required) and a |Sec-WebSocket-Version| header field indicating the
  // version(s) the server is capable of understanding." A missing version is
  // treated the same way, so an old client learns what to send.
  const version = headers.get('sec-websocket-version');
  if (version === undefined) {
    throw new HandshakeError('HS_ERR_UNSUPPORTED_VERSION', 'Missing Sec-WebSocket-Version header; this server speaks version 13');
  }
  // RFC 6455 §11.3.5: "The |Sec-WebSocket-Version| header field MUST NOT
  // appear more than once in an HTTP request."
  if (version.length > 1) {
    throw new HandshakeError('HS_ERR_DUPLICATE_HEADER', 'More than one Sec-WebSocket-Version header');
  }
  // RFC 6455 §4.2.1 item 6: "A |Sec-WebSocket-Version| header field, with a value of 13."
  if (version[0] !== '13') {
    throw new HandshakeError('HS_ERR_UNSUPPORTED_VERSION', 'Unsupported Sec-WebSocket-Version; this server speaks version 13');
  }

  // RFC 6455 §11.3.1: "The |Sec-WebSocket-Key| header field MUST NOT appear
  // more than once in an HTTP request."
  const keyLines = headers.get('sec-websocket-key');
  if (keyLines === undefined) throw new HandshakeError('HS_ERR_INVALID_KEY', 'Missing Sec-WebSocket-Key header');
  if (keyLines.length > 1) throw new HandshakeError('HS_ERR_INVALID_KEY', 'More than one Sec-WebSocket-Key header');
  const key = keyLines[0];
  // RFC 6455 §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a
  // base64-encoded (see Section 4 of [RFC4648]) value that, when decoded, is
  // 16 bytes in length."
  if (!isBase64Of16Bytes(key)) {
    throw new HandshakeError('HS_ERR_INVALID_KEY', 'Invalid Sec-WebSocket-Key header: expected base64 of 16 bytes');
  }

  // RFC 6455 §4.2.1 item 7: "Optionally, an |Origin| header field." RFC 6454
  // §7.3: a user agent "MUST NOT include more than one Origin header field";
  // an ambiguous origin must not reach the app's origin check.
  const originLines = headers.get('origin');
  if (originLines !== undefined && originLines.length > 1) {
    throw new HandshakeError('HS_ERR_DUPLICATE_HEADER', 'More than one Origin header');
  }

  // RFC 6455 §4.2.1 items 8 and 9, §11.3.4 and §11.3.2: repeated lines form one list.
  const protocolLines = headers.get('sec-websocket-protocol');
  const protocols = protocolLines === undefined ? [] : parseProtocolList(protocolLines);
  const extensionLines = headers.get('sec-websocket-extensions');
  const extensions = extensionLines === undefined ? [] : parseExtensions(extensionLines);

  return new ValidatedUpgrade(target.path, head.target, host, key, protocols, extensions, headers, originLines === undefined ? null : originLines[0]);
}

/**
 * The UpgradeRequestInfo validateUpgradeRequest returns. The joined `headers`
 * record is made on first use: only an app's upgrade hook reads it, and
 * building it for every handshake (a dictionary-mode object with one entry
 * per header line) was about 2% of a worker's time in a connection storm
 * (--cpu-prof, bench/handshake-cost.ts).
 */
class ValidatedUpgrade implements UpgradeRequestInfo {
  readonly path: string;
  readonly target: string;
  readonly host: string;
  readonly key: string;
  readonly protocols: string[];
  readonly extensions: ExtensionOffer[];
  readonly origin: string | null;
  readonly #lines: Map<string, string[]>;
  #headers: Record<string, string> | null;

  constructor(
    path: string,
    target: string,
    host: string,
    key: string,
    protocols: string[],
    extensions: ExtensionOffer[],
    lines: Map<string, string[]>,
    origin: string | null,
  ) {
    this.path = path;
    this.target = target;
    this.host = host;
    this.key = key;
    this.protocols = protocols;
    this.extensions = extensions;
    this.origin = origin;
    this.#lines = lines;
    this.#headers = null;
  }

  get headers(): Record<string, string> {
    this.#headers ??= joinHeaders(this.#lines);
    return this.#headers;
  }
}

/**
 * RFC 6455 §4.2.1 item 1 and RFC 9112 §3.2: origin-form (`/path?query`) or
 * absolute-form with an http, https, ws or wss URI. Fragments are never part
 * of a request target.
 */
function parseTarget(target: string): { path: string; authority: string | null } {
  if (target.charCodeAt(0) === 0x2f /* / */) {
    // RFC 9112 §3.2.1: origin-form = absolute-path [ "?" query ].
    if (target.includes('#')) throw new HandshakeError('HS_ERR_INVALID_TARGET', 'Invalid request target: fragments are not allowed');
    const query = target.indexOf('?');
    return { path: query === -1 ? target : target.slice(0, query), authority: null };
  }
  // RFC 9112 §3.2.2: "a server MUST accept the absolute-form in requests".
  const schemeEnd = target.indexOf('://');
  const scheme = schemeEnd === -1 ? '' : target.slice(0, schemeEnd).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'ws' && scheme !== 'wss') {
    throw new HandshakeError('HS_ERR_INVALID_TARGET', 'Invalid request target: expected /path or an absolute http(s) or ws(s) URI');
  }
  if (target.includes('#')) throw new HandshakeError('HS_ERR_INVALID_TARGET', 'Invalid request target: fragments are not allowed');
  const authorityStart = schemeEnd + 3;
  let authorityEnd = authorityStart;
  while (authorityEnd < target.length) {
    const c = target.charCodeAt(authorityEnd);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */) break;
    authorityEnd++;
  }
  const authority = target.slice(authorityStart, authorityEnd);
  // RFC 9110 §4.2.1: an http(s) URI has a non-empty authority; §4.2.4
  // forbids userinfo.
  if (!isAuthority(authority)) {
    throw new HandshakeError('HS_ERR_INVALID_TARGET', 'Invalid request target: bad authority');
  }
  let path = '/';
  if (authorityEnd < target.length && target.charCodeAt(authorityEnd) === 0x2f) {
    const query = target.indexOf('?', authorityEnd);
    path = query === -1 ? target.slice(authorityEnd) : target.slice(authorityEnd, query);
  }
  return { path, authority };
}

/**
 * Characters of host [ ":" port ] (RFC 3986 §3.2.2-§3.2.3: unreserved,
 * pct-encoded, sub-delims, and the ":" "[" "]" of ports and IP literals).
 */
const AUTHORITY_CHAR = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) AUTHORITY_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) AUTHORITY_CHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) AUTHORITY_CHAR[c] = 1;
for (const ch of "-._~%!$&'()*+,;=:[]") AUTHORITY_CHAR[ch.charCodeAt(0)] = 1;

/**
 * A non-empty string of authority characters (RFC 9110 §7.2: Host = uri-host
 * [ ":" port ]). "@" is refused: it only introduces userinfo, which Host never
 * carries and the http(s) schemes forbid (RFC 9110 §4.2.4).
 */
function isAuthority(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || AUTHORITY_CHAR[c] !== 1) return false;
  }
  return true;
}

/** base64 alphabet (RFC 4648 §4): value + 1, 0 for characters outside it. */
const BASE64 = new Uint8Array(128);
const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
for (let i = 0; i < BASE64_ALPHABET.length; i++) BASE64[BASE64_ALPHABET.charCodeAt(i)] = i + 1;

/**
 * Strict base64 of exactly 16 bytes: 22 alphabet characters then "==", and
 * the last character carries no stray bits (RFC 4648 §3.5: canonical
 * encoding; 16 bytes leave 4 unused low bits in the 22nd character).
 */
function isBase64Of16Bytes(key: string): boolean {
  if (key.length !== 24 || key.charCodeAt(22) !== 0x3d || key.charCodeAt(23) !== 0x3d) return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    if (c >= 128 || BASE64[c] === 0) return false;
  }
  return ((BASE64[key.charCodeAt(21)] - 1) & 0x0f) === 0;
}

function joinHeaders(headers: Map<string, string[]>): Record<string, string> {
  const joined: Record<string, string> = Object.create(null);
  for (const [name, values] of headers) {
    // RFC 6265 §5.4: the Cookie pairs are separated by "; ", not ", ".
    joined[name] = values.length === 1 ? values[0] : values.join(name === 'cookie' ? '; ' : ', ');
  }
  return joined;
}
