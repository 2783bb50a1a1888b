import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { isValidUtf8, isValidUtf8Js, NATIVE_MIN_BYTES, Utf8Validator } from '../../../src/protocol/utf8.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Well-formed sequences (Unicode Table 3-7), at every range boundary. */
const VALID: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['ASCII', Buffer.from('Hello, world')],
  ['U+0000 and U+007F', hex('00 7f')],
  ['U+0080, lowest 2-byte', hex('c2 80')],
  ['U+07FF, highest 2-byte', hex('df bf')],
  ['U+0800, lowest 3-byte (E0 A0..BF)', hex('e0 a0 80')],
  ['U+D7FF, just below the surrogates (ED 80..9F)', hex('ed 9f bf')],
  ['U+E000, just above the surrogates', hex('ee 80 80')],
  ['U+FFFF, highest 3-byte', hex('ef bf bf')],
  ['U+10000, lowest 4-byte (F0 90..BF)', hex('f0 90 80 80')],
  ['U+10FFFF, highest code point (F4 80..8F)', hex('f4 8f bf bf')],
  ['mixed text', Buffer.from('κόσμε € 😀 naïve 中文')],
];

/** Ill-formed sequences: `bad` is the index of the first byte that makes them invalid. */
const INVALID: [string, Buffer, number][] = [
  ['a lone continuation byte', hex('41 80'), 1],
  ['overlong 2-byte C0 80 (U+0000)', hex('c0 80'), 0],
  ['overlong 2-byte C1 BF', hex('c1 bf'), 0],
  ['overlong 3-byte E0 80 80', hex('e0 80 80'), 1],
  ['overlong 3-byte E0 9F BF (U+07FF)', hex('e0 9f bf'), 1],
  ['overlong 4-byte F0 80 80 80', hex('f0 80 80 80'), 1],
  ['overlong 4-byte F0 8F BF BF (U+FFFF)', hex('f0 8f bf bf'), 1],
  ['high surrogate ED A0 80 (U+D800)', hex('ed a0 80'), 1],
  ['low surrogate ED BF BF (U+DFFF)', hex('ed bf bf'), 1],
  ['above U+10FFFF: F4 90 80 80', hex('f4 90 80 80'), 1],
  ['lead byte F5', hex('f5 80 80 80'), 0],
  ['lead byte FF', hex('ff'), 0],
  ['a 2-byte sequence cut by ASCII', hex('c3 41'), 1],
  ['a 3-byte sequence cut by a new lead', hex('e2 82 e2 82 ac'), 2],
  ['a 4-byte sequence with a fifth continuation', hex('f0 9f 98 80 80'), 4],
];

/** Ill-formed only because they stop early: valid prefixes of a code point. */
const TRUNCATED: [string, Buffer][] = [
  ['2-byte lead alone', hex('c3')],
  ['3-byte sequence missing its last byte', hex('e2 82')],
  ['4-byte sequence missing its last byte', hex('f0 9f 98')],
];

/** Long enough for the simdutf path: 40 ASCII bytes in front. */
const LONG_PREFIX = Buffer.from('a'.repeat(40));
const withPrefix = (bytes: Buffer) => Buffer.concat([LONG_PREFIX, bytes]);

/** simdutf (behind buffer.isUtf8) is an independent implementation to compare the JS scanner against. */
const referenceValid = (bytes: Uint8Array) => isUtf8(bytes);

describe('isValidUtf8 (RFC 3629 §4, Unicode Table 3-7)', () => {
  for (const [name, bytes] of VALID) {
    it(`accepts ${name}`, () => {
      expect(isValidUtf8(bytes)).toBe(true);
      expect(isValidUtf8Js(bytes)).toBe(true);
      expect(isValidUtf8(withPrefix(bytes))).toBe(true);
    });
  }
  for (const [name, bytes] of [...INVALID.map(([n, b]) => [n, b] as const), ...TRUNCATED]) {
    it(`rejects ${name}`, () => {
      expect(isValidUtf8(bytes)).toBe(false);
      expect(isValidUtf8Js(bytes)).toBe(false);
      expect(isValidUtf8(withPrefix(bytes))).toBe(false);
      expect(isValidUtf8Js(withPrefix(bytes))).toBe(false);
    });
  }

  it('agrees with simdutf on every 1- and 2-byte input', () => {
    const pair = new Uint8Array(2);
    for (let a = 0; a < 256; a++) {
      expect(isValidUtf8Js(Uint8Array.of(a)), `${a.toString(16)}`).toBe(referenceValid(Uint8Array.of(a)));
      for (let b = 0; b < 256; b++) {
        pair[0] = a;
        pair[1] = b;
        if (isValidUtf8Js(pair) !== referenceValid(pair)) {
          expect.fail(`disagrees on ${a.toString(16)} ${b.toString(16)}`);
        }
      }
    }
  });

  it('agrees with simdutf on every 3-byte input starting with E0-EF or F0-F4', () => {
    const bytes = new Uint8Array(3);
    let checked = 0;
    for (let a = 0xe0; a <= 0xf4; a++) {
      for (let b = 0x70; b <= 0xc0; b++) {
        for (let c = 0x70; c <= 0xc0; c++) {
          bytes[0] = a;
          bytes[1] = b;
          bytes[2] = c;
          checked++;
          if (isValidUtf8Js(bytes) !== referenceValid(bytes)) expect.fail(`disagrees on ${Buffer.from(bytes).toString('hex')}`);
        }
      }
    }
    expect(checked).toBe(21 * 81 * 81);
  });

  it(`switches to buffer.isUtf8 at ${NATIVE_MIN_BYTES} bytes with the same answers`, () => {
    for (const bytes of [Buffer.from('é'.repeat(NATIVE_MIN_BYTES)), Buffer.concat([Buffer.alloc(NATIVE_MIN_BYTES, 0x41), hex('ed a0 80')])]) {
      expect(isValidUtf8(bytes)).toBe(isValidUtf8Js(bytes));
    }
  });
});

describe('Utf8Validator: text split across fragments (RFC 6455 §5.6, §8.1)', () => {
  const fixtures = [
    ...VALID.map(([name, bytes]) => ({ name, bytes, bad: undefined, complete: true })),
    ...INVALID.map(([name, bytes, bad]) => ({ name, bytes, bad, complete: false })),
    ...TRUNCATED.map(([name, bytes]) => ({ name, bytes, bad: undefined, complete: false })),
  ];
  for (const fixture of fixtures) {
    for (const long of [false, true]) {
      const bytes = long ? withPrefix(fixture.bytes) : fixture.bytes;
      const bad = fixture.bad === undefined ? undefined : fixture.bad + (long ? LONG_PREFIX.length : 0);
      it(`${fixture.complete ? 'accepts' : 'rejects'} ${fixture.name}${long ? ' (long)' : ''} at every split, failing at the fragment holding the bad byte`, () => {
        const validator = new Utf8Validator();
        for (let split = 0; split <= bytes.length; split++) {
          const first = validator.write(bytes.subarray(0, split));
          expect(first, `first fragment of split ${split}`).toBe(bad === undefined || bad >= split);
          const second = validator.write(bytes.subarray(split));
          expect(second, `second fragment of split ${split}`).toBe(bad === undefined);
          expect(validator.finish(), `finish after split ${split}`).toBe(fixture.complete);
        }
      });
    }
  }

  it('accepts text fed one byte at a time', () => {
    const text = Buffer.from('κόσμε € 😀 '.repeat(10));
    const validator = new Utf8Validator();
    for (const byte of text) expect(validator.write(Uint8Array.of(byte))).toBe(true);
    expect(validator.finish()).toBe(true);
  });

  it('stays invalid after a bad byte until reset', () => {
    const validator = new Utf8Validator();
    expect(validator.write(hex('ff'))).toBe(false);
    expect(validator.write(Buffer.from('fine'))).toBe(false);
    validator.reset();
    expect(validator.write(Buffer.from('fine'))).toBe(true);
    expect(validator.finish()).toBe(true);
  });

  it('carries a code point across a long fragment into the next', () => {
    const validator = new Utf8Validator();
    expect(validator.write(Buffer.concat([LONG_PREFIX, hex('f0 9f')]))).toBe(true);
    expect(validator.write(Buffer.concat([hex('98 80'), LONG_PREFIX]))).toBe(true);
    expect(validator.finish()).toBe(true);
  });
});
