import { describe, expect, it } from 'vitest';
import { buildUpgradeRequest, checkUpgradeResponse, createClientKey } from '../../bench/load/client-handshake.ts';

// RFC 6455 §1.3's example key and accept value.
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const ok = (extra = ''): string =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}${extra}`;

describe('client handshake request (RFC 6455 §4.1)', () => {
  it('has the required headers and ends with an empty line', () => {
    const text = buildUpgradeRequest({ host: '127.0.0.1', port: 9001, path: '/x', key: KEY, protocols: ['a', 'b'] }).toString('latin1');
    expect(text).toBe(
      'GET /x HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\n\r\n`,
    );
  });
  it('brackets IPv6 hosts and omits the protocol header when none is offered', () => {
    const text = buildUpgradeRequest({ host: '::1', port: 1, path: '/', key: KEY, protocols: [] }).toString('latin1');
    expect(text).toContain('Host: [::1]:1\r\n');
    expect(text).not.toContain('Sec-WebSocket-Protocol');
  });
  it('makes keys of 16 random bytes', () => {
    const a = createClientKey();
    expect(Buffer.from(a, 'base64')).toHaveLength(16);
    expect(createClientKey()).not.toBe(a);
  });
});

describe('checking the server response (RFC 6455 §4.1)', () => {
  it('accepts a correct 101, headers case-insensitive', () => {
    expect(checkUpgradeResponse(ok(), KEY, [])).toEqual({ ok: true, protocol: null });
    expect(checkUpgradeResponse(ok().replace('Upgrade: websocket', 'upgrade: WebSocket').replace('Connection: Upgrade', 'connection: keep-alive, upgrade'), KEY, [])).toEqual({ ok: true, protocol: null });
  });
  it('returns the chosen subprotocol', () => {
    expect(checkUpgradeResponse(ok('\r\nSec-WebSocket-Protocol: b'), KEY, ['a', 'b'])).toEqual({ ok: true, protocol: 'b' });
  });
  const failures: [string, string, readonly string[], RegExp][] = [
    ['a non-101 status', 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0', [], /server answered 400 Bad Request/],
    ['an unreadable status line', 'SSH-2.0-OpenSSH', [], /unreadable status line/],
    ['a wrong accept value', ok().replace(ACCEPT, 'AAAA'), [], /Accept does not match/],
    ['a missing Upgrade header', ok().replace('Upgrade: websocket\r\n', ''), [], /Upgrade header/],
    ['a Connection header without upgrade', ok().replace('Connection: Upgrade', 'Connection: close'), [], /Connection header/],
    ['an extension that was not offered', ok('\r\nSec-WebSocket-Extensions: permessage-deflate'), [], /extension/],
    ['a subprotocol that was not offered', ok('\r\nSec-WebSocket-Protocol: c'), ['a'], /"c" that was not offered/],
    ['no subprotocol when one was required', ok(), ['a'], /accepted none of the offered/],
    ['a malformed header line', `${ok()}\r\nno colon here`, [], /malformed header line/],
  ];
  for (const [name, head, offered, reason] of failures) {
    it(`fails on ${name}`, () => {
      const check = checkUpgradeResponse(head, KEY, offered);
      expect(check.ok).toBe(false);
      if (!check.ok) expect(check.reason).toMatch(reason);
    });
  }
});
