import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HandshakeError } from '../../../src/protocol/errors.ts';
import { formatExtensions, parseExtensions } from '../../../src/protocol/extensions.ts';
import type { ExtensionOffer } from '../../../src/protocol/extensions.ts';
import { expectRefusal } from '../../helpers/upgrade-requests.ts';

/** Offers as plain objects, so toEqual compares them regardless of the null prototype. */
function plain(offers: ExtensionOffer[]): { name: string; params: Record<string, string | true> }[] {
  return offers.map((offer) => ({ name: offer.name, params: { ...offer.params } }));
}

describe('parseExtensions (RFC 6455 §9.1 grammar)', () => {
  it('reads an extension without parameters', () => {
    expect(plain(parseExtensions(['permessage-deflate']))).toEqual([{ name: 'permessage-deflate', params: {} }]);
  });

  it('reads parameters without a value as true and with a token value as the string', () => {
    expect(plain(parseExtensions(['permessage-deflate; client_max_window_bits; server_max_window_bits=10']))).toEqual([
      { name: 'permessage-deflate', params: { client_max_window_bits: true, server_max_window_bits: '10' } },
    ]);
  });

  it('unquotes quoted-string values, including quoted-pairs', () => {
    expect(plain(parseExtensions(['x; a="10"; b="to\\ken"']))).toEqual([{ name: 'x', params: { a: '10', b: 'token' } }]);
  });

  it('reads a comma-separated list of offers in the client order, same names allowed', () => {
    const offers = parseExtensions(['permessage-deflate; server_no_context_takeover, permessage-deflate, x-other']);
    expect(offers.map((offer) => offer.name)).toEqual(['permessage-deflate', 'permessage-deflate', 'x-other']);
  });

  it('joins repeated header lines into one list (RFC 6455 §11.3.2)', () => {
    expect(parseExtensions(['a; p=1', 'b', 'c']).map((offer) => offer.name)).toEqual(['a', 'b', 'c']);
  });

  it('accepts optional whitespace around ";", "=" and ","', () => {
    expect(plain(parseExtensions([' \ta \t; p \t= \t1 \t, \tb\t;\tq\t ']))).toEqual([
      { name: 'a', params: { p: '1' } },
      { name: 'b', params: { q: true } },
    ]);
  });

  it('ignores empty list elements and empty header lines (RFC 9110 §5.6.1)', () => {
    expect(parseExtensions([', a,, ,b ,', '']).map((offer) => offer.name)).toEqual(['a', 'b']);
    expect(parseExtensions([''])).toEqual([]);
  });

  it('stores a parameter named __proto__ as an ordinary key without touching prototypes', () => {
    const [offer] = parseExtensions(['x; __proto__=1; constructor']);
    expect(Object.getPrototypeOf(offer.params)).toBeNull();
    expect(offer.params.__proto__).toBe('1');
    expect(offer.params.constructor).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['an empty extension name before ";"', '; p=1'],
    ['a non-token extension name', 'per/message'],
    ['an empty parameter name', 'x; =1'],
    ['a missing parameter value after "="', 'x; p='],
    ['a non-token parameter value', 'x; p=a/b'],
    ['an unterminated quoted string', 'x; p="10'],
    ['an empty quoted value (not a token)', 'x; p=""'],
    ['a quoted value that is not a token after unescaping', 'x; p="a b"'],
    ['a backslash at the end of the value', 'x; p="1\\'],
    ['a control character in a quoted string', 'x; p="1\u0001"'],
    ['junk after a parameter', 'x; p=1 q'],
    ['a stray "=" after the name', 'x=1'],
    ['a repeated parameter (RFC 7692 §7)', 'x; p=1; p=2'],
    ['a trailing ";"', 'x;'],
  ])('refuses %s with 400 HS_ERR_INVALID_EXTENSIONS', (_label, value) => {
    expectRefusal(() => parseExtensions([value]), 'HS_ERR_INVALID_EXTENSIONS', 400);
  });

  it('never throws anything but HandshakeError on arbitrary header text (property)', () => {
    const unit = fc.constantFrom('a', 'b', '1', ';', '=', ',', '"', '\\', ' ', '\t', '/', '\u0001', '\u00e9');
    fc.assert(
      fc.property(fc.array(fc.string({ unit, maxLength: 40 }), { maxLength: 3 }), (values) => {
        try {
          const offers = parseExtensions(values);
          for (const offer of offers) expect(offer.name.length).toBeGreaterThan(0);
        } catch (error) {
          expect(error).toBeInstanceOf(HandshakeError);
        }
      }),
    );
  });
});

describe('formatExtensions (RFC 6455 §9.1)', () => {
  it('writes name; param; param=value and joins extensions with ", "', () => {
    const text = formatExtensions([
      { name: 'permessage-deflate', params: { server_no_context_takeover: true, client_max_window_bits: '10' } },
      { name: 'x-other', params: {} },
    ]);
    expect(text).toBe('permessage-deflate; server_no_context_takeover; client_max_window_bits=10, x-other');
  });

  it('writes an empty string for an empty list', () => {
    expect(formatExtensions([])).toBe('');
  });

  it('round-trips through parseExtensions (property)', () => {
    const token = fc.string({ unit: fc.constantFrom('a', 'z', '0', '9', '-', '_', '.', '~', '!'), minLength: 1, maxLength: 8 });
    const params = fc.dictionary(token, fc.oneof(fc.constant(true as const), token), { maxKeys: 4 });
    fc.assert(
      fc.property(fc.array(fc.record({ name: token, params }), { maxLength: 4 }), (list) => {
        expect(plain(parseExtensions([formatExtensions(list)]))).toEqual(list.map((e) => ({ name: e.name, params: { ...e.params } })));
      }),
    );
  });

  it.each([
    ['a non-token name', [{ name: 'a b', params: {} }]],
    ['a non-token parameter name', [{ name: 'a', params: { 'p q': true } }]],
    ['a non-token value', [{ name: 'a', params: { p: 'x, y' } }]],
    ['a value with CRLF (header injection)', [{ name: 'a', params: { p: '1\r\nSet-Cookie: x=1' } }]],
  ] as [string, ExtensionOffer[]][])('throws TypeError for %s', (_label, list) => {
    expect(() => formatExtensions(list)).toThrow(TypeError);
  });
});
