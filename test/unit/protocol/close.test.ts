import { describe, expect, it } from 'vitest';
import {
  closeCodeName,
  encodeClosePayload,
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
  parseClosePayload,
  truncateUtf8,
} from '../../../src/protocol/close.ts';
import { ProtocolError } from '../../../src/protocol/errors.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function parseError(payload: Uint8Array): ProtocolError {
  try {
    parseClosePayload(payload);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  return expect.fail('expected a ProtocolError');
}

describe('close codes (RFC 6455 §7.4.1, §7.4.2)', () => {
  const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  const invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535];
  for (const code of valid) it(`accepts ${code}`, () => expect(isValidCloseCode(code)).toBe(true));
  for (const code of invalid) it(`rejects ${code}`, () => expect(isValidCloseCode(code)).toBe(false));

  it('names codes by their RFC names', () => {
    expect(closeCodeName(1000)).toBe('NORMAL_CLOSURE');
    expect(closeCodeName(1009)).toBe('MESSAGE_TOO_BIG');
    expect(closeCodeName(4001)).toBe('APPLICATION');
    expect(closeCodeName(2500)).toBe('UNKNOWN');
  });
});

describe('close payloads (RFC 6455 §5.5.1)', () => {
  const fixtures: [string, Buffer, number, string][] = [
    ['an empty body means no status code (1005, §7.1.5)', Buffer.alloc(0), 1005, ''],
    ['a code alone', hex('03e8'), 1000, ''],
    ['a code and a reason', hex('03e9 627965'), 1001, 'bye'],
    ['an application code with a UTF-8 reason', Buffer.concat([hex('0fa0'), Buffer.from('ça va €')]), 4000, 'ça va €'],
  ];
  for (const [name, bytes, code, reason] of fixtures) {
    it(`parses ${name}`, () => expect(parseClosePayload(bytes)).toEqual({ code, reason }));
    if (code !== 1005) {
      it(`encodes ${name}`, () => expect(encodeClosePayload(code, reason)).toEqual(bytes));
    }
  }

  it('encodes no code as an empty body', () => {
    expect(encodeClosePayload()).toHaveLength(0);
  });

  it('fails with 1002 when the body is 1 byte', () => {
    const error = parseError(hex('03'));
    expect(error.code).toBe('WS_ERR_INVALID_CLOSE_PAYLOAD');
    expect(error.closeCode).toBe(1002);
  });

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    it(`fails with 1002 when the code is ${code}`, () => {
      const error = parseError(Uint8Array.of(code >>> 8, code & 0xff));
      expect(error.code).toBe('WS_ERR_INVALID_CLOSE_CODE');
      expect(error.closeCode).toBe(1002);
    });
  }

  it('fails with 1007 when the reason is not UTF-8 (§8.1)', () => {
    for (const reason of [hex('ff'), hex('ce ba e1 bd b9 ce bc ce b5 ed a0 80 65 64 69 74 65 64'), hex('e2 82')]) {
      const error = parseError(Buffer.concat([hex('03e8'), reason]));
      expect(error.code).toBe('WS_ERR_INVALID_UTF8');
      expect(error.closeCode).toBe(1007);
    }
  });

  it('refuses to encode a code that may not be sent', () => {
    for (const code of [1005, 1006, 1015, 999, 5000]) {
      expect(() => encodeClosePayload(code, 'x')).toThrow(RangeError);
    }
  });

  it('truncates a long reason to 123 bytes, on a code point boundary', () => {
    const ascii = encodeClosePayload(1000, 'x'.repeat(200));
    expect(ascii).toHaveLength(2 + MAX_CLOSE_REASON_BYTES);
    // 3-byte characters: 41 of them are 123 bytes exactly; 42 would not fit.
    const euros = encodeClosePayload(1000, '€'.repeat(50));
    expect(euros).toHaveLength(2 + 123);
    expect(parseClosePayload(euros).reason).toBe('€'.repeat(41));
    // 4-byte characters: 30 are 120 bytes; the 31st would straddle the limit.
    const emoji = encodeClosePayload(1000, '😀'.repeat(40));
    expect(emoji).toHaveLength(2 + 120);
    expect(parseClosePayload(emoji).reason).toBe('😀'.repeat(30));
  });

  it('keeps a reason that fits as it is', () => {
    const bytes = Buffer.from('é'.repeat(61) + 'x');
    expect(truncateUtf8(bytes, 123)).toBe(bytes);
  });
});
