/**
 * The lines of a complete HTTP/1.1 request head, parsed (RFC 9112 §3, §5):
 * the request line and the field lines, into a RequestHead. Only HTTP
 * syntax is checked here; what makes it a WebSocket upgrade is checked by
 * validateUpgradeRequest() (upgrade-request.ts). Choices where the RFCs
 * leave room (documented at the line that makes them): obs-fold and
 * whitespace before the colon are refused, as are CTLs in field values.
 */
import { HandshakeError } from './errors.ts';
import { isOws, isToken, isTokenChar } from './http-syntax.ts';

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

/** The HandshakeError (400) for a request head that is not valid HTTP/1.1. */
export function malformedHead(reason: string): HandshakeError {
  return new HandshakeError('HS_ERR_MALFORMED_HEAD', reason);
}

/**
 * Parse the lines of a complete head. `bytes` ends with CRLF CRLF and holds
 * no bare CR or LF (the scanner guarantees both); `start` skips leading
 * empty lines.
 */
export function parseRequestHead(bytes: Buffer, start: number): RequestHead {
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
  if (sp1 === -1) throw malformedHead('Invalid request line: expected "METHOD target HTTP/1.1"');
  // The method of every upgrade (RFC 6455 §4.1) as a constant, not a slice.
  const method = sp1 === 3 && line.startsWith('GET') ? 'GET' : line.slice(0, sp1);
  // RFC 9112 §3.1: method = token.
  if (!isToken(method)) throw malformedHead('Invalid request line: the method is not a token');
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp2 === -1) throw malformedHead('Invalid request line: expected "METHOD target HTTP/1.1"');
  const target = line.slice(sp1 + 1, sp2);
  // RFC 9112 §3.2: "A client MUST send ... request-target"; the request
  // target "cannot contain whitespace" (§3), and URI characters are visible
  // US-ASCII (RFC 3986 §2), so CTLs and obs-text are refused too.
  if (target.length === 0) throw malformedHead('Invalid request line: empty request target');
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw malformedHead('Invalid request line: the request target must be visible ASCII');
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
    throw malformedHead('Invalid request line: the HTTP version must look like HTTP/1.1');
  }
  return { method, target, httpVersion: version === 'HTTP/1.1' ? '1.1' : version.slice(5), headers: new Map() };
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
  if (isOws(first)) throw malformedHead('Obsolete line folding is unacceptable: header lines must not start with whitespace');
  const colon = text.indexOf(':', start);
  if (colon === -1 || colon >= end) throw malformedHead('Invalid header line: missing colon');
  if (colon === start) throw malformedHead('Invalid header line: empty field name');
  for (let i = start; i < colon; i++) {
    const c = text.charCodeAt(i);
    if (isTokenChar(c)) continue;
    // RFC 9112 §5.1: "A server MUST reject, with a response status code of
    // 400 (Bad Request), any received request message that contains
    // whitespace between a header field name and colon."
    if (isOws(c)) throw malformedHead('Invalid header line: whitespace between field name and colon');
    // RFC 9110 §5.1: field-name = token.
    throw malformedHead('Invalid header line: the field name is not a token');
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
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw malformedHead('Invalid header line: control character in a field value');
  }
  const value = text.slice(valueStart, valueEnd);
  const name = fieldName(text, start, colon);
  const values = headers.get(name);
  if (values === undefined) headers.set(name, [value]);
  else values.push(value);
}

/**
 * The field names of a WebSocket upgrade and of what browsers send with it,
 * lower-cased, by length. A name found here is this constant (interned, its
 * hash computed once) instead of a slice lower-cased into a new string, whose
 * hash the header Map and every lookup by validateUpgradeRequest then
 * compute again: about ten strings less per handshake.
 */
const KNOWN_NAMES_BY_LENGTH: (readonly string[] | undefined)[] = [];
for (const name of [
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'origin',
  'user-agent',
  'pragma',
  'cache-control',
  'accept-encoding',
  'accept-language',
  'cookie',
]) {
  KNOWN_NAMES_BY_LENGTH[name.length] = [...(KNOWN_NAMES_BY_LENGTH[name.length] ?? []), name];
}

/**
 * `text[start, end)` lower-cased (RFC 9110 §5.1: field names are
 * case-insensitive). The span is a token (checked by the caller), so ORing
 * 0x20 into a byte lower-cases a letter and leaves '-' as it is; no other
 * token character becomes a lower-case letter or '-' that way.
 */
function fieldName(text: string, start: number, end: number): string {
  const candidates = KNOWN_NAMES_BY_LENGTH[end - start];
  if (candidates !== undefined) {
    for (const name of candidates) {
      let i = 0;
      while (i < name.length && (text.charCodeAt(start + i) | 0x20) === name.charCodeAt(i)) i++;
      if (i === name.length) return name;
    }
  }
  return text.slice(start, end).toLowerCase();
}
