/** --trust-proxy: Forwarded / X-Forwarded-For from trusted peers only, right-most untrusted hop (trusted-proxies.ts, protocol/forwarded.ts). */
import { describe, expect, it } from 'vitest';
import { forwardedHops } from '../../../src/protocol/forwarded.ts';
import { parseAddressRange, TrustedProxies } from '../../../src/transport/trusted-proxies.ts';

const headers = (entries: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(entries));

describe('forwardedHops', () => {
  it('reads the for= of every Forwarded element across lines (RFC 7239 §4, §6)', () => {
    expect(
      forwardedHops(headers({ forwarded: ['for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"', 'for=unknown, proto=https, for="198.51.100.1:80"'] })),
    ).toEqual(['192.0.2.60', '2001:db8:cafe::17', null, null, '198.51.100.1']);
  });

  it('reads X-Forwarded-For, with ports and brackets some proxies add', () => {
    expect(forwardedHops(headers({ 'x-forwarded-for': ['203.0.113.7, 10.0.0.2:5555', '[::1]:80, garbage'] }))).toEqual(['203.0.113.7', '10.0.0.2', '::1', null]);
  });

  it('prefers Forwarded, and is null without either header', () => {
    expect(forwardedHops(headers({ forwarded: ['for=192.0.2.1'], 'x-forwarded-for': ['192.0.2.2'] }))).toEqual(['192.0.2.1']);
    expect(forwardedHops(headers({}))).toBeNull();
  });
});

describe('TrustedProxies', () => {
  const proxies = new TrustedProxies(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);

  it('ignores the headers of an untrusted peer', () => {
    expect(proxies.clientAddress('203.0.113.9', headers({ 'x-forwarded-for': ['1.2.3.4'] }))).toBe('203.0.113.9');
  });

  it('takes the right-most untrusted hop from a trusted peer', () => {
    const h = headers({ 'x-forwarded-for': ['6.6.6.6, 198.51.100.4, 10.1.1.1'] });
    expect(proxies.clientAddress('127.0.0.1', h)).toBe('198.51.100.4');
    expect(proxies.clientAddress('::ffff:127.0.0.1', h)).toBe('198.51.100.4');
    expect(proxies.clientAddress('fd12::1', headers({ forwarded: ['for="[2001:db8::5]"'] }))).toBe('2001:db8::5');
  });

  it('when every hop is trusted the left-most is the client; a hop that is no address stops the walk', () => {
    expect(proxies.clientAddress('127.0.0.1', headers({ 'x-forwarded-for': ['10.9.9.9, 10.1.1.1'] }))).toBe('10.9.9.9');
    expect(proxies.clientAddress('127.0.0.1', headers({ forwarded: ['for=198.51.100.1, for=unknown, for=10.0.0.3'] }))).toBe('10.0.0.3');
    expect(proxies.clientAddress('127.0.0.1', headers({}))).toBe('127.0.0.1');
  });

  it('trusts nobody when empty', () => {
    const none = new TrustedProxies([]);
    expect(none.empty).toBe(true);
    expect(none.clientAddress('127.0.0.1', headers({ 'x-forwarded-for': ['1.2.3.4'] }))).toBe('127.0.0.1');
  });

  it('checks entries', () => {
    expect(parseAddressRange('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseAddressRange('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', 'localhost', '10.0.0.0/', '::1/129', '']) expect(() => parseAddressRange(bad), bad).toThrow(RangeError);
  });
});
