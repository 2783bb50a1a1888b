/**
 * The opening-handshake conformance table (RFC 6455 §4.2, RFC 9110/9112):
 * raw request bytes and the exact response each must get.
 *
 * The table knows nothing about Shoal's parser, so the same cases run twice:
 * in memory against the protocol core (handshake-parser.ts,
 * upgrade-request.ts, handshake-response.ts; handshake-conformance.test.ts)
 * and over loopback sockets against the live server. A live run needs a server
 * configured as HANDSHAKE_CONFORMANCE_SERVER says: head limit of
 * `maxHeadBytes`, an app that accepts exactly `protocols` as subprotocols (and
 * connections without one), on any path and from any origin, and that echoes
 * messages (for the pipelined-frame case).
 *
 * Runners parse the response with parseHttpResponse() and report
 * responseMismatches(); an empty list is a pass.
 */

/** One request and the response it must get. */
export interface HandshakeCase {
  /** Stable id: "<group>-<what>", e.g. "host-missing". */
  id: string;
  title: string;
  /** Raw request bytes, one character per byte (latin1): `Buffer.from(request, 'latin1')`. */
  request: string;
  expect: {
    status: number;
    /** Headers (lower-cased names) that must appear exactly once with exactly this value. */
    headers?: Record<string, string>;
    /** Headers (lower-cased names) that must not appear. */
    absentHeaders?: string[];
    /** Text the body must contain (error responses). */
    bodyIncludes?: string;
    /** For a 101: the subprotocol the server must pick; null means no Sec-WebSocket-Protocol header. */
    protocol?: string | null;
    /**
     * Bytes after the head that must reach the frame layer (latin1). In memory:
     * the parser's `rest`. Live: a masked text frame the echo app answers.
     */
    rest?: string;
  };
}

/** How the server under test must be configured for this table. */
export const HANDSHAKE_CONFORMANCE_SERVER = {
  maxHeadBytes: 8192,
  /** Server preference order, deliberately the reverse of the RFC example's client order. */
  protocols: ['superchat', 'chat'] as readonly string[],
} as const;

const CRLF = '\r\n';

/** The RFC 6455 §1.3 example key and its accept value. */
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
/** base64 of the bytes 0..15, and its accept value (computed independently with Python hashlib). */
const KEY_2 = 'AAECAwQFBgcICQoLDA0ODw==';
const ACCEPT_2 = 'Bz3qJYTGdOe8gUSpLosEdiLKDrk=';

/** The request of RFC 6455 §1.3, line by line (without the empty line that ends the head). */
export const RFC_EXAMPLE_REQUEST_LINES: readonly string[] = [
  'GET /chat HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Key: ${KEY}`,
  'Origin: http://example.com',
  'Sec-WebSocket-Protocol: chat, superchat',
  'Sec-WebSocket-Version: 13',
];

/** A request head from its lines: each line gets CRLF, then the empty line. */
function head(...lines: string[]): string {
  return lines.join(CRLF) + CRLF + CRLF;
}

/** The request line and headers of a minimal valid upgrade, with replacements. */
function upgrade(options: { requestLine?: string; omit?: string[]; add?: string[]; key?: string } = {}): string {
  const base: [string, string][] = [
    ['Host', 'server.example.com'],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', options.key ?? KEY],
    ['Sec-WebSocket-Version', '13'],
  ];
  const omit = new Set((options.omit ?? []).map((name) => name.toLowerCase()));
  const lines = base.filter(([name]) => !omit.has(name.toLowerCase())).map(([name, value]) => `${name}: ${value}`);
  return head(options.requestLine ?? 'GET /chat HTTP/1.1', ...lines, ...(options.add ?? []));
}

const ACCEPTED = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': ACCEPT };
const ERROR_HEADERS = { connection: 'close', 'content-type': 'text/plain; charset=utf-8' };
const VERSION_HEADERS = {
  connection: 'Upgrade, close',
  upgrade: 'websocket',
  'sec-websocket-version': '13',
  'content-type': 'text/plain; charset=utf-8',
};

function badRequest(id: string, title: string, request: string, bodyIncludes: string): HandshakeCase {
  return { id, title, request, expect: { status: 400, headers: ERROR_HEADERS, bodyIncludes } };
}

/** A masked text frame carrying "hi" (RFC 6455 §5.7 style), pipelined after the head. */
const MASKED_HI = '\x81\x82\x37\xfa\x21\x3d' + String.fromCharCode(0x68 ^ 0x37, 0x69 ^ 0xfa);

/** A header line that makes the whole head exactly `size` bytes long. */
function padTo(size: number): string {
  const withoutPad = upgrade({ add: ['X-Pad: '] }).length;
  return upgrade({ add: ['X-Pad: ' + 'a'.repeat(size - withoutPad)] });
}

export const HANDSHAKE_CASES: readonly HandshakeCase[] = [
  // ── 101: accepted handshakes (RFC 6455 §4.2.1, §4.2.2 step 5) ──
  {
    id: 'accept-rfc-example',
    title: 'the RFC 6455 §1.3 example request gets the example accept value and the first protocol in client order',
    request: head(...RFC_EXAMPLE_REQUEST_LINES),
    expect: { status: 101, headers: ACCEPTED, protocol: 'chat', absentHeaders: ['sec-websocket-extensions'] },
  },
  {
    id: 'accept-minimal',
    title: 'a minimal request without subprotocols gets a 101 without Sec-WebSocket-Protocol',
    request: upgrade({ key: KEY_2 }),
    expect: { status: 101, headers: { ...ACCEPTED, 'sec-websocket-accept': ACCEPT_2 }, protocol: null },
  },
  {
    id: 'accept-case-insensitive-tokens',
    title: 'Upgrade and Connection values are case-insensitive token lists (RFC 6455 §4.2.1 items 3-4)',
    request: upgrade({ omit: ['Upgrade', 'Connection'], add: ['Upgrade: WebSocket', 'Connection: keep-alive, UPGRADE'] }),
    expect: { status: 101, headers: ACCEPTED, protocol: null },
  },
  {
    id: 'accept-upgrade-list',
    title: 'Upgrade may list other protocols besides websocket',
    request: upgrade({ omit: ['Upgrade'], add: ['Upgrade: h2c, websocket'] }),
    expect: { status: 101, headers: ACCEPTED },
  },
  {
    id: 'accept-header-name-case',
    title: 'header names are case-insensitive (RFC 9110 §5.1)',
    request: head(
      'GET / HTTP/1.1',
      'HOST: server.example.com',
      'upgrade: websocket',
      'CONNECTION: upgrade',
      `sec-websocket-key: ${KEY}`,
      'SEC-WEBSOCKET-VERSION: 13',
    ),
    expect: { status: 101, headers: ACCEPTED },
  },
  {
    id: 'accept-ows',
    title: 'optional whitespace around field values is ignored (RFC 9112 §5)',
    request: upgrade({ omit: ['Sec-WebSocket-Key', 'Sec-WebSocket-Version'], add: [`Sec-WebSocket-Key:\t ${KEY} \t`, 'Sec-WebSocket-Version:13'] }),
    expect: { status: 101, headers: ACCEPTED },
  },
  {
    id: 'protocol-repeated-lines',
    title: 'repeated Sec-WebSocket-Protocol lines form one list (RFC 6455 §11.3.4)',
    request: upgrade({ add: ['Sec-WebSocket-Protocol: unknown.example', 'Sec-WebSocket-Protocol: superchat, chat'] }),
    expect: { status: 101, headers: ACCEPTED, protocol: 'superchat' },
  },
  {
    id: 'protocol-none-supported',
    title: 'when no offered subprotocol is supported the 101 carries no Sec-WebSocket-Protocol',
    request: upgrade({ add: ['Sec-WebSocket-Protocol: unknown.example, other.example'] }),
    expect: { status: 101, headers: ACCEPTED, protocol: null },
  },
  {
    id: 'protocol-empty-header',
    title: 'an empty Sec-WebSocket-Protocol offers nothing and gets no (empty) header back',
    request: upgrade({ add: ['Sec-WebSocket-Protocol:'] }),
    expect: { status: 101, headers: ACCEPTED, protocol: null },
  },
  {
    id: 'extensions-unknown-offer',
    title: 'an unknown extension offer is declined: no Sec-WebSocket-Extensions in the 101',
    request: upgrade({ add: ['Sec-WebSocket-Extensions: x-shoal-unknown; level=3, x-other'] }),
    expect: { status: 101, headers: ACCEPTED, absentHeaders: ['sec-websocket-extensions'] },
  },
  {
    id: 'accept-pipelined-frame',
    title: 'frame bytes sent right after the head go to the frame layer',
    request: upgrade() + MASKED_HI,
    expect: { status: 101, headers: ACCEPTED, rest: MASKED_HI },
  },
  {
    id: 'accept-absolute-form',
    title: 'an absolute-form request target is accepted (RFC 9112 §3.2.2, RFC 6455 §4.2.1 item 1)',
    request: upgrade({ requestLine: 'GET ws://server.example.com/chat?room=1 HTTP/1.1' }),
    expect: { status: 101, headers: ACCEPTED },
  },
  {
    id: 'accept-leading-empty-line',
    title: 'an empty line before the request line is ignored (RFC 9112 §2.2)',
    request: CRLF + upgrade(),
    expect: { status: 101, headers: ACCEPTED },
  },
  {
    id: 'accept-http-1.2',
    title: 'HTTP/1.1 "or higher" (RFC 6455 §4.2.1 item 1): HTTP/1.2 is accepted',
    request: upgrade({ requestLine: 'GET /chat HTTP/1.2' }),
    expect: { status: 101, headers: ACCEPTED },
  },
  {
    id: 'accept-content-length-zero',
    title: 'Content-Length: 0 announces no body and is accepted',
    request: upgrade({ add: ['Content-Length: 0'] }),
    expect: { status: 101, headers: ACCEPTED },
  },
  {
    id: 'limit-head-at-limit',
    title: `a head of exactly ${HANDSHAKE_CONFORMANCE_SERVER.maxHeadBytes} bytes is accepted`,
    request: padTo(HANDSHAKE_CONFORMANCE_SERVER.maxHeadBytes),
    expect: { status: 101, headers: ACCEPTED },
  },

  // ── 405, 400, 505: the request line (RFC 6455 §4.2.1 item 1, RFC 9112 §3) ──
  {
    id: 'method-post',
    title: 'a method other than GET gets 405 with Allow: GET (RFC 9110 §15.5.6)',
    request: upgrade({ requestLine: 'POST /chat HTTP/1.1' }),
    expect: { status: 405, headers: { ...ERROR_HEADERS, allow: 'GET' }, bodyIncludes: 'GET' },
  },
  {
    id: 'method-lowercase',
    title: 'methods are case-sensitive (RFC 9110 §9.1): "get" gets 405',
    request: upgrade({ requestLine: 'get /chat HTTP/1.1' }),
    expect: { status: 405, headers: { ...ERROR_HEADERS, allow: 'GET' }, bodyIncludes: 'GET' },
  },
  {
    id: 'version-http-1.0',
    title: 'HTTP/1.0 gets 400: WebSocket needs HTTP/1.1 or higher',
    request: upgrade({ requestLine: 'GET /chat HTTP/1.0' }),
    expect: { status: 400, headers: ERROR_HEADERS, bodyIncludes: 'HTTP/1.1' },
  },
  {
    id: 'version-http-2.0',
    title: 'an HTTP/2.0 request line gets 505 (RFC 9110 §15.6.6)',
    request: upgrade({ requestLine: 'GET /chat HTTP/2.0' }),
    expect: { status: 505, headers: ERROR_HEADERS, bodyIncludes: 'HTTP/1.1' },
  },
  badRequest('request-line-double-space', 'two spaces between method and target', upgrade({ requestLine: 'GET  /chat HTTP/1.1' }), 'request line'),
  badRequest('request-line-no-version', 'a request line without a version', upgrade({ requestLine: 'GET /chat' }), 'request line'),
  badRequest('request-line-lowercase-version', 'HTTP-name is case-sensitive (RFC 9112 §2.3)', upgrade({ requestLine: 'GET /chat http/1.1' }), 'HTTP version'),
  badRequest('request-line-trailing-space', 'whitespace after the version', upgrade({ requestLine: 'GET /chat HTTP/1.1 ' }), 'HTTP version'),
  badRequest('target-control-char', 'a control character in the request target', upgrade({ requestLine: 'GET /ch\x01at HTTP/1.1' }), 'request target'),
  badRequest('target-non-ascii', 'a non-ASCII byte in the request target', upgrade({ requestLine: 'GET /ch\xe4t HTTP/1.1' }), 'request target'),
  badRequest('target-authority-form', 'authority-form is only for CONNECT (RFC 9112 §3.2.3)', upgrade({ requestLine: 'GET server.example.com:80 HTTP/1.1' }), 'request target'),
  badRequest('target-asterisk-form', 'asterisk-form is only for OPTIONS (RFC 9112 §3.2.4)', upgrade({ requestLine: 'GET * HTTP/1.1' }), 'request target'),
  badRequest('target-fragment', 'a request target never carries a fragment', upgrade({ requestLine: 'GET /chat#top HTTP/1.1' }), 'fragment'),

  // ── 400: head syntax (RFC 9112 §2.2, §5) ──
  badRequest('syntax-bare-lf', 'a header line ending in a bare LF', 'GET /chat HTTP/1.1\r\nHost: server.example.com\nUpgrade: websocket\r\n\r\n', 'CRLF'),
  badRequest('syntax-lf-only', 'a head using LF line endings only', upgrade().replaceAll('\r\n', '\n'), 'CRLF'),
  badRequest('syntax-bare-cr', 'a bare CR inside a field value', upgrade({ add: ['X-Note: a\rb'] }), 'CRLF'),
  badRequest('syntax-obs-fold', 'obsolete line folding (RFC 9112 §5.2)', upgrade({ add: ['X-Long: first', ' continued'] }), 'line folding'),
  badRequest('syntax-space-before-colon', 'whitespace between field name and colon (RFC 9112 §5.1)', upgrade({ add: ['X-Name : value'] }), 'colon'),
  badRequest('syntax-missing-colon', 'a header line without a colon', upgrade({ add: ['X-Name value'] }), 'colon'),
  badRequest('syntax-empty-name', 'a header line with an empty name', upgrade({ add: [': value'] }), 'field name'),
  badRequest('syntax-nul-in-value', 'NUL in a field value (RFC 9110 §5.5)', upgrade({ add: ['X-Note: a\x00b'] }), 'control character'),

  // ── 400: Host (RFC 9112 §3.2, RFC 6455 §4.2.1 item 2) ──
  badRequest('host-missing', 'no Host header', upgrade({ omit: ['Host'] }), 'Host'),
  badRequest('host-repeated', 'two Host headers', upgrade({ add: ['Host: other.example.com'] }), 'Host'),
  badRequest('host-empty', 'an empty Host header', upgrade({ omit: ['Host'], add: ['Host:'] }), 'Host'),
  badRequest('host-userinfo', 'a Host header with userinfo', upgrade({ omit: ['Host'], add: ['Host: user@server.example.com'] }), 'Host'),

  // ── 400: Upgrade, Connection (RFC 6455 §4.2.1 items 3-4) ──
  badRequest('upgrade-missing', 'no Upgrade header (a plain HTTP GET)', upgrade({ omit: ['Upgrade'] }), 'websocket'),
  badRequest('upgrade-wrong', 'Upgrade without the websocket token', upgrade({ omit: ['Upgrade'], add: ['Upgrade: websockets'] }), 'websocket'),
  badRequest('connection-missing', 'no Connection header', upgrade({ omit: ['Connection'] }), 'Upgrade'),
  badRequest('connection-no-upgrade', 'Connection without the upgrade token', upgrade({ omit: ['Connection'], add: ['Connection: keep-alive'] }), 'Upgrade'),

  // ── 426: Sec-WebSocket-Version (RFC 6455 §4.2.2, §4.4) ──
  {
    id: 'ws-version-8',
    title: 'an unsupported version gets 426 with Sec-WebSocket-Version: 13',
    request: upgrade({ omit: ['Sec-WebSocket-Version'], add: ['Sec-WebSocket-Version: 8'] }),
    expect: { status: 426, headers: VERSION_HEADERS, bodyIncludes: '13' },
  },
  {
    id: 'ws-version-missing',
    title: 'a missing version gets 426 too, so the client learns which version to send',
    request: upgrade({ omit: ['Sec-WebSocket-Version'] }),
    expect: { status: 426, headers: VERSION_HEADERS, bodyIncludes: '13' },
  },
  {
    id: 'ws-version-before-key',
    title: 'the version is checked before the key: an old-draft request without Sec-WebSocket-Key gets 426',
    request: upgrade({ omit: ['Sec-WebSocket-Version', 'Sec-WebSocket-Key'], add: ['Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5', 'Sec-WebSocket-Version: 7'] }),
    expect: { status: 426, headers: VERSION_HEADERS, bodyIncludes: '13' },
  },
  badRequest('ws-version-repeated', 'Sec-WebSocket-Version twice (RFC 6455 §11.3.5)', upgrade({ add: ['Sec-WebSocket-Version: 13'] }), 'Sec-WebSocket-Version'),

  // ── 400: Sec-WebSocket-Key (RFC 6455 §4.2.1 item 5, §11.3.1) ──
  badRequest('key-missing', 'no Sec-WebSocket-Key', upgrade({ omit: ['Sec-WebSocket-Key'] }), 'Sec-WebSocket-Key'),
  badRequest('key-repeated', 'Sec-WebSocket-Key twice', upgrade({ add: [`Sec-WebSocket-Key: ${KEY_2}`] }), 'Sec-WebSocket-Key'),
  badRequest('key-15-bytes', 'a key of 15 bytes', upgrade({ key: 'AAECAwQFBgcICQoLDA0O' }), 'Sec-WebSocket-Key'),
  badRequest('key-17-bytes', 'a key of 17 bytes', upgrade({ key: 'AAECAwQFBgcICQoLDA0ODxA=' }), 'Sec-WebSocket-Key'),
  badRequest('key-not-base64', 'a key with characters outside base64', upgrade({ key: 'dGhlIHNhbXBsZSBub25jZQ*=' }), 'Sec-WebSocket-Key'),
  badRequest('key-base64url', 'a key in the base64url alphabet', upgrade({ key: '-_8AAAAAAAAAAAAAAAAAAA==' }), 'Sec-WebSocket-Key'),
  badRequest('key-non-canonical', 'a key whose last character carries stray bits (RFC 4648 §3.5)', upgrade({ key: 'dGhlIHNhbXBsZSBub25jZR==' }), 'Sec-WebSocket-Key'),

  // ── 400: subprotocols and extensions (RFC 6455 §4.1, §9.1) ──
  badRequest('protocol-not-token', 'a subprotocol that is not a token', upgrade({ add: ['Sec-WebSocket-Protocol: chat room'] }), 'Sec-WebSocket-Protocol'),
  badRequest('protocol-duplicate', 'the same subprotocol offered twice', upgrade({ add: ['Sec-WebSocket-Protocol: chat', 'Sec-WebSocket-Protocol: chat'] }), 'Sec-WebSocket-Protocol'),
  badRequest('extensions-malformed', 'a malformed Sec-WebSocket-Extensions', upgrade({ add: ['Sec-WebSocket-Extensions: permessage-deflate; ="x"'] }), 'Sec-WebSocket-Extensions'),

  // ── 400: other headers ──
  badRequest('origin-repeated', 'two Origin headers (RFC 6454 §7.3)', upgrade({ add: ['Origin: http://a.example', 'Origin: http://b.example'] }), 'Origin'),
  badRequest('body-content-length', 'a request announcing a body', upgrade({ add: ['Content-Length: 5'] }), 'body'),
  badRequest('body-transfer-encoding', 'a chunked request body', upgrade({ add: ['Transfer-Encoding: chunked'] }), 'body'),

  // ── 431: head size limit (RFC 6585 §5) ──
  {
    id: 'limit-head-over-limit',
    title: `a head of ${HANDSHAKE_CONFORMANCE_SERVER.maxHeadBytes + 1} bytes gets 431`,
    request: padTo(HANDSHAKE_CONFORMANCE_SERVER.maxHeadBytes + 1),
    expect: { status: 431, headers: ERROR_HEADERS, bodyIncludes: String(HANDSHAKE_CONFORMANCE_SERVER.maxHeadBytes) },
  },
  {
    id: 'limit-endless-header',
    title: 'a header line that never ends gets 431 once the limit is passed',
    request: 'GET /chat HTTP/1.1\r\nX-Endless: ' + 'a'.repeat(2 * HANDSHAKE_CONFORMANCE_SERVER.maxHeadBytes),
    expect: { status: 431, headers: ERROR_HEADERS, bodyIncludes: String(HANDSHAKE_CONFORMANCE_SERVER.maxHeadBytes) },
  },
];

/** A response as seen on the wire. */
export interface ParsedResponse {
  status: number;
  /** Lower-cased names, values in order. */
  headers: Map<string, string[]>;
  body: Buffer;
}

/**
 * Parse one HTTP/1.1 response; throws when it is not CRLF-framed or has no
 * complete head. The body is everything after the head, so pass only the
 * bytes of one response (live runners: everything read until the server
 * closed, or the head alone after a 101).
 */
export function parseHttpResponse(bytes: Buffer): ParsedResponse {
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) throw new Error('response head is incomplete');
  const text = bytes.toString('latin1', 0, end);
  if (/\r(?!\n)|(?<!\r)\n/.test(text)) throw new Error('response head has a line not ending in CRLF');
  const [statusLine, ...lines] = text.split('\r\n');
  const match = /^HTTP\/1\.1 (\d{3}) [^\r\n]+$/.exec(statusLine);
  if (match === null) throw new Error(`bad status line: ${JSON.stringify(statusLine)}`);
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`bad header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, [...(headers.get(name) ?? []), value]);
  }
  return { status: Number(match[1]), headers, body: bytes.subarray(end + 4) };
}

/** Every way `response` differs from what `testCase` expects; empty when it conforms. */
export function responseMismatches(testCase: HandshakeCase, response: ParsedResponse): string[] {
  const problems: string[] = [];
  const expected = testCase.expect;
  if (response.status !== expected.status) problems.push(`status ${response.status}, expected ${expected.status}`);
  for (const [name, value] of Object.entries(expected.headers ?? {})) {
    const values = response.headers.get(name) ?? [];
    if (values.length !== 1 || values[0] !== value) problems.push(`${name}: ${JSON.stringify(values)}, expected ${JSON.stringify(value)}`);
  }
  for (const name of expected.absentHeaders ?? []) {
    if (response.headers.has(name)) problems.push(`${name} present, expected absent`);
  }
  // RFC 6455 §11.3.4: Sec-WebSocket-Protocol "MUST NOT appear more than once
  // in an HTTP response", and it is never empty.
  const protocols = response.headers.get('sec-websocket-protocol') ?? [];
  if (protocols.length > 1) problems.push('Sec-WebSocket-Protocol appears more than once');
  if (protocols.some((value) => value === '')) problems.push('Sec-WebSocket-Protocol is empty');
  if (expected.protocol !== undefined) {
    const actual = protocols.length === 0 ? null : protocols[0];
    if (actual !== expected.protocol) problems.push(`protocol ${JSON.stringify(actual)}, expected ${JSON.stringify(expected.protocol)}`);
  }
  if (expected.status >= 400) {
    const length = response.headers.get('content-length');
    if (length === undefined || length.length !== 1 || Number(length[0]) !== response.body.length) {
      problems.push(`content-length ${JSON.stringify(length)} does not match a body of ${response.body.length} bytes`);
    }
  }
  if (expected.bodyIncludes !== undefined && !response.body.toString('utf8').includes(expected.bodyIncludes)) {
    problems.push(`body ${JSON.stringify(response.body.toString('utf8'))} lacks ${JSON.stringify(expected.bodyIncludes)}`);
  }
  return problems;
}
