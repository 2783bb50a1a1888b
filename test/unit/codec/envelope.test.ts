import { describe, expect, it } from 'vitest';
import {
  EnvelopeError,
  MAX_NAME_LENGTH,
  MAX_REQUEST_ID,
  closeReason,
  isValidName,
  isValidRequestId,
  parseClientMessage,
  parseServerMessage,
} from '../../../src/codec/envelope.ts';

function invalidEnvelope(run: () => unknown): EnvelopeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeError);
    const envelopeError = error as EnvelopeError;
    expect(envelopeError.code).toBe('SHOAL_ERR_INVALID_ENVELOPE');
    expect(envelopeError.closeCode).toBe(1007);
    return envelopeError;
  }
  throw new Error('expected an EnvelopeError');
}

describe('spec §3: names and ids', () => {
  it('accepts names of 1..256 characters', () => {
    expect(isValidName('a')).toBe(true);
    expect(isValidName('x'.repeat(MAX_NAME_LENGTH))).toBe(true);
  });

  it('refuses empty, too long and non-string names', () => {
    expect(isValidName('')).toBe(false);
    expect(isValidName('x'.repeat(MAX_NAME_LENGTH + 1))).toBe(false);
    expect(isValidName(7)).toBe(false);
    expect(isValidName(null)).toBe(false);
  });

  it('accepts integer ids in 0..2^53-1 and nothing else', () => {
    expect(isValidRequestId(0)).toBe(true);
    expect(isValidRequestId(MAX_REQUEST_ID)).toBe(true);
    for (const bad of [-1, 1.5, MAX_REQUEST_ID + 1, Number.NaN, Infinity, '1', 1n, null]) expect(isValidRequestId(bad)).toBe(false);
  });
});

describe('spec §4: messages from a client', () => {
  it('accepts an event [0, name, data] and returns the same array', () => {
    const event = [0, 'chat', { text: 'hi' }];
    expect(parseClientMessage(event)).toBe(event);
  });

  it('accepts an event whose data is null', () => {
    expect(parseClientMessage([0, 'ping', null])).toEqual([0, 'ping', null]);
  });

  it('accepts a request [1, id, method, data]', () => {
    const request = [1, 42, 'add', [1, 2]];
    expect(parseClientMessage(request)).toBe(request);
  });

  it.each([
    ['a string', 'hello'],
    ['a map', { type: 0 }],
    ['an empty array', []],
    ['an event without data', [0, 'chat']],
    ['an event with an extra element', [0, 'chat', 1, 2]],
    ['an event with an empty name', [0, '', null]],
    ['an event with a numeric name', [0, 5, null]],
    ['an event with a 257-character name', [0, 'x'.repeat(257), null]],
    ['a request without data', [1, 1, 'add']],
    ['a request with a negative id', [1, -1, 'add', null]],
    ['a request with a fractional id', [1, 1.5, 'add', null]],
    ['a request with a string id', [1, '1', 'add', null]],
    ['a request with an id past 2^53-1', [1, 2 ** 53, 'add', null]],
    ['a request with no method name', [1, 1, null, null]],
    ['a reply', [2, 1, null]],
    ['an error reply', [3, 1, { code: 'X', message: 'y' }]],
    ['a publication', [4, 'news', null]],
    ['an unknown type', [9, 'x', null]],
    ['a type given as a string', ['0', 'x', null]],
  ])('refuses %s with SHOAL_ERR_INVALID_ENVELOPE (1007)', (_what, value) => {
    invalidEnvelope(() => parseClientMessage(value));
  });

  it('names the message type it refused', () => {
    expect(invalidEnvelope(() => parseClientMessage([4, 'news', null])).message).toContain('type 4');
  });
});

describe('spec §4: messages from a server', () => {
  it('accepts events, replies, error replies and publications', () => {
    for (const message of [
      [0, 'welcome', null],
      [2, 7, { sum: 3 }],
      [3, 7, { code: 'UNKNOWN_METHOD', message: 'no such method' }],
      [3, 7, { code: 'NICK_TAKEN', message: 'taken', data: { nick: 'a' } }],
      [4, 'room:1', 'hello'],
    ]) {
      expect(parseServerMessage(message)).toBe(message);
    }
  });

  it.each([
    ['a request', [1, 1, 'add', null]],
    ['a reply without data', [2, 1]],
    ['an error reply whose body is a string', [3, 1, 'oops']],
    ['an error reply without a message', [3, 1, { code: 'X' }]],
    ['an error reply with a numeric code', [3, 1, { code: 1, message: 'x' }]],
    ['a publication with an empty topic', [4, '', null]],
    ['a reply with a bad id', [2, -3, null]],
  ])('refuses %s with SHOAL_ERR_INVALID_ENVELOPE (1007)', (_what, value) => {
    invalidEnvelope(() => parseServerMessage(value));
  });
});

describe('closeReason (RFC 6455 §5.5: a close payload is at most 125 bytes)', () => {
  it('keeps a short reason as is', () => {
    expect(closeReason('bad envelope')).toBe('bad envelope');
  });

  it('cuts a long ASCII reason to 123 bytes', () => {
    expect(closeReason('x'.repeat(300))).toBe('x'.repeat(123));
  });

  it('never cuts a multi-byte character in half', () => {
    const reason = closeReason('é'.repeat(100));
    const bytes = new TextEncoder().encode(reason);
    expect(bytes.length).toBeLessThanOrEqual(123);
    expect(reason).toBe('é'.repeat(61));
  });
});
