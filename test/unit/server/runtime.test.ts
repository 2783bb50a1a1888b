import { describe, expect, it } from 'vitest';
import { assertSupportedRuntime, isSupportedNode, runtimeRefusal } from '../../../src/server/runtime.ts';

describe('which Node.js runs Shoal', () => {
  it.each([
    ['24.20.0', true],
    ['24.21.3', true],
    ['25.9.0', false],
    ['26.5.9', false],
    ['26.6.0', true],
    ['27.0.0', true],
    ['24.19.9', false],
    ['22.22.0', false],
    ['20.20.2', false],
  ])('%s -> %s', (version, supported) => {
    expect(isSupportedNode(version)).toBe(supported);
  });

  it('refuses in one line that names the versions that work and how to get one, with no in-repository advice', () => {
    const line = runtimeRefusal('20.20.2');
    expect(line).not.toMatch(/\n/);
    expect(line).toMatch(/Node\.js 20\.20\.2/);
    expect(line).toMatch(/>= 24\.20 .*>= 26\.6/);
    expect(line).toMatch(/npx -p node@24/);
    expect(line).not.toMatch(/npm start|package\.json|repository/);
    expect(() => assertSupportedRuntime('26.0.0')).toThrow(runtimeRefusal('26.0.0'));
    expect(() => assertSupportedRuntime('24.21.0')).not.toThrow();
  });
});
