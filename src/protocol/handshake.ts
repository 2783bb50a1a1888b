/**
 * The opening handshake, server side (RFC 6455 §4.2), sans-I/O:
 *
 *   bytes ──> HandshakeParser.push() ──> RequestHead ──> validateUpgradeRequest()
 *                    │ rest (pipelined frame bytes)           │ UpgradeRequestInfo
 *                    v                                        v
 *              frame decoder          buildAcceptResponse() | buildErrorResponse()
 *
 * Every refusal is a HandshakeError carrying its HTTP status; the caller
 * writes handshakeErrorResponse(error) and closes the connection. Choices
 * where the RFCs leave room (documented at the line that makes them):
 * - line endings are strict: a bare LF or bare CR is a 400 (RFC 9112 §2.2
 *   allows either tolerance or refusal; a WebSocket client has no excuse);
 * - HTTP/1.0 and older get 400, "HTTP/2.0" and later in an HTTP/1 request
 *   line get 505;
 * - a missing Sec-WebSocket-Version gets 426 like an unknown one, so the
 *   client learns which version to send; a 426 also carries `Upgrade:
 *   websocket` and `Connection: Upgrade, close` (RFC 9110 §15.5.22, §7.8);
 * - the Sec-WebSocket-Key must be canonical base64 (RFC 4648 §3.5);
 * - an empty line before the request line is skipped (RFC 9112 §2.2);
 * - a GET carrying a body (Content-Length other than 0, Transfer-Encoding)
 *   is refused: the bytes after the head must be WebSocket frames.
 */
import { hash } from 'node:crypto';
import { WEBSOCKET_GUID } from './constants.ts';
import { HandshakeError } from './errors.ts';
import { parseExtensions } from './extensions.ts';
import type { ExtensionOffer } from './extensions.ts';
import { isOws, isSafeFieldValue, isToken, isTokenChar, listHasToken } from './http-syntax.ts';
import { parseProtocolList } from './subprotocol.ts';

/** The parsed request head, before any WebSocket validation. */
export interface RequestHead {
  /** Method token as sent (case-sensitive, RFC 9110 §9.1). */
  method: string;
  /** Request target as sent. */
  target: string;
  /** "major.minor", e.g. "1.1" (as Node's IncomingMessage.httpVersion). */
  httpVersion: string;
  /** Lower-cased field names; the values of repeated lines in order, each trimmed of OWS. */
  headers: Map<string, string[]>;
}

/** Default limit on the size of a request head, in bytes, including the final empty line. */
export const DEFAULT_MAX_HEAD_BYTES = 8192;

const CR = 0x0d;
const LF = 0x0a;

// Scanner states, named for what they wait for.
/** Inside a non-empty line: waiting for its CR. */
const READ_LINE = 0;
/** After a CR: waiting for its LF. */
const READ_LF = 1;
/** At the start of a line: a CR here begins the empty line that ends the head. */
const READ_LINE_START = 2;
/** After the CR of an empty line: waiting for the LF that ends the head. */
const READ_FINAL_LF = 3;

const EMPTY = Buffer.alloc(0);

function malformed(reason: string): HandshakeError {
  return new HandshakeError('HS_ERR_MALFORMED_HEAD', reason);
}

/**
 * Incremental reader of one HTTP/1.1 request head (RFC 9112 §2.1):
 * `start-line *( field-line CRLF ) CRLF`.
 *
 * Feed every chunk read from the socket to push() until it returns the head;
 * then hand `rest` (bytes the client pipelined after the head, usually its
 * first frames) to the frame decoder and drop the parser. If push() throws a
 * HandshakeError, write handshakeErrorResponse(error) and close; later calls
 * rethrow the same error. Memory is bounded by `maxHeadBytes`: bytes past the
 * limit are never copied.
 */
export class HandshakeParser {
  readonly maxHeadBytes: number;
  private state: number;
  /** Bytes of the stream scanned so far (all of them belong to the head). */
  private scanned: number;
  /** Offset of the request line: leading empty lines are skipped. */
  private headStart: number;
  /** True once a byte of the request line has been seen. */
  private seenRequestLine: boolean;
  /** Head bytes of earlier chunks (the "spill"); only used when a head spans chunks. */
  private spill: Buffer;
  private spillLength: number;
  private head: RequestHead | null;
  private error: HandshakeError | null;
  private remainder: Buffer;

  constructor(options: { maxHeadBytes?: number } = {}) {
    const maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
    // The smallest possible head, "GET / HTTP/1.1\r\n\r\n", is 18 bytes.
    if (!Number.isSafeInteger(maxHeadBytes) || maxHeadBytes < 18) {
      throw new RangeError(`maxHeadBytes must be an integer >= 18, got ${maxHeadBytes}`);
    }
    this.maxHeadBytes = maxHeadBytes;
    this.state = READ_LINE_START;
    this.scanned = 0;
    this.headStart = 0;
    this.seenRequestLine = false;
    this.spill = EMPTY;
    this.spillLength = 0;
    this.head = null;
    this.error = null;
    this.remainder = EMPTY;
  }

  /**
   * Bytes after the head, once push() has returned it (empty before). A view
   * of the last chunk pushed, not a copy.
   */
  get rest(): Buffer {
    return this.remainder;
  }

  /** Head bytes currently held by the parser; never more than maxHeadBytes. */
  get bufferedBytes(): number {
    return this.spillLength;
  }

  /**
   * Feed bytes; returns null while the head is incomplete, else the head.
   * Throws HandshakeError: 431 as soon as maxHeadBytes bytes have arrived
   * without the end of the head, 400 for a syntax error. After a head is
   * returned, `rest` holds the bytes after it and push() must not be called
   * again.
   */
  push(chunk: Buffer): RequestHead | null {
    if (this.error !== null) throw this.error;
    if (this.head !== null) throw new Error('HandshakeParser: the head is complete; pass further bytes to the frame decoder');
    try {
      return this.scan(chunk);
    } catch (error) {
      if (error instanceof HandshakeError) {
        this.error = error;
        this.release();
      }
      throw error;
    }
  }

  private scan(chunk: Buffer): RequestHead | null {
    // Never look at (or copy) a byte past the limit.
    const limit = Math.min(chunk.length, this.maxHeadBytes - this.scanned);
    let state = this.state;
    let seenRequestLine = this.seenRequestLine;
    let end = -1;
    let i = 0;
    while (i < limit) {
      if (state === READ_LINE || state === READ_LINE_START) {
        // Inner loop over line content: one compare per byte for anything
        // above CR (about 1 ns/byte on a 531-byte browser head, half the
        // cost of a switch per byte and faster than Buffer#indexOf per line).
        const contentStart = i;
        let byte = 0;
        while (i < limit) {
          byte = chunk[i];
          if (byte <= CR && (byte === CR || byte === LF)) break;
          i++;
        }
        if (i > contentStart) {
          state = READ_LINE;
          seenRequestLine = true;
        }
        if (i === limit) break;
        // RFC 9112 §2.2: a recipient MAY recognise a bare LF as a line
        // terminator; WebSocket clients always send CRLF, so we do not.
        if (byte === LF) throw malformed('Bare LF in the request head: every line must end with CRLF');
        state = state === READ_LINE_START ? READ_FINAL_LF : READ_LF;
        i++;
        continue;
      }
      // RFC 9112 §2.2: "A recipient of such a bare CR MUST consider that
      // element to be invalid or replace each bare CR with SP".
      if (chunk[i] !== LF) throw malformed('Bare CR in the request head: every line must end with CRLF');
      i++;
      if (state === READ_LF) {
        state = READ_LINE_START;
      } else if (seenRequestLine) {
        end = i;
        break;
      } else {
        // RFC 9112 §2.2: "a server that is expecting to receive and parse a
        // request-line SHOULD ignore at least one empty line (CRLF) received
        // prior to the request-line."
        this.headStart = this.scanned + i;
        state = READ_LINE_START;
      }
    }
    this.seenRequestLine = seenRequestLine;
    this.state = state;

    if (end === -1) {
      this.scanned += limit;
      // RFC 6585 §5: 431 "when the server is unwilling to process the request
      // because its header fields are too large". Once maxHeadBytes bytes are
      // in without the empty line, the head cannot fit: refuse now.
      if (this.scanned >= this.maxHeadBytes) {
        throw new HandshakeError('HS_ERR_HEAD_TOO_LARGE', `Request head exceeds ${this.maxHeadBytes} bytes`);
      }
      this.append(chunk, limit);
      return null;
    }

    let headBytes: Buffer;
    if (this.spillLength === 0) {
      // Common case: the whole head arrived in one chunk; no copy.
      headBytes = chunk.subarray(0, end);
    } else {
      this.append(chunk, end);
      headBytes = this.spill.subarray(0, this.spillLength);
    }
    const head = parseHead(headBytes, this.headStart);
    this.remainder = end < chunk.length ? chunk.subarray(end) : EMPTY;
    this.head = head;
    this.release();
    return head;
  }

  /** Copy chunk[0, length) to the spill, growing it geometrically up to maxHeadBytes. */
  private append(chunk: Buffer, length: number): void {
    if (length === 0) return;
    const needed = this.spillLength + length;
    if (needed > this.spill.length) {
      let size = Math.max(this.spill.length * 2, 1024);
      while (size < needed) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, this.maxHeadBytes));
      this.spill.copy(grown, 0, 0, this.spillLength);
      this.spill = grown;
    }
    chunk.copy(this.spill, this.spillLength, 0, length);
    this.spillLength = needed;
  }

  private release(): void {
    this.spill = EMPTY;
    this.spillLength = 0;
  }
}

/**
 * Parse the lines of a complete head. `bytes` ends with CRLF CRLF and holds
 * no bare CR or LF (the scanner guarantees both); `start` skips leading
 * empty lines.
 */
function parseHead(bytes: Buffer, start: number): RequestHead {
  // latin1 maps each byte to one UTF-16 unit, so obs-text (0x80-0xFF) in field
  // values survives unchanged and offsets stay byte offsets.
  const text = bytes.toString('latin1', start, bytes.length - 4);
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = text.length;
  const head = parseRequestLine(text.slice(0, lineEnd));
  let lineStart = lineEnd + 2;
  while (lineStart < text.length) {
    lineEnd = text.indexOf('\r\n', lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    parseFieldLine(text, lineStart, lineEnd, head.headers);
    lineStart = lineEnd + 2;
  }
  return head;
}

/** request-line = method SP request-target SP HTTP-version (RFC 9112 §3). */
function parseRequestLine(line: string): RequestHead {
  const sp1 = line.indexOf(' ');
  // RFC 9112 §3: "Recipients of an invalid request-line SHOULD respond with
  // either a 400 (Bad Request) error or a 301 (Moved Permanently) redirect".
  if (sp1 === -1) throw malformed('Invalid request line: expected "METHOD target HTTP/1.1"');
  const method = line.slice(0, sp1);
  // RFC 9112 §3.1: method = token.
  if (!isToken(method)) throw malformed('Invalid request line: the method is not a token');
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp2 === -1) throw malformed('Invalid request line: expected "METHOD target HTTP/1.1"');
  const target = line.slice(sp1 + 1, sp2);
  // RFC 9112 §3.2: "A client MUST send ... request-target"; the request
  // target "cannot contain whitespace" (§3), and URI characters are visible
  // US-ASCII (RFC 3986 §2), so CTLs and obs-text are refused too.
  if (target.length === 0) throw malformed('Invalid request line: empty request target');
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw malformed('Invalid request line: the request target must be visible ASCII');
  }
  const version = line.slice(sp2 + 1);
  // RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT, HTTP-name = %s"HTTP"
  // (case-sensitive). This also refuses trailing whitespace after the version.
  if (
    version.length !== 8 ||
    !version.startsWith('HTTP/') ||
    !isDigit(version.charCodeAt(5)) ||
    version.charCodeAt(6) !== 0x2e ||
    !isDigit(version.charCodeAt(7))
  ) {
    throw malformed('Invalid request line: the HTTP version must look like HTTP/1.1');
  }
  return { method, target, httpVersion: version.slice(5), headers: new Map() };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** field-line = field-name ":" OWS field-value OWS (RFC 9112 §5). */
function parseFieldLine(text: string, start: number, end: number, headers: Map<string, string[]>): void {
  const first = text.charCodeAt(start);
  // RFC 9112 §5.2: "A server that receives an obs-fold in a request message
  // ... MUST either reject the message by sending a 400 (Bad Request),
  // preferably with a representation explaining that obsolete line folding is
  // unacceptable, or replace each received obs-fold with one or more SP".
  // (A whitespace-led first field line, RFC 9112 §2.2, is refused the same way.)
  if (isOws(first)) throw malformed('Obsolete line folding is unacceptable: header lines must not start with whitespace');
  const colon = text.indexOf(':', start);
  if (colon === -1 || colon >= end) throw malformed('Invalid header line: missing colon');
  if (colon === start) throw malformed('Invalid header line: empty field name');
  for (let i = start; i < colon; i++) {
    const c = text.charCodeAt(i);
    if (isTokenChar(c)) continue;
    // RFC 9112 §5.1: "A server MUST reject, with a response status code of
    // 400 (Bad Request), any received request message that contains
    // whitespace between a header field name and colon."
    if (isOws(c)) throw malformed('Invalid header line: whitespace between field name and colon');
    // RFC 9110 §5.1: field-name = token.
    throw malformed('Invalid header line: the field name is not a token');
  }
  // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. Checked on
  // the flat head string before slicing (charCodeAt on a slice is slower).
  let valueStart = colon + 1;
  let valueEnd = end;
  while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) valueStart++;
  while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
  for (let i = valueStart; i < valueEnd; i++) {
    const c = text.charCodeAt(i);
    // RFC 9110 §5.5: "a recipient of CR, LF, or NUL within a field value MUST
    // either reject the message or replace each of those characters with SP";
    // other CTLs "are also invalid" and are refused as well.
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw malformed('Invalid header line: control character in a field value');
  }
  const value = text.slice(valueStart, valueEnd);
  const name = text.slice(start, colon).toLowerCase();
  const values = headers.get(name);
  if (values === undefined) headers.set(name, [value]);
  else values.push(value);
}

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
  /** Null-prototype record: lower-cased names, repeated lines joined ", " (Cookie lines joined "; "). */
  headers: Record<string, string>;
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

  return {
    path: target.path,
    target: head.target,
    host,
    key,
    protocols,
    extensions,
    headers: joinHeaders(headers),
    origin: originLines === undefined ? null : originLines[0],
  };
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

/** Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2 step 5.4). */
export function computeAcceptKey(key: string): string {
  // crypto.hash() is the one-shot form of createHash('sha1').update().digest():
  // same digest, no Hash object per call.
  return hash('sha1', key + WEBSOCKET_GUID, 'base64');
}

/** Headers the 101 response writes itself; callers may not add them again. */
const ACCEPT_OWN_HEADERS: ReadonlySet<string> = new Set([
  'upgrade',
  'connection',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'content-length',
  'transfer-encoding',
]);

/** Headers every error response writes itself; callers may not add them again. */
const ERROR_OWN_HEADERS: ReadonlySet<string> = new Set(['connection', 'content-type', 'content-length', 'transfer-encoding']);

/**
 * Append caller-supplied extra headers after validating them: token names,
 * none of the headers the response already carries, and no CR/LF/CTL in
 * values (no response splitting).
 */
function appendHeaders(lines: string, headers: Record<string, string> | undefined, own: ReadonlySet<string>): string {
  if (headers === undefined) return lines;
  for (const [name, value] of Object.entries(headers)) {
    if (!isToken(name)) throw new TypeError(`header name is not a token: ${JSON.stringify(name)}`);
    if (own.has(name.toLowerCase())) throw new TypeError(`header ${name} is set by the handshake itself`);
    if (typeof value !== 'string' || !isSafeFieldValue(value)) {
      throw new TypeError(`header value of ${name} must be visible ASCII, SP or HTAB`);
    }
    lines += `${name}: ${value}\r\n`;
  }
  return lines;
}

/**
 * The 101 Switching Protocols response for a validated key (RFC 6455 §4.2.2
 * step 5). `protocol` null, undefined or '' sends no Sec-WebSocket-Protocol
 * header (never an empty one); the same for `extensions`. Extra `headers`
 * are appended after the WebSocket ones. Throws TypeError for a protocol or
 * header that is not valid HTTP.
 */
export function buildAcceptResponse(
  key: string,
  options: { protocol?: string | null; extensions?: string | null; headers?: Record<string, string> } = {},
): Buffer {
  // RFC 6455 §4.2.2 step 5: status line, "An |Upgrade| header field with
  // value "websocket"", "A |Connection| header field with value "Upgrade"",
  // and "A |Sec-WebSocket-Accept| header field".
  let lines =
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n`;
  const protocol = options.protocol;
  if (protocol !== undefined && protocol !== null && protocol !== '') {
    // RFC 6455 §11.3.4: the header "MUST NOT appear more than once in an
    // HTTP response"; its value is one token (§4.1).
    if (!isToken(protocol)) throw new TypeError(`subprotocol is not a token: ${JSON.stringify(protocol)}`);
    lines += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  }
  const extensions = options.extensions;
  if (extensions !== undefined && extensions !== null && extensions !== '') {
    if (!isSafeFieldValue(extensions)) throw new TypeError('Sec-WebSocket-Extensions value must be visible ASCII');
    lines += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  }
  lines = appendHeaders(lines, options.headers, ACCEPT_OWN_HEADERS);
  return Buffer.from(lines + '\r\n', 'latin1');
}

/** Reason phrases of the statuses Shoal sends itself (RFC 9110 §15, RFC 6585 §5). */
const REASON_PHRASES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** The reason phrase for a 4xx/5xx status; a generic one for codes without a registered name here. */
export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 500 ? 'Client Error' : 'Server Error');
}

function hasHeader(headers: Record<string, string> | undefined, lowerCaseName: string): boolean {
  if (headers === undefined) return false;
  for (const name of Object.keys(headers)) if (name.toLowerCase() === lowerCaseName) return true;
  return false;
}

/**
 * An error response that refuses the upgrade: status line, Content-Type
 * text/plain UTF-8, Content-Length, Connection: close, extra `headers`, and
 * `reason` as the body. For 405 it adds `Allow: GET`; for 426 `Upgrade:
 * websocket` and `Sec-WebSocket-Version: 13` (unless `headers` has them).
 * The caller writes it and then closes the connection. Throws RangeError for
 * a status outside 400-599 and TypeError for an invalid extra header.
 */
export function buildErrorResponse(status: number, reason: string, headers?: Record<string, string>): Buffer {
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    throw new RangeError(`an error response needs a 4xx or 5xx status, got ${status}`);
  }
  const body = Buffer.from(reason, 'utf8');
  let lines = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  if (status === 426) {
    // RFC 9110 §15.5.22: "The server MUST send an Upgrade header field in a
    // 426 response to indicate the required protocol(s)", and RFC 9110
    // §7.8: "A sender of Upgrade MUST also send an "upgrade" connection
    // option in the Connection header field".
    lines += 'Connection: Upgrade, close\r\n';
    if (!hasHeader(headers, 'upgrade')) lines += 'Upgrade: websocket\r\n';
    // RFC 6455 §4.2.2: "... and a |Sec-WebSocket-Version| header field
    // indicating the version(s) the server is capable of understanding."
    if (!hasHeader(headers, 'sec-websocket-version')) lines += 'Sec-WebSocket-Version: 13\r\n';
  } else {
    lines += 'Connection: close\r\n';
  }
  // RFC 9110 §15.5.6: "The origin server MUST generate an Allow header field
  // in a 405 response containing a list of the target resource's currently
  // supported methods."
  if (status === 405 && !hasHeader(headers, 'allow')) lines += 'Allow: GET\r\n';
  lines += 'Content-Type: text/plain; charset=utf-8\r\n';
  lines += `Content-Length: ${body.length}\r\n`;
  lines = appendHeaders(lines, headers, ERROR_OWN_HEADERS);
  const headBytes = Buffer.from(lines + '\r\n', 'latin1');
  return Buffer.concat([headBytes, body], headBytes.length + body.length);
}

/** The error response for a refused handshake: its status and its message as the body. */
export function handshakeErrorResponse(error: HandshakeError): Buffer {
  return buildErrorResponse(error.status, error.message);
}
