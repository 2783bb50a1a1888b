import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { HandshakeErrorCode } from '../../../src/protocol/errors.ts';
import { validateUpgradeRequest } from '../../../src/protocol/upgrade-request.ts';
import { RFC_EXAMPLE_REQUEST_LINES } from '../../conformance/handshake-cases.ts';
import { KEY, head, upgrade, parse, expectRefusal } from '../../helpers/upgrade-requests.ts';

describe('validateUpgradeRequest: the request line (RFC 6455 §4.2.1 item 1)', () => {
  it('accepts the RFC 6455 §1.3 example and extracts what negotiation needs', () => {
    const info = validateUpgradeRequest(parse(head([...RFC_EXAMPLE_REQUEST_LINES])));
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
