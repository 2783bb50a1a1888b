/** The allowed-origins check (origin-policy.ts). */
import { describe, expect, it } from 'vitest';
import { normalizeOriginPattern, OriginPolicy } from '../../../src/protocol/origin-policy.ts';

describe('OriginPolicy', () => {
  const policy = new OriginPolicy(['https://chat.example.com', 'https://*.example.org', 'http://localhost:8080', 'https://EXAMPLE.net:443']);

  it.each([
    ['https://chat.example.com', true],
    ['HTTPS://Chat.Example.COM', true],
    ['https://chat.example.com:443', true],
    ['https://chat.example.com:8443', false],
    ['http://chat.example.com', false],
    ['https://evil.example.com', false],
    ['https://chat.example.com.evil.net', false],
    ['https://a.example.org', true],
    ['https://a.b.example.org', true],
    ['https://example.org', false],
    ['https://aexample.org', false],
    ['http://a.example.org', false],
    ['http://localhost:8080', true],
    ['http://localhost', false],
    ['https://example.net', true],
    ['null', false],
    ['https://*.example.org', false],
    ['https://chat.example.com/path', false],
    ['', false],
  ])('%s -> %s', (origin, allowed) => {
    expect(policy.allows(origin)).toBe(allowed);
  });

  it('allows a request without an Origin header (not a browser)', () => {
    expect(policy.allows(null)).toBe(true);
  });

  it('normalizes entries and refuses what is not an origin', () => {
    expect(normalizeOriginPattern('HTTPS://Chat.Example.com:443')).toBe('https://chat.example.com');
    expect(normalizeOriginPattern('http://[::1]:8080')).toBe('http://[::1]:8080');
    for (const bad of ['chat.example.com', 'https://chat.example.com/', 'https://*example.com', 'https://a.*.example.com', 'https://x:99999', '*', 'https://-a.example.com']) {
      expect(() => normalizeOriginPattern(bad), bad).toThrow(RangeError);
    }
  });
});
