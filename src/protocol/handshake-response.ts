/**
 * The server's answer to an opening handshake (RFC 6455 §4.2.2): the 101
 * Switching Protocols response with its Sec-WebSocket-Accept, or an error
 * response that refuses the upgrade (the caller writes it and closes the
 * connection). A 426 also carries `Upgrade: websocket` and `Connection:
 * Upgrade, close` (RFC 9110 §15.5.22, §7.8). Extra headers supplied by the
 * caller are validated: no response splitting.
 */
import { hash } from 'node:crypto';
import { WEBSOCKET_GUID } from './constants.ts';
import type { HandshakeError } from './errors.ts';
import { isSafeFieldValue, isToken } from './http-syntax.ts';

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
