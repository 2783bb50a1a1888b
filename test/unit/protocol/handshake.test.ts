import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HandshakeError } from '../../../src/protocol/errors.ts';
import type { HandshakeErrorCode } from '../../../src/protocol/errors.ts';
import {
  buildAcceptResponse,
  buildErrorResponse,
  computeAcceptKey,
  DEFAULT_MAX_HEAD_BYTES,
  handshakeErrorResponse,
  HandshakeParser,
  validateUpgradeRequest,
} from '../../../src/protocol/handshake.ts';
import type { RequestHead } from '../../../src/protocol/handshake.ts';
import { chunkings } from '../../helpers/chunkings.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** Bytes of a head: each line + CRLF, then the empty line, then `after`. */
function head(lines: string[], after = ''): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + after, 'latin1');
}

const VALID_LINES = [
  'GET /chat?room=1 HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Key: ${KEY}`,
  'Sec-WebSocket-Version: 13',
];

/** The valid upgrade request with header lines removed (by name) and raw lines added. */
function upgrade(options: { requestLine?: string; omit?: string[]; add?: string[] } = {}): Buffer {
  const omit = new Set((options.omit ?? []).map((name) => name.toLowerCase()));
  const lines = VALID_LINES.slice(1).filter((line) => !omit.has(line.slice(0, line.indexOf(':')).toLowerCase()));
  return head([options.requestLine ?? VALID_LINES[0], ...lines, ...(options.add ?? [])]);
}

/** Whole, 1-byte pieces, EVERY two-piece split and seeded random splits. */
function everyChunking(bytes: Buffer): [string, Buffer[]][] {
  return chunkings(bytes, { maxTwoPieceSplits: Number.POSITIVE_INFINITY }).map(({ name, chunks }) => [name, chunks]);
}

/** Push chunks until the head completes; returns the head and every byte after it. */
function parseChunks(chunks: Buffer[], options?: { maxHeadBytes?: number }): { head: RequestHead; rest: Buffer } {
  const parser = new HandshakeParser(options);
  for (let i = 0; i < chunks.length; i++) {
    const result = parser.push(chunks[i]);
    if (result !== null) return { head: result, rest: Buffer.concat([parser.rest, ...chunks.slice(i + 1)]) };
  }
  throw new Error('head incomplete');
}

function parse(bytes: Buffer, options?: { maxHeadBytes?: number }): RequestHead {
  return parseChunks([bytes], options).head;
}

function refusal(run: () => unknown): HandshakeError {
  try {
    run();
  } catch (error) {
    if (error instanceof HandshakeError) return error;
    throw error;
  }
  throw new Error('expected a HandshakeError');
}

function expectRefusal(run: () => unknown, code: HandshakeErrorCode, status: number): HandshakeError {
  const error = refusal(run);
  expect(error.code).toBe(code);
  expect(error.status).toBe(status);
  return error;
}

describe('HandshakeParser: request head framing (RFC 9112 §2)', () => {
  it('returns method, target, version and lower-cased headers of a complete head', () => {
    const result = parse(upgrade({ add: ['X-Multi: one', 'x-multi: two'] }));
    expect(result.method).toBe('GET');
    expect(result.target).toBe('/chat?room=1');
    expect(result.httpVersion).toBe('1.1');
    expect([...result.headers]).toEqual([
      ['host', ['server.example.com']],
      ['upgrade', ['websocket']],
      ['connection', ['Upgrade']],
      ['sec-websocket-key', [KEY]],
      ['sec-websocket-version', ['13']],
      ['x-multi', ['one', 'two']],
    ]);
  });

  it('yields the same head and the same pipelined bytes at every chunking', () => {
    const frame = '\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58';
    const bytes = Buffer.from(upgrade().toString('latin1') + frame, 'latin1');
    const expected = parseChunks([bytes]);
    expect(expected.rest.toString('latin1')).toBe(frame);
    for (const [label, chunks] of everyChunking(bytes)) {
      const actual = parseChunks(chunks);
      expect(actual.head, label).toEqual(expected.head);
      expect(actual.rest.toString('latin1'), label).toBe(frame);
    }
  });

  it('returns null until the last byte of CRLF CRLF, wherever the chunk boundary falls inside it', () => {
    const bytes = upgrade();
    for (let cut = bytes.length - 4; cut < bytes.length; cut++) {
      const parser = new HandshakeParser();
      expect(parser.push(bytes.subarray(0, cut))).toBeNull();
      expect(parser.push(bytes.subarray(cut))).not.toBeNull();
    }
  });

  it('leaves rest empty when nothing follows the head', () => {
    const parser = new HandshakeParser();
    parser.push(upgrade());
    expect(parser.rest.length).toBe(0);
  });

  it('hands out rest as a view of the last chunk, not a copy', () => {
    const bytes = Buffer.concat([upgrade(), Buffer.from([1, 2, 3])]);
    const parser = new HandshakeParser();
    parser.push(bytes);
    expect(parser.rest.buffer).toBe(bytes.buffer);
    expect([...parser.rest]).toEqual([1, 2, 3]);
  });

  it('trims OWS around field values and keeps empty values (RFC 9112 §5)', () => {
    const result = parse(head(['GET / HTTP/1.1', 'Host: \t example.com \t', 'X-Empty:', 'X-Spaces:   ']));
    expect(result.headers.get('host')).toEqual(['example.com']);
    expect(result.headers.get('x-empty')).toEqual(['']);
    expect(result.headers.get('x-spaces')).toEqual(['']);
  });

  it('keeps obs-text (bytes 0x80-0xFF) in field values as latin1 characters (RFC 9110 §5.5)', () => {
    const result = parse(head(['GET / HTTP/1.1', 'X-Name: caf\xe9']));
    expect(result.headers.get('x-name')).toEqual(['caf\u00e9']);
  });

  it('keeps colons inside field values', () => {
    expect(parse(head(['GET / HTTP/1.1', 'Host: [::1]:9001'])).headers.get('host')).toEqual(['[::1]:9001']);
  });

  it('accepts a head without any header field', () => {
    const result = parse(head(['GET / HTTP/1.1']));
    expect(result.headers.size).toBe(0);
  });

  it('ignores empty lines before the request line (RFC 9112 §2.2)', () => {
    const bytes = Buffer.concat([Buffer.from('\r\n\r\n'), upgrade()]);
    for (const [label, chunks] of everyChunking(bytes)) {
      expect(parseChunks(chunks).head.target, label).toBe('/chat?room=1');
    }
  });
});

describe('HandshakeParser: head size limit (RFC 6585 §5)', () => {
  it('defaults to 8192 bytes', () => {
    expect(DEFAULT_MAX_HEAD_BYTES).toBe(8192);
    expect(new HandshakeParser().maxHeadBytes).toBe(8192);
  });

  it('accepts a head of exactly maxHeadBytes bytes, at every chunking', () => {
    const bytes = upgrade();
    for (const [label, chunks] of everyChunking(bytes)) {
      expect(parseChunks(chunks, { maxHeadBytes: bytes.length }).head.method, label).toBe('GET');
    }
  });

  it('fails with 431 for a head one byte over maxHeadBytes, at every chunking', () => {
    const bytes = upgrade();
    for (const [label, chunks] of everyChunking(bytes)) {
      const error = refusal(() => parseChunks(chunks, { maxHeadBytes: bytes.length - 1 }));
      expect(error.code, label).toBe('HS_ERR_HEAD_TOO_LARGE');
      expect(error.status, label).toBe(431);
    }
  });

  it('fails as soon as maxHeadBytes bytes have arrived without the end of the head, not later', () => {
    const parser = new HandshakeParser({ maxHeadBytes: 64 });
    const line = Buffer.from('GET / HTTP/1.1\r\nX-Long: ' + 'a'.repeat(100), 'latin1');
    for (let i = 0; i < 63; i++) expect(parser.push(line.subarray(i, i + 1))).toBeNull();
    expectRefusal(() => parser.push(line.subarray(63, 64)), 'HS_ERR_HEAD_TOO_LARGE', 431);
  });

  it('never buffers more than maxHeadBytes, even from one huge chunk', () => {
    const parser = new HandshakeParser({ maxHeadBytes: 1024 });
    expect(parser.push(Buffer.from('GET / HTTP/1.1\r\nX: '))).toBeNull();
    expect(parser.bufferedBytes).toBe(19);
    expectRefusal(() => parser.push(Buffer.alloc(1 << 20, 0x61)), 'HS_ERR_HEAD_TOO_LARGE', 431);
    expect(parser.bufferedBytes).toBe(0);
  });

  it('counts ignored leading empty lines against the limit', () => {
    const bytes = Buffer.concat([Buffer.from('\r\n'), upgrade()]);
    expectRefusal(() => parse(bytes, { maxHeadBytes: bytes.length - 1 }), 'HS_ERR_HEAD_TOO_LARGE', 431);
  });

  it.each([0, 17, 1.5, Number.NaN, -1])('rejects maxHeadBytes %s with RangeError', (maxHeadBytes) => {
    expect(() => new HandshakeParser({ maxHeadBytes })).toThrow(RangeError);
  });
});

describe('HandshakeParser: syntax errors are 400 (RFC 9112 §2.2, §3, §5)', () => {
  it.each([
    ['a header line ending in a bare LF', 'GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n'],
    ['a request line ending in a bare LF', 'GET / HTTP/1.1\nHost: a\r\n\r\n'],
    ['a head ending in CRLF LF', 'GET / HTTP/1.1\r\nHost: a\r\n\n'],
    ['a head with LF line endings only', 'GET / HTTP/1.1\nHost: a\n\n'],
    ['a bare LF as the first byte', '\nGET / HTTP/1.1\r\n\r\n'],
    ['a bare CR inside a value', 'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n'],
    ['a CR CR LF line ending', 'GET / HTTP/1.1\r\r\n\r\n'],
    ['a bare CR in the final empty line', 'GET / HTTP/1.1\r\nHost: a\r\n\rX'],
  ])('refuses %s (every line must end with CRLF)', (_label, text) => {
    const bytes = Buffer.from(text, 'latin1');
    for (const [label, chunks] of everyChunking(bytes)) {
      const error = refusal(() => parseChunks(chunks));
      expect(error.code, label).toBe('HS_ERR_MALFORMED_HEAD');
      expect(error.status, label).toBe(400);
    }
  });

  it.each([
    ['no space at all', 'GET'],
    ['no version', 'GET /'],
    ['two spaces after the method', 'GET  / HTTP/1.1'],
    ['two spaces before the version', 'GET /  HTTP/1.1'],
    ['a space after the version', 'GET / HTTP/1.1 '],
    ['a lower-case HTTP-name (RFC 9112 §2.3)', 'GET / http/1.1'],
    ['a two-digit minor version', 'GET / HTTP/1.10'],
    ['a version without a dot', 'GET / HTTP/11'],
    ['a non-token method', 'G(T / HTTP/1.1'],
    ['an empty method', ' / HTTP/1.1'],
    ['a TAB in the target', 'GET /a\tb HTTP/1.1'],
    ['a control character in the target', 'GET /a\x01b HTTP/1.1'],
    ['a DEL in the target', 'GET /a\x7fb HTTP/1.1'],
    ['a non-ASCII byte in the target', 'GET /caf\xe9 HTTP/1.1'],
  ])('refuses a request line with %s', (_label, requestLine) => {
    expectRefusal(() => parse(head([requestLine, 'Host: a'])), 'HS_ERR_MALFORMED_HEAD', 400);
  });

  it.each([
    ['obs-fold: a line starting with SP (RFC 9112 §5.2)', ['X-Long: a', ' b']],
    ['obs-fold: a line starting with HTAB (RFC 9112 §5.2)', ['X-Long: a', '\tb']],
    ['whitespace before the first header line (RFC 9112 §2.2)', [' Host: a']],
    ['SP between field name and colon (RFC 9112 §5.1)', ['Host : a']],
    ['HTAB between field name and colon (RFC 9112 §5.1)', ['Host\t: a']],
    ['a line without a colon', ['Host a']],
    ['an empty field name', [': a']],
    ['a non-token field name', ['Ho(st: a']],
    ['a non-ASCII field name', ['H\xf6st: a']],
    ['NUL in a field value (RFC 9110 §5.5)', ['X: a\x00b']],
    ['another control character in a field value', ['X: a\x1bb']],
    ['DEL in a field value', ['X: a\x7fb']],
  ])('refuses %s', (_label, lines) => {
    expectRefusal(() => parse(head(['GET / HTTP/1.1', ...lines])), 'HS_ERR_MALFORMED_HEAD', 400);
  });

  it('explains obsolete line folding in the error reason (RFC 9112 §5.2: "preferably with a representation explaining")', () => {
    const error = refusal(() => parse(head(['GET / HTTP/1.1', 'X: a', ' b'])));
    expect(error.message).toMatch(/line folding/);
  });

  it('fails on a bare LF as soon as it arrives, without waiting for the end of the head', () => {
    const parser = new HandshakeParser();
    expect(parser.push(Buffer.from('GET / HTTP/1.1\r\nHost: a'))).toBeNull();
    expectRefusal(() => parser.push(Buffer.from('\nUpgrade')), 'HS_ERR_MALFORMED_HEAD', 400);
  });

  it('rethrows the same error on every push after a failure', () => {
    const parser = new HandshakeParser();
    const first = refusal(() => parser.push(Buffer.from('GET / HTTP/1.1\n')));
    expect(refusal(() => parser.push(upgrade()))).toBe(first);
  });

  it('refuses further pushes after the head with a plain Error: those bytes belong to the frame decoder', () => {
    const parser = new HandshakeParser();
    parser.push(upgrade());
    let thrown: unknown;
    try {
      parser.push(Buffer.from([0x81]));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown).not.toBeInstanceOf(HandshakeError);
  });
});

describe('validateUpgradeRequest: the request line (RFC 6455 §4.2.1 item 1)', () => {
  it('accepts the RFC 6455 §1.3 example and extracts what negotiation needs', () => {
    const info = validateUpgradeRequest(
      parse(
        head([
          'GET /chat HTTP/1.1',
          'Host: server.example.com',
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${KEY}`,
          'Origin: http://example.com',
          'Sec-WebSocket-Protocol: chat, superchat',
          'Sec-WebSocket-Version: 13',
        ]),
      ),
    );
    expect(info.path).toBe('/chat');
    expect(info.target).toBe('/chat');
    expect(info.host).toBe('server.example.com');
    expect(info.key).toBe(KEY);
    expect(info.protocols).toEqual(['chat', 'superchat']);
    expect(info.extensions).toEqual([]);
    expect(info.origin).toBe('http://example.com');
    expect({ ...info.headers }).toEqual({
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': KEY,
      origin: 'http://example.com',
      'sec-websocket-protocol': 'chat, superchat',
      'sec-websocket-version': '13',
    });
  });

  it('splits the path from the query of an origin-form target', () => {
    const info = validateUpgradeRequest(parse(upgrade({ requestLine: 'GET /a/b?x=1&y=?2 HTTP/1.1' })));
    expect(info.path).toBe('/a/b');
    expect(info.target).toBe('/a/b?x=1&y=?2');
  });

  it.each([
    ['ws://other.example:9001/chat?x=1', '/chat', 'other.example:9001'],
    ['HTTP://other.example', '/', 'other.example'],
    ['wss://other.example?x=1', '/', 'other.example'],
    ['https://[::1]:443/', '/', '[::1]:443'],
  ])('accepts the absolute-form target %s, taking host from it (RFC 9112 §3.2.2)', (target, path, host) => {
    const info = validateUpgradeRequest(parse(upgrade({ requestLine: `GET ${target} HTTP/1.1` })));
    expect(info.path).toBe(path);
    expect(info.host).toBe(host);
    expect(info.target).toBe(target);
  });

  it.each([
    ['authority-form', 'server.example.com:80'],
    ['asterisk-form', '*'],
    ['an unsupported scheme', 'ftp://server.example.com/'],
    ['an empty authority', 'ws:///chat'],
    ['userinfo in the authority', 'ws://user@server.example.com/'],
    ['a fragment in origin-form', '/chat#x'],
    ['a fragment in absolute-form', 'ws://server.example.com/chat#x'],
  ])('refuses %s with 400 HS_ERR_INVALID_TARGET', (_label, target) => {
    expectRefusal(() => validateUpgradeRequest(parse(upgrade({ requestLine: `GET ${target} HTTP/1.1` }))), 'HS_ERR_INVALID_TARGET', 400);
  });

  it.each(['POST', 'PUT', 'HEAD', 'OPTIONS', 'get', 'Get'])('refuses the method %s with 405 (GET only; methods are case-sensitive)', (method) => {
    expectRefusal(() => validateUpgradeRequest(parse(upgrade({ requestLine: `${method} /chat HTTP/1.1` }))), 'HS_ERR_METHOD_NOT_ALLOWED', 405);
  });

  it.each(['HTTP/1.0', 'HTTP/0.9'])('refuses %s with 400: WebSocket needs HTTP/1.1 or higher', (version) => {
    expectRefusal(() => validateUpgradeRequest(parse(upgrade({ requestLine: `GET /chat ${version}` }))), 'HS_ERR_HTTP_VERSION_TOO_OLD', 400);
  });

  it('accepts HTTP/1.2 ("HTTP/1.1 or higher")', () => {
    expect(validateUpgradeRequest(parse(upgrade({ requestLine: 'GET /chat HTTP/1.2' }))).key).toBe(KEY);
  });

  it.each(['HTTP/2.0', 'HTTP/3.0'])('refuses %s in an HTTP/1 request line with 505 (RFC 9110 §15.6.6)', (version) => {
    expectRefusal(() => validateUpgradeRequest(parse(upgrade({ requestLine: `GET /chat ${version}` }))), 'HS_ERR_HTTP_VERSION_NOT_SUPPORTED', 505);
  });
});

describe('validateUpgradeRequest: header fields (RFC 6455 §4.2.1 items 2-9)', () => {
  const refuse = (options: Parameters<typeof upgrade>[0], code: HandshakeErrorCode, status = 400): void => {
    expectRefusal(() => validateUpgradeRequest(parse(upgrade(options))), code, status);
  };
  const accept = (options: Parameters<typeof upgrade>[0]) => validateUpgradeRequest(parse(upgrade(options)));

  it('refuses a missing Host (RFC 9112 §3.2)', () => refuse({ omit: ['Host'] }, 'HS_ERR_INVALID_HOST'));
  it('refuses two Host lines (RFC 9112 §3.2)', () => refuse({ add: ['Host: b.example'] }, 'HS_ERR_INVALID_HOST'));
  it.each(['', 'a b.example', 'user@a.example', 'a.example/path', 'caf\xe9.example'])('refuses the Host value %j', (host) =>
    refuse({ omit: ['Host'], add: [`Host: ${host}`] }, 'HS_ERR_INVALID_HOST'),
  );
  it.each(['a.example', 'a.example:9001', '127.0.0.1:80', '[::1]:9001', 'xn--caf-dma.example'])('accepts the Host value %s', (host) => {
    expect(accept({ omit: ['Host'], add: [`Host: ${host}`] }).host).toBe(host);
  });

  it.each(['websocket', 'WebSocket', 'WEBSOCKET', 'h2c, websocket', 'websocket, h2c', ' , websocket ,'])('accepts Upgrade: %s', (value) => {
    expect(accept({ omit: ['Upgrade'], add: [`Upgrade: ${value}`] }).key).toBe(KEY);
  });
  it('accepts websocket in a second Upgrade line', () => {
    expect(accept({ omit: ['Upgrade'], add: ['Upgrade: h2c', 'Upgrade: websocket'] }).key).toBe(KEY);
  });
  it('refuses a missing Upgrade', () => refuse({ omit: ['Upgrade'] }, 'HS_ERR_INVALID_UPGRADE'));
  it.each(['websockets', 'web socket', 'h2c', '', 'websocket/13'])('refuses Upgrade: %j', (value) =>
    refuse({ omit: ['Upgrade'], add: [`Upgrade: ${value}`] }, 'HS_ERR_INVALID_UPGRADE'),
  );

  it.each(['Upgrade', 'upgrade', 'keep-alive, Upgrade', 'Upgrade,keep-alive', 'close,\tUPGRADE'])('accepts Connection: %s', (value) => {
    expect(accept({ omit: ['Connection'], add: [`Connection: ${value}`] }).key).toBe(KEY);
  });
  it('refuses a missing Connection', () => refuse({ omit: ['Connection'] }, 'HS_ERR_INVALID_CONNECTION'));
  it.each(['keep-alive', 'upgraded', 'up grade', ''])('refuses Connection: %j', (value) =>
    refuse({ omit: ['Connection'], add: [`Connection: ${value}`] }, 'HS_ERR_INVALID_CONNECTION'),
  );

  it('refuses a missing Sec-WebSocket-Version with 426 (documented choice)', () =>
    refuse({ omit: ['Sec-WebSocket-Version'] }, 'HS_ERR_UNSUPPORTED_VERSION', 426));
  it.each(['8', '7', '14', '13, 8', '013', 'thirteen'])('refuses Sec-WebSocket-Version: %s with 426 (RFC 6455 §4.2.2)', (value) =>
    refuse({ omit: ['Sec-WebSocket-Version'], add: [`Sec-WebSocket-Version: ${value}`] }, 'HS_ERR_UNSUPPORTED_VERSION', 426),
  );
  it('refuses two Sec-WebSocket-Version lines with 400 (RFC 6455 §11.3.5)', () =>
    refuse({ add: ['Sec-WebSocket-Version: 13'] }, 'HS_ERR_DUPLICATE_HEADER'));
  it('checks the version before the key, so an old-draft client learns the version', () =>
    refuse({ omit: ['Sec-WebSocket-Key', 'Sec-WebSocket-Version'], add: ['Sec-WebSocket-Version: 8'] }, 'HS_ERR_UNSUPPORTED_VERSION', 426));

  it('refuses a missing Sec-WebSocket-Key', () => refuse({ omit: ['Sec-WebSocket-Key'] }, 'HS_ERR_INVALID_KEY'));
  it('refuses two Sec-WebSocket-Key lines (RFC 6455 §11.3.1)', () =>
    refuse({ add: ['Sec-WebSocket-Key: AAECAwQFBgcICQoLDA0ODw=='] }, 'HS_ERR_INVALID_KEY'));
  it.each([
    ['15 bytes', Buffer.alloc(15, 7).toString('base64')],
    ['17 bytes', Buffer.alloc(17, 7).toString('base64')],
    ['32 bytes', Buffer.alloc(32, 7).toString('base64')],
    ['no padding', 'dGhlIHNhbXBsZSBub25jZQ'],
    ['one "=" of padding', 'dGhlIHNhbXBsZSBub25jZQA='],
    ['a character outside base64', 'dGhlIHNhbXBsZSBub25jZ*=='],
    ['base64url characters', '-_8AAAAAAAAAAAAAAAAAAA=='],
    ['"=" inside the value', 'dGhlIHNh=XBsZSBub25jZQ=='],
    ['stray bits in the last character (non-canonical, RFC 4648 §3.5)', 'dGhlIHNhbXBsZSBub25jZR=='],
    ['an empty value', ''],
  ])('refuses a Sec-WebSocket-Key of %s', (_label, key) =>
    refuse({ omit: ['Sec-WebSocket-Key'], add: [`Sec-WebSocket-Key: ${key}`] }, 'HS_ERR_INVALID_KEY'),
  );
  it('accepts the base64 of any 16 bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const key = Buffer.from(bytes).toString('base64');
        expect(accept({ omit: ['Sec-WebSocket-Key'], add: [`Sec-WebSocket-Key: ${key}`] }).key).toBe(key);
      }),
    );
  });

  it('reports a missing Origin as null', () => expect(accept({}).origin).toBeNull());
  it('refuses two Origin lines (RFC 6454 §7.3)', () =>
    refuse({ add: ['Origin: http://a.example', 'Origin: http://b.example'] }, 'HS_ERR_DUPLICATE_HEADER'));

  it('joins repeated Sec-WebSocket-Protocol lines into one list (RFC 6455 §11.3.4)', () => {
    expect(accept({ add: ['Sec-WebSocket-Protocol: a, b', 'Sec-WebSocket-Protocol: c'] }).protocols).toEqual(['a', 'b', 'c']);
  });
  it('refuses a non-token subprotocol', () => refuse({ add: ['Sec-WebSocket-Protocol: a b'] }, 'HS_ERR_INVALID_PROTOCOL'));

  it('joins repeated Sec-WebSocket-Extensions lines into one list (RFC 6455 §11.3.2)', () => {
    const info = accept({ add: ['Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits', 'Sec-WebSocket-Extensions: x-other'] });
    expect(info.extensions.map((offer) => offer.name)).toEqual(['permessage-deflate', 'x-other']);
    expect(info.extensions[0].params.client_max_window_bits).toBe(true);
  });
  it('refuses malformed extensions', () => refuse({ add: ['Sec-WebSocket-Extensions: a;;'] }, 'HS_ERR_INVALID_EXTENSIONS'));

  it('accepts Content-Length: 0', () => expect(accept({ add: ['Content-Length: 0'] }).key).toBe(KEY));
  it.each(['Content-Length: 5', 'Content-Length: 00x', 'Transfer-Encoding: chunked', 'Transfer-Encoding: identity'])(
    'refuses a request with a body (%s): the bytes after the head must be frames',
    (line) => refuse({ add: [line] }, 'HS_ERR_UNEXPECTED_BODY'),
  );

  it('joins repeated headers with ", " and Cookie lines with "; " (RFC 6265 §5.4)', () => {
    const info = accept({ add: ['X-Tag: a', 'X-Tag: b', 'Cookie: a=1', 'Cookie: b=2'] });
    expect(info.headers['x-tag']).toBe('a, b');
    expect(info.headers.cookie).toBe('a=1; b=2');
  });

  it('keeps a header named __proto__ as an ordinary key (no prototype pollution)', () => {
    const info = accept({ add: ['__proto__: x', 'constructor: y'] });
    expect(Object.getPrototypeOf(info.headers)).toBeNull();
    expect(info.headers.__proto__).toBe('x');
    expect(info.headers.constructor).toBe('y');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('computeAcceptKey (RFC 6455 §4.2.2 step 5.4)', () => {
  it('turns the RFC example key into the RFC example accept value', () => {
    expect(computeAcceptKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('equals base64(SHA-1(key + GUID)) computed with createHash (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const key = Buffer.from(bytes).toString('base64');
        const expected = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        expect(computeAcceptKey(key)).toBe(expected);
      }),
    );
  });
});

describe('buildAcceptResponse (RFC 6455 §4.2.2 step 5)', () => {
  it('writes the 101 with Upgrade, Connection and Sec-WebSocket-Accept, CRLF-terminated', () => {
    expect(buildAcceptResponse(KEY).toString('latin1')).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
        '\r\n',
    );
  });

  it('adds exactly one Sec-WebSocket-Protocol header for a selected protocol', () => {
    expect(buildAcceptResponse(KEY, { protocol: 'chat' }).toString('latin1')).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
        'Sec-WebSocket-Protocol: chat\r\n' +
        '\r\n',
    );
  });

  it.each([null, undefined, ''])('sends no (empty) Sec-WebSocket-Protocol header for protocol %j', (protocol) => {
    expect(buildAcceptResponse(KEY, { protocol }).toString('latin1')).not.toContain('Sec-WebSocket-Protocol');
  });

  it('adds Sec-WebSocket-Extensions, then extra headers, after the WebSocket headers', () => {
    const text = buildAcceptResponse(KEY, {
      extensions: 'permessage-deflate; server_no_context_takeover',
      headers: { 'X-Shoal-Worker': '3', 'Set-Cookie': 'sid=1; HttpOnly' },
    }).toString('latin1');
    expect(text.endsWith(
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n' +
        'X-Shoal-Worker: 3\r\n' +
        'Set-Cookie: sid=1; HttpOnly\r\n' +
        '\r\n',
    )).toBe(true);
  });

  it.each([
    ['a non-token protocol', { protocol: 'chat room' }],
    ['a protocol list', { protocol: 'a, b' }],
    ['a protocol with CRLF', { protocol: 'a\r\nX-Evil: 1' }],
    ['extensions with CRLF', { extensions: 'a\r\nX-Evil: 1' }],
    ['a header value with CRLF (response splitting)', { headers: { 'X-A': 'a\r\nX-Evil: 1' } }],
    ['a header value with a non-ASCII character', { headers: { 'X-A': 'caf\u00e9' } }],
    ['a non-token header name', { headers: { 'X A': 'a' } }],
    ['a header the 101 sets itself', { headers: { connection: 'close' } }],
    ['a second Sec-WebSocket-Protocol', { headers: { 'Sec-WebSocket-Protocol': 'x' } }],
  ])('throws TypeError for %s', (_label, options) => {
    expect(() => buildAcceptResponse(KEY, options as Parameters<typeof buildAcceptResponse>[1])).toThrow(TypeError);
  });
});

describe('buildErrorResponse', () => {
  it.each([
    [400, 'Bad Request'],
    [403, 'Forbidden'],
    [404, 'Not Found'],
    [431, 'Request Header Fields Too Large'],
    [503, 'Service Unavailable'],
    [505, 'HTTP Version Not Supported'],
  ])('writes %i %s with text/plain, Content-Length, Connection: close and the reason as body', (status, phrase) => {
    expect(buildErrorResponse(status, 'Missing Host header').toString('latin1')).toBe(
      `HTTP/1.1 ${status} ${phrase}\r\n` +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 19\r\n' +
        '\r\n' +
        'Missing Host header',
    );
  });

  it('adds Allow: GET to a 405 (RFC 9110 §15.5.6)', () => {
    expect(buildErrorResponse(405, 'GET only').toString('latin1')).toBe(
      'HTTP/1.1 405 Method Not Allowed\r\n' +
        'Connection: close\r\n' +
        'Allow: GET\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 8\r\n' +
        '\r\n' +
        'GET only',
    );
  });

  it('adds Upgrade: websocket and Sec-WebSocket-Version: 13 to a 426 (RFC 6455 §4.2.2, RFC 9110 §15.5.22)', () => {
    expect(buildErrorResponse(426, 'version 13').toString('latin1')).toBe(
      'HTTP/1.1 426 Upgrade Required\r\n' +
        'Connection: Upgrade, close\r\n' +
        'Upgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 10\r\n' +
        '\r\n' +
        'version 13',
    );
  });

  it('does not repeat Allow or Sec-WebSocket-Version when the caller passes its own', () => {
    const allow = buildErrorResponse(405, 'x', { Allow: 'GET, HEAD' }).toString('latin1');
    expect(allow.match(/^allow:/gim)).toEqual(['Allow:']);
    expect(allow).toContain('Allow: GET, HEAD\r\n');
    const version = buildErrorResponse(426, 'x', { 'sec-websocket-version': '13, 8' }).toString('latin1');
    expect(version.match(/^sec-websocket-version:/gim)).toHaveLength(1);
    expect(version).toContain('sec-websocket-version: 13, 8\r\n');
  });

  it('counts Content-Length in UTF-8 bytes and sends the body as UTF-8', () => {
    // 39 characters; "ü" takes 2 bytes and "✗" 3, so 42 bytes.
    const response = buildErrorResponse(403, 'Zugriff verweigert: Ursprung ungültig ✗');
    const text = response.toString('utf8');
    expect(text).toContain('Content-Length: 42\r\n');
    expect(text.endsWith('\r\n\r\nZugriff verweigert: Ursprung ungültig ✗')).toBe(true);
  });

  it('accepts any 4xx/5xx an upgrade hook chooses, with a generic phrase for unnamed codes', () => {
    expect(buildErrorResponse(418, 'teapot').toString('latin1').startsWith('HTTP/1.1 418 Client Error\r\n')).toBe(true);
    expect(buildErrorResponse(599, 'x').toString('latin1').startsWith('HTTP/1.1 599 Server Error\r\n')).toBe(true);
    expect(buildErrorResponse(429, 'slow down', { 'Retry-After': '5' }).toString('latin1')).toContain('Retry-After: 5\r\n');
  });

  it.each([101, 200, 302, 399, 600, 1000, 400.5, Number.NaN])('throws RangeError for status %s', (status) => {
    expect(() => buildErrorResponse(status, 'x')).toThrow(RangeError);
  });

  it.each([
    ['a header value with CRLF', { 'X-A': '1\r\nSet-Cookie: evil=1' }],
    ['a Content-Length of its own', { 'Content-Length': '0' }],
    ['a Connection of its own', { Connection: 'keep-alive' }],
  ])('throws TypeError for %s', (_label, headers) => {
    expect(() => buildErrorResponse(400, 'x', headers)).toThrow(TypeError);
  });
});

describe('handshakeErrorResponse', () => {
  it('answers a HandshakeError with its status and its message as the body', () => {
    const text = handshakeErrorResponse(new HandshakeError('HS_ERR_INVALID_HOST', 'Missing Host header')).toString('latin1');
    expect(text.startsWith('HTTP/1.1 400 Bad Request\r\n')).toBe(true);
    expect(text.endsWith('\r\n\r\nMissing Host header')).toBe(true);
  });

  it('carries the version header for a 426 and Allow for a 405', () => {
    expect(handshakeErrorResponse(new HandshakeError('HS_ERR_UNSUPPORTED_VERSION', 'v13')).toString('latin1')).toContain(
      'Sec-WebSocket-Version: 13\r\n',
    );
    expect(handshakeErrorResponse(new HandshakeError('HS_ERR_METHOD_NOT_ALLOWED', 'GET')).toString('latin1')).toContain('Allow: GET\r\n');
  });

  it('uses an explicit status given to the error (an upgrade hook refusal)', () => {
    const text = handshakeErrorResponse(new HandshakeError('HS_ERR_FORBIDDEN', 'Unauthorized', 401)).toString('latin1');
    expect(text.startsWith('HTTP/1.1 401 Unauthorized\r\n')).toBe(true);
  });
});

describe('properties (fast-check)', () => {
  const tokenChar = fc.constantFrom(...'abcxyzABCXYZ0189!#$%&\'*+-.^_`|~');
  const fieldName = fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 });
  const valueChar = fc.constantFrom(...'abc XYZ019 \t:;,="/\\()?@[]{}\x80\xe9\xff');
  const fieldValue = fc.string({ unit: valueChar, maxLength: 24 }).map((value) => value.replace(/^[ \t]+|[ \t]+$/g, ''));
  const validRequest = fc
    .record({
      extra: fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 6 }),
      after: fc.uint8Array({ maxLength: 40 }),
      leadingEmptyLines: fc.integer({ min: 0, max: 2 }),
    })
    .map(({ extra, after, leadingEmptyLines }) =>
      Buffer.concat([
        Buffer.from('\r\n'.repeat(leadingEmptyLines)),
        head([...VALID_LINES, ...extra.map(([name, value]) => `${name}: ${value}`)]),
        Buffer.from(after),
      ]),
    );

  /** Random cut points turned into chunks (empty chunks included). */
  function cut(bytes: Buffer, points: number[]): Buffer[] {
    const cuts = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let start = 0;
    for (const point of cuts) {
      chunks.push(bytes.subarray(start, point));
      start = point;
    }
    chunks.push(bytes.subarray(start));
    return chunks;
  }

  it('any chunking of a valid request yields the same head and the same rest', () => {
    fc.assert(
      fc.property(validRequest, fc.array(fc.nat(), { maxLength: 12 }), (bytes, points) => {
        const whole = parseChunks([bytes]);
        const chunked = parseChunks(cut(bytes, points));
        expect(chunked.head).toEqual(whole.head);
        expect(chunked.rest).toEqual(whole.rest);
        expect(validateUpgradeRequest(chunked.head).key).toBe(KEY);
      }),
    );
  });

  /** Drive parser + validation; only HandshakeError may escape, and the spill never exceeds the limit. */
  function survive(chunks: Buffer[], maxHeadBytes: number): void {
    const parser = new HandshakeParser({ maxHeadBytes });
    try {
      for (const chunk of chunks) {
        const result = parser.push(chunk);
        expect(parser.bufferedBytes).toBeLessThanOrEqual(maxHeadBytes);
        if (result !== null) {
          validateUpgradeRequest(result);
          return;
        }
      }
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      expect([400, 405, 426, 431, 505]).toContain(error.status);
    }
  }

  it('random bytes under random chunking never throw anything but HandshakeError', () => {
    const byte = fc.oneof(fc.constantFrom(0x0d, 0x0a, 0x20, 0x3a, 0x09), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 300 }), fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 18, max: 256 }), (bytes, points, max) => {
        survive(cut(Buffer.from(bytes), points), max);
      }),
      { numRuns: 500 },
    );
  });

  it('mutated valid requests never throw anything but HandshakeError', () => {
    const mutation = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(validRequest, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, mutations, points) => {
        const mutated = Buffer.from(bytes);
        for (const [position, value] of mutations) mutated[position % mutated.length] = value;
        survive(cut(mutated, points), DEFAULT_MAX_HEAD_BYTES);
      }),
      { numRuns: 500 },
    );
  });
});
