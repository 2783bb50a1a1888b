/**
 * Property tests (fast-check) for UTF-8 validation: the JS scanner, the
 * one-shot validator and the streaming validator at any split all agree with
 * simdutf (buffer.isUtf8), an independent implementation.
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidUtf8, isValidUtf8Js, Utf8Validator } from '../../src/protocol/utf8.ts';

/** Bytes biased towards UTF-8 structure: valid text with random bytes spliced in. */
const utf8ish = fc.oneof(
  fc.uint8Array({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => new Uint8Array(Buffer.from(s))),
  fc
    .tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0x80, max: 0xff })), { maxLength: 3 }))
    .map(([s, edits]) => {
      const bytes = new Uint8Array(Buffer.from(s));
      for (const [at, value] of edits) bytes[at % bytes.length] = value;
      return bytes;
    }),
);

describe('UTF-8 validation properties', () => {
  it('agrees with simdutf on any bytes, whole and split into fragments anywhere', () => {
    fc.assert(
      fc.property(
        utf8ish.chain((bytes) => fc.tuple(fc.constant(bytes), fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 6 }))),
        ([bytes, cuts]) => {
          const expected = isUtf8(bytes);
          expect(isValidUtf8Js(bytes)).toBe(expected);
          expect(isValidUtf8(bytes)).toBe(expected);
          const validator = new Utf8Validator();
          let ok = true;
          let start = 0;
          for (const cut of [...cuts.sort((a, b) => a - b), bytes.length]) {
            ok = validator.write(bytes.subarray(start, cut)) && ok;
            start = cut;
          }
          expect(ok && validator.finish()).toBe(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
