import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HandshakeError } from '../../../src/protocol/errors.ts';
import { buildAcceptResponse, buildErrorResponse, computeAcceptKey, handshakeErrorResponse } from '../../../src/protocol/handshake-response.ts';
import { KEY } from '../../helpers/upgrade-requests.ts';

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
