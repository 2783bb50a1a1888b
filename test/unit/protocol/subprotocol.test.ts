import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseProtocolList, selectSubprotocol } from '../../../src/protocol/subprotocol.ts';
import { expectRefusal, refusal } from '../../helpers/upgrade-requests.ts';

describe('parseProtocolList (RFC 6455 §4.1, §11.3.4)', () => {
  it('reads one header value as a comma list in the client order', () => {
    expect(parseProtocolList(['chat, superchat'])).toEqual(['chat', 'superchat']);
  });

  it('joins repeated header lines into one list, line order first', () => {
    expect(parseProtocolList(['b.example', 'a.example, c.example'])).toEqual(['b.example', 'a.example', 'c.example']);
  });

  it('trims optional whitespace around elements (RFC 9110 §5.6.1)', () => {
    expect(parseProtocolList([' \tchat ,\tsuperchat\t '])).toEqual(['chat', 'superchat']);
  });

  it('ignores empty list elements, so an empty header offers nothing (RFC 9110 §5.6.1)', () => {
    expect(parseProtocolList(['chat,, ,superchat,'])).toEqual(['chat', 'superchat']);
    expect(parseProtocolList([''])).toEqual([]);
    expect(parseProtocolList([])).toEqual([]);
  });

  it('keeps the case of protocol names', () => {
    expect(parseProtocolList(['Chat, CHAT'])).toEqual(['Chat', 'CHAT']);
  });

  it.each([
    ['a space inside an element', 'chat room'],
    ['a separator character', 'chat/1'],
    ['a double quote', '"chat"'],
    ['a non-ASCII character', 'ch\u00e4t'],
    ['a semicolon', 'chat;v=1'],
  ])('refuses %s with 400 HS_ERR_INVALID_PROTOCOL', (_label, value) => {
    expectRefusal(() => parseProtocolList([value]), 'HS_ERR_INVALID_PROTOCOL', 400);
  });

  it('refuses a protocol offered twice, even across lines (RFC 6455 §4.1: "MUST all be unique")', () => {
    expect(refusal(() => parseProtocolList(['chat, chat'])).code).toBe('HS_ERR_INVALID_PROTOCOL');
    expect(refusal(() => parseProtocolList(['chat', 'chat'])).code).toBe('HS_ERR_INVALID_PROTOCOL');
  });
});

describe('selectSubprotocol (RFC 6455 §4.2.2 step 4)', () => {
  it('picks the first protocol in the CLIENT order that the server supports', () => {
    expect(selectSubprotocol(['chat', 'superchat'], ['superchat', 'chat'])).toBe('chat');
    expect(selectSubprotocol(['x', 'superchat', 'chat'], ['chat', 'superchat'])).toBe('superchat');
  });

  it('returns null when nothing offered is supported', () => {
    expect(selectSubprotocol(['a', 'b'], ['c'])).toBeNull();
  });

  it('returns null when nothing is offered or nothing is supported', () => {
    expect(selectSubprotocol([], ['chat'])).toBeNull();
    expect(selectSubprotocol(['chat'], [])).toBeNull();
  });

  it('compares names exactly (case-sensitive)', () => {
    expect(selectSubprotocol(['CHAT'], ['chat'])).toBeNull();
  });

  it('never selects an empty protocol, even if the server lists one', () => {
    expect(selectSubprotocol(['', 'chat'], ['', 'chat'])).toBe('chat');
    expect(selectSubprotocol([''], [''])).toBeNull();
  });

  it('always returns an offered and supported protocol, the earliest offered one (property)', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
    fc.assert(
      fc.property(fc.uniqueArray(name), fc.uniqueArray(name), (offered, supported) => {
        const selected = selectSubprotocol(offered, supported);
        const candidates = offered.filter((protocol) => supported.includes(protocol));
        expect(selected).toBe(candidates.length === 0 ? null : candidates[0]);
      }),
    );
  });
});
