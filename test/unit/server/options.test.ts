import { describe, expect, it } from 'vitest';
import { resolvePerMessageDeflate, resolveServerOptions, type PerMessageDeflateSetting } from '../../../src/server/options.ts';
import { DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS } from '../../../src/protocol/permessage-deflate-negotiation.ts';

describe('perMessageDeflate', () => {
  it('is off by default, like ws and uWebSockets.js', () => {
    expect(resolveServerOptions({ workers: 1 }).perMessageDeflate).toEqual(DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS);
    expect(DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS.enabled).toBe(false);
  });

  it('true turns it on with the default policy; false keeps it off', () => {
    expect(resolveServerOptions({ workers: 1, perMessageDeflate: true }).perMessageDeflate).toEqual({ ...DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS, enabled: true });
    expect(resolveServerOptions({ workers: 1, perMessageDeflate: false }).perMessageDeflate).toMatchObject({ enabled: false });
  });

  it('an object turns it on with its values over the defaults, unless it says enabled: false', () => {
    expect(resolvePerMessageDeflate({ serverMaxWindowBits: 10, serverNoContextTakeover: false })).toEqual({
      ...DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS,
      enabled: true,
      serverMaxWindowBits: 10,
      serverNoContextTakeover: false,
    });
    expect(resolvePerMessageDeflate({ enabled: false, level: 6 })).toMatchObject({ enabled: false, level: 6 });
    expect(resolvePerMessageDeflate({ enabled: undefined, thresholdBytes: 0 })).toMatchObject({ enabled: true, thresholdBytes: 0 });
  });

  it('resolving a resolved policy gives the same policy', () => {
    const resolved = resolvePerMessageDeflate({ level: 9, clientMaxWindowBits: 8 });
    expect(resolvePerMessageDeflate(resolved)).toEqual(resolved);
    const off = resolvePerMessageDeflate(false);
    expect(resolvePerMessageDeflate(off)).toEqual(off);
  });

  it('rejects out-of-range values and settings of the wrong type with a RangeError naming them', () => {
    expect(() => resolveServerOptions({ perMessageDeflate: { level: 12 } })).toThrow(/level must be an integer from 0 to 9, got 12/);
    expect(() => resolveServerOptions({ perMessageDeflate: { serverMaxWindowBits: 7 } })).toThrow(RangeError);
    expect(() => resolvePerMessageDeflate('yes' as unknown as PerMessageDeflateSetting)).toThrow(/perMessageDeflate must be a boolean or an options object/);
    expect(() => resolvePerMessageDeflate(null as unknown as PerMessageDeflateSetting)).toThrow(RangeError);
  });
});
