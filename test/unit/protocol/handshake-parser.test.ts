import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HandshakeError } from '../../../src/protocol/errors.ts';
import { DEFAULT_MAX_HEAD_BYTES, HandshakeParser } from '../../../src/protocol/handshake-parser.ts';
import { validateUpgradeRequest } from '../../../src/protocol/upgrade-request.ts';
import { KEY, head, VALID_LINES, upgrade, everyChunking, parseChunks, parse, refusal, expectRefusal } from '../../helpers/upgrade-requests.ts';

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

  it('lower-cases field names in any case, the usual ones and others of the same length alike', () => {
    const result = parse(
      head([
        'GET / HTTP/1.1',
        'HoSt: a',
        'UPGRADE: websocket',
        'Sec-WebSocket-KEY: k',
        // Same lengths as known names, one character off: their own lower-cased names.
        'Hos^: b',
        'Upgrad_: c',
        'Sec-WebSocket-Ke~: d',
        'ORIGIN: e',
        'Cookie: f',
        'COOKIE: g',
      ]),
    );
    expect([...result.headers]).toEqual([
      ['host', ['a']],
      ['upgrade', ['websocket']],
      ['sec-websocket-key', ['k']],
      ['hos^', ['b']],
      ['upgrad_', ['c']],
      ['sec-websocket-ke~', ['d']],
      ['origin', ['e']],
      ['cookie', ['f', 'g']],
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

  it('every field name is the lower-cased name as sent', () => {
    const knownName = fc.constantFrom('Host', 'upgrade', 'CONNECTION', 'Sec-WebSocket-Key', 'Origin', 'User-Agent', 'Cookie', 'Pragma', 'Accept-Encoding');
    // A known name with each letter's case flipped at random, or a random token.
    const casedName = fc.oneof(
      fc.tuple(knownName, fc.array(fc.boolean(), { minLength: 24, maxLength: 24 })).map(([name, flips]) =>
        [...name].map((c, i) => (flips[i] ? c.toUpperCase() : c.toLowerCase())).join(''),
      ),
      fieldName,
    );
    fc.assert(
      fc.property(fc.array(casedName, { minLength: 1, maxLength: 8 }), (names) => {
        const result = parse(head(['GET / HTTP/1.1', ...names.map((name, i) => `${name}: v${i}`)]));
        const expected = new Map<string, string[]>();
        names.forEach((name, i) => expected.set(name.toLowerCase(), [...(expected.get(name.toLowerCase()) ?? []), `v${i}`]));
        expect(result.headers).toEqual(expected);
      }),
    );
  });

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
