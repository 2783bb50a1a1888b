/**
 * PROXY protocol v1 and v2 headers (proxy-header.ts), each fed at every
 * chunking (whole, byte by byte, every two-piece split, random splits): the
 * same header and the same following bytes, or the same error, whatever
 * the boundaries.
 */
import { describe, expect, it } from 'vitest';
import { PROXY_V2_SIGNATURE, ProxyHeaderError, ProxyHeaderParser, type ProxyHeader } from '../../../src/protocol/proxy-header.ts';
import { chunkings } from '../../helpers/chunkings.ts';

const AFTER = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');

/** Feeds `chunks` until a header comes out; returns it with every byte after it. */
function parseChunks(chunks: Buffer[], maxBytes?: number): { header: ProxyHeader; rest: Buffer } {
  const parser = new ProxyHeaderParser(maxBytes);
  for (let i = 0; i < chunks.length; i++) {
    const header = parser.push(chunks[i]);
    if (header !== null) return { header, rest: Buffer.concat([parser.rest, ...chunks.slice(i + 1)]) };
  }
  throw new Error('incomplete header');
}

function expectEverywhere(bytes: Buffer, expected: Partial<ProxyHeader>): void {
  for (const { name, chunks } of chunkings(Buffer.concat([bytes, AFTER]))) {
    const { header, rest } = parseChunks(chunks);
    expect(header, name).toMatchObject(expected);
    expect(rest.equals(AFTER), name).toBe(true);
  }
}

function expectErrorEverywhere(bytes: Buffer, message: RegExp, maxBytes?: number): void {
  for (const { name, chunks } of chunkings(bytes)) {
    expect(() => parseChunks(chunks, maxBytes), name).toThrow(message);
  }
}

function v2(command: number, family: number, addresses: Buffer, tlvs: Buffer = Buffer.alloc(0)): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | command;
  fixed[1] = family;
  fixed.writeUInt16BE(addresses.length + tlvs.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, addresses, tlvs]);
}

function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

const TCP4_ADDRESSES = Buffer.from([192, 0, 2, 1, 198, 51, 100, 7, 0xc8, 0x22, 0x01, 0xbb]);
const TCP6_ADDRESSES = Buffer.concat([
  Buffer.from('20010db8000000000000000000000001', 'hex'),
  Buffer.from('20010db8000000000000000000000002', 'hex'),
  Buffer.from([0x30, 0x39, 0x00, 0x50]),
]);

describe('PROXY protocol v1', () => {
  it('reads TCP4 and TCP6 headers and hands on the bytes after them', () => {
    expectEverywhere(Buffer.from('PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n'), {
      version: 1,
      sourceAddress: '192.0.2.1',
      sourcePort: 51234,
      destinationAddress: '198.51.100.7',
      destinationPort: 443,
    });
    expectEverywhere(Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 12345 80\r\n'), { sourceAddress: '2001:db8::1', sourcePort: 12345 });
  });

  it('UNKNOWN keeps the connection address', () => {
    expectEverywhere(Buffer.from('PROXY UNKNOWN\r\n'), { version: 1, sourceAddress: null });
    expectEverywhere(Buffer.from('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n'), { sourceAddress: null });
  });

  it.each([
    ['no header at all', 'GET / HTTP/1.1\r\n\r\n', /does not start with a PROXY header/],
    ['lower case', 'proxy TCP4 192.0.2.1 198.51.100.7 1 2\r\n', /does not start with a PROXY header/],
    ['a bare LF', 'PROXY TCP4 192.0.2.1 198.51.100.7 1 2\n', /printable ASCII/],
    ['CR without LF', 'PROXY TCP4 192.0.2.1 198.51.100.7 1 2\rX', /CRLF/],
    ['an unknown protocol', 'PROXY UDP4 192.0.2.1 198.51.100.7 1 2\r\n', /TCP4, TCP6 or UNKNOWN/],
    ['an IPv6 address in TCP4', 'PROXY TCP4 ::1 198.51.100.7 1 2\r\n', /not IPv4/],
    ['a bad address', 'PROXY TCP4 192.0.2.300 198.51.100.7 1 2\r\n', /not IPv4/],
    ['a port over 65535', 'PROXY TCP4 192.0.2.1 198.51.100.7 65536 2\r\n', /invalid port/],
    ['a port with a leading zero', 'PROXY TCP4 192.0.2.1 198.51.100.7 080 2\r\n', /invalid port/],
    ['double spaces', 'PROXY TCP4  192.0.2.1 198.51.100.7 1 2\r\n', /must be "PROXY/],
    ['a missing port', 'PROXY TCP4 192.0.2.1 198.51.100.7 1\r\n', /must be "PROXY/],
    ['no CRLF within 107 bytes', `PROXY TCP4 ${'1'.repeat(120)}`, /without CRLF in its first 107 bytes/],
  ])('refuses %s', (_name, text, message) => {
    expectErrorEverywhere(Buffer.from(text, 'latin1'), message);
  });

  it('rethrows the same error on later pushes', () => {
    const parser = new ProxyHeaderParser();
    expect(() => parser.push(Buffer.from('HELLO\r\n'))).toThrow(ProxyHeaderError);
    expect(() => parser.push(Buffer.from('PROXY UNKNOWN\r\n'))).toThrow(ProxyHeaderError);
  });
});

describe('PROXY protocol v2', () => {
  it('reads TCP over IPv4 and IPv6', () => {
    expectEverywhere(v2(1, 0x11, TCP4_ADDRESSES), { version: 2, sourceAddress: '192.0.2.1', sourcePort: 51234, destinationAddress: '198.51.100.7', destinationPort: 443 });
    expectEverywhere(v2(1, 0x21, TCP6_ADDRESSES), { version: 2, sourceAddress: '2001:db8::1', sourcePort: 12345, destinationAddress: '2001:db8::2', destinationPort: 80 });
  });

  it('skips TLVs (ALPN, authority, unique id, SSL, NOOP padding, custom)', () => {
    const tlvs = Buffer.concat([
      tlv(0x01, Buffer.from('http/1.1')),
      tlv(0x02, Buffer.from('chat.example.com')),
      tlv(0x05, Buffer.alloc(32, 7)),
      tlv(0x20, Buffer.from([0x07, 0, 0, 0, 0, ...tlv(0x21, Buffer.from('TLSv1.3'))])),
      tlv(0x04, Buffer.alloc(0)),
      tlv(0xe0, Buffer.alloc(300, 1)),
    ]);
    expectEverywhere(v2(1, 0x11, TCP4_ADDRESSES, tlvs), { sourceAddress: '192.0.2.1', sourcePort: 51234 });
  });

  it('LOCAL, UNSPEC and UNIX keep the connection address', () => {
    expectEverywhere(v2(0, 0x11, TCP4_ADDRESSES), { version: 2, sourceAddress: null });
    expectEverywhere(v2(0, 0x00, Buffer.alloc(0)), { sourceAddress: null });
    expectEverywhere(v2(1, 0x00, Buffer.alloc(0)), { sourceAddress: null });
    expectEverywhere(v2(1, 0x31, Buffer.alloc(216, 0x2f)), { sourceAddress: null });
  });

  it.each([
    ['a broken signature', Buffer.concat([PROXY_V2_SIGNATURE.subarray(0, 11), Buffer.from([0x0b, 0x21, 0x11, 0, 12]), TCP4_ADDRESSES]), /does not start with a PROXY header/],
    ['version 1 in the v2 format', Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x11, 0x11, 0, 12]), TCP4_ADDRESSES]), /version 1/],
    ['an unknown command', Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x22, 0x11, 0, 12]), TCP4_ADDRESSES]), /unknown command 2/],
    ['UDP', v2(1, 0x12, TCP4_ADDRESSES), /unsupported family\/transport 0x12/],
    ['an unknown family', v2(1, 0x41, TCP4_ADDRESSES), /unsupported family/],
    ['a TCP4 block too short', v2(1, 0x11, TCP4_ADDRESSES.subarray(0, 8)), /shorter than its addresses/],
    ['a TCP6 block too short', v2(1, 0x21, TCP4_ADDRESSES), /shorter than its addresses/],
    ['a truncated TLV', v2(1, 0x11, TCP4_ADDRESSES, Buffer.from([0x01, 0x00])), /truncated TLV/],
    ['a TLV longer than the header', v2(1, 0x11, TCP4_ADDRESSES, Buffer.from([0x01, 0x00, 0x09, 0x61])), /TLV longer than the header/],
  ])('refuses %s', (_name, bytes, message) => {
    expectErrorEverywhere(bytes, message);
  });

  it('refuses a header longer than the limit before reading it', () => {
    const header = v2(1, 0x11, TCP4_ADDRESSES, tlv(0xe0, Buffer.alloc(5000)));
    expectErrorEverywhere(header, /over the limit of 4096/);
    // At exactly the limit it is read.
    const fits = v2(1, 0x11, TCP4_ADDRESSES, tlv(0xe0, Buffer.alloc(4096 - 16 - 12 - 3)));
    expect(parseChunks([fits, AFTER]).header.sourceAddress).toBe('192.0.2.1');
  });

  it('holds no more than the header while it is incomplete', () => {
    const parser = new ProxyHeaderParser();
    const header = v2(1, 0x11, TCP4_ADDRESSES);
    expect(parser.push(header.subarray(0, 20))).toBeNull();
    expect(parser.push(Buffer.concat([header.subarray(20), AFTER]))?.sourceAddress).toBe('192.0.2.1');
    expect(parser.rest.equals(AFTER)).toBe(true);
    expect(() => parser.push(AFTER)).toThrow(/complete/);
  });
});
