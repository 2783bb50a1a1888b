import { describe, expect, it } from 'vitest';
import { parseExtensions } from '../../../src/protocol/extensions.ts';
import {
  DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS,
  negotiatePerMessageDeflate,
  resolvePerMessageDeflateOptions,
} from '../../../src/protocol/permessage-deflate-negotiation.ts';
import type { PerMessageDeflateOptions } from '../../../src/protocol/permessage-deflate-negotiation.ts';

/** A policy that takes over context both ways with 32 KiB windows: the response shows only what the offer forces. */
const OPEN: PerMessageDeflateOptions = resolvePerMessageDeflateOptions({
  enabled: true,
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
});

/** Negotiates from a raw Sec-WebSocket-Extensions value; the response string or null. */
function respond(header: string, options: PerMessageDeflateOptions = OPEN): string | null {
  return negotiatePerMessageDeflate(parseExtensions([header]), options)?.response ?? null;
}

describe('negotiatePerMessageDeflate: accepting an offer (RFC 7692 §7.1)', () => {
  it('accepts a bare offer with an empty parameter list and full windows both ways', () => {
    const result = negotiatePerMessageDeflate(parseExtensions(['permessage-deflate']), OPEN);
    expect(result).toEqual({
      agreement: {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      },
      response: 'permessage-deflate',
    });
  });

  it.each([
    // §7.1.1.1: an offered server_no_context_takeover is accepted by echoing it.
    ['permessage-deflate; server_no_context_takeover', 'permessage-deflate; server_no_context_takeover'],
    // §7.1.1.2: an offered client_no_context_takeover is echoed, so no window is kept for the client.
    ['permessage-deflate; client_no_context_takeover', 'permessage-deflate; client_no_context_takeover'],
    // §7.1.2.1: server_max_window_bits is answered with the same value ...
    ['permessage-deflate; server_max_window_bits=10', 'permessage-deflate; server_max_window_bits=10'],
    ['permessage-deflate; server_max_window_bits=8', 'permessage-deflate; server_max_window_bits=8'],
    ['permessage-deflate; server_max_window_bits=15', 'permessage-deflate; server_max_window_bits=15'],
    // ... and a quoted token value means the same (RFC 6455 §9.1).
    ['permessage-deflate; server_max_window_bits="12"', 'permessage-deflate; server_max_window_bits=12'],
    // §7.1.2.2: client_max_window_bits without a value lets the server choose; 15 is the default, so nothing to say.
    ['permessage-deflate; client_max_window_bits', 'permessage-deflate'],
    // A value below 15 is announced so the client knows the agreement.
    ['permessage-deflate; client_max_window_bits=9', 'permessage-deflate; client_max_window_bits=9'],
    ['permessage-deflate; client_max_window_bits=15', 'permessage-deflate'],
    [
      'permessage-deflate; client_max_window_bits=10; server_max_window_bits=11; client_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10',
    ],
  ])('offer "%s" -> "%s"', (offer, response) => {
    expect(respond(offer)).toBe(response);
  });

  it('reports the agreed windows and takeover flags for a full offer', () => {
    const result = negotiatePerMessageDeflate(
      parseExtensions(['permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=12']),
      OPEN,
    );
    expect(result?.agreement).toEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 12,
    });
  });
});

describe('negotiatePerMessageDeflate: server policy', () => {
  it('returns null when permessage-deflate is disabled, whatever is offered', () => {
    expect(respond('permessage-deflate', { ...OPEN, enabled: false })).toBeNull();
  });

  it('is disabled by default', () => {
    expect(DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS.enabled).toBe(false);
    expect(respond('permessage-deflate', resolvePerMessageDeflateOptions())).toBeNull();
  });

  it('by default (once enabled) asks for no context takeover both ways, so a connection keeps no window', () => {
    const defaults = resolvePerMessageDeflateOptions({ enabled: true });
    const result = negotiatePerMessageDeflate(parseExtensions(['permessage-deflate; client_max_window_bits']), defaults);
    expect(result?.response).toBe('permessage-deflate; server_no_context_takeover; client_no_context_takeover');
    expect(result?.agreement.serverNoContextTakeover).toBe(true);
    expect(result?.agreement.clientNoContextTakeover).toBe(true);
  });

  it('adds server_no_context_takeover unasked (§7.1.1.1 "MAY include")', () => {
    expect(respond('permessage-deflate', { ...OPEN, serverNoContextTakeover: true })).toBe(
      'permessage-deflate; server_no_context_takeover',
    );
  });

  it('adds client_no_context_takeover unasked (§7.1.1.2 "MAY include")', () => {
    expect(respond('permessage-deflate', { ...OPEN, clientNoContextTakeover: true })).toBe(
      'permessage-deflate; client_no_context_takeover',
    );
  });

  it('announces its own smaller server window even when none was offered (§7.1.2.1 "MAY include")', () => {
    const result = negotiatePerMessageDeflate(parseExtensions(['permessage-deflate']), { ...OPEN, serverMaxWindowBits: 10 });
    expect(result?.response).toBe('permessage-deflate; server_max_window_bits=10');
    expect(result?.agreement.serverMaxWindowBits).toBe(10);
  });

  it('answers an offered server window with the smaller of the offer and its own limit', () => {
    expect(respond('permessage-deflate; server_max_window_bits=12', { ...OPEN, serverMaxWindowBits: 10 })).toBe(
      'permessage-deflate; server_max_window_bits=10',
    );
    expect(respond('permessage-deflate; server_max_window_bits=9', { ...OPEN, serverMaxWindowBits: 10 })).toBe(
      'permessage-deflate; server_max_window_bits=9',
    );
  });

  it('limits the client window when the client offered client_max_window_bits, never above its value', () => {
    expect(respond('permessage-deflate; client_max_window_bits', { ...OPEN, clientMaxWindowBits: 10 })).toBe(
      'permessage-deflate; client_max_window_bits=10',
    );
    expect(respond('permessage-deflate; client_max_window_bits=12', { ...OPEN, clientMaxWindowBits: 10 })).toBe(
      'permessage-deflate; client_max_window_bits=10',
    );
    expect(respond('permessage-deflate; client_max_window_bits=9', { ...OPEN, clientMaxWindowBits: 10 })).toBe(
      'permessage-deflate; client_max_window_bits=9',
    );
  });

  it('never answers with client_max_window_bits the client did not offer (§7.1.2.2 MUST NOT); forbids takeover instead', () => {
    const result = negotiatePerMessageDeflate(parseExtensions(['permessage-deflate']), { ...OPEN, clientMaxWindowBits: 10 });
    expect(result?.response).toBe('permessage-deflate; client_no_context_takeover');
    expect(result?.agreement.clientMaxWindowBits).toBe(15);
    expect(result?.agreement.clientNoContextTakeover).toBe(true);
  });
});

describe('negotiatePerMessageDeflate: invalid offers are declined (RFC 7692 §7)', () => {
  it.each([
    ['an unknown parameter', 'permessage-deflate; foo'],
    ['an unknown parameter with a value', 'permessage-deflate; foo=1'],
    ['a parameter name in another case', 'permessage-deflate; Server_No_Context_Takeover'],
    ['server_no_context_takeover with a value', 'permessage-deflate; server_no_context_takeover=1'],
    ['client_no_context_takeover with a value', 'permessage-deflate; client_no_context_takeover=true'],
    ['server_max_window_bits without a value', 'permessage-deflate; server_max_window_bits'],
    ['server_max_window_bits=16', 'permessage-deflate; server_max_window_bits=16'],
    ['server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=7'],
    ['server_max_window_bits=0', 'permessage-deflate; server_max_window_bits=0'],
    ['server_max_window_bits with a leading zero', 'permessage-deflate; server_max_window_bits=09'],
    ['server_max_window_bits with a sign', 'permessage-deflate; server_max_window_bits=+9'],
    ['server_max_window_bits not a number', 'permessage-deflate; server_max_window_bits=ten'],
    ['server_max_window_bits in hex', 'permessage-deflate; server_max_window_bits=0xf'],
    ['client_max_window_bits=16', 'permessage-deflate; client_max_window_bits=16'],
    ['client_max_window_bits=1', 'permessage-deflate; client_max_window_bits=1'],
    ['client_max_window_bits=100', 'permessage-deflate; client_max_window_bits=100'],
    ['client_max_window_bits with a leading zero', 'permessage-deflate; client_max_window_bits=010'],
    ['client_max_window_bits with a fraction', 'permessage-deflate; client_max_window_bits=10.5'],
  ])('declines an offer with %s (no extension in the 101)', (_label, header) => {
    expect(respond(header)).toBeNull();
  });

  it('ignores other extensions and names that only resemble permessage-deflate', () => {
    expect(respond('x-webkit-deflate-frame, deflate-frame, permessage-deflate-x, Permessage-Deflate')).toBeNull();
  });

  it('returns null for an empty offer list', () => {
    expect(negotiatePerMessageDeflate([], OPEN)).toBeNull();
  });
});

describe('negotiatePerMessageDeflate: several offers (RFC 7692 §5)', () => {
  it('accepts the first offer in the client order, not the "best" one', () => {
    expect(respond('permessage-deflate; client_max_window_bits=10, permessage-deflate')).toBe(
      'permessage-deflate; client_max_window_bits=10',
    );
    expect(respond('permessage-deflate, permessage-deflate; client_max_window_bits=10')).toBe('permessage-deflate');
  });

  it('falls back to the next offer when the first is invalid', () => {
    expect(respond('permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=12')).toBe(
      'permessage-deflate; server_max_window_bits=12',
    );
    expect(respond('permessage-deflate; x-future-param, permessage-deflate; client_no_context_takeover')).toBe(
      'permessage-deflate; client_no_context_takeover',
    );
  });

  it('skips other extensions before the permessage-deflate offer', () => {
    expect(respond('x-custom; a=1, permessage-deflate; server_no_context_takeover, x-other')).toBe(
      'permessage-deflate; server_no_context_takeover',
    );
  });

  it('declines when every offer is invalid', () => {
    expect(respond('permessage-deflate; a, permessage-deflate; server_max_window_bits=99')).toBeNull();
  });

  it('reads offers split over several header lines as one list (RFC 6455 §11.3.2)', () => {
    const offers = parseExtensions(['permessage-deflate; bogus', 'permessage-deflate; server_max_window_bits=11']);
    expect(negotiatePerMessageDeflate(offers, OPEN)?.response).toBe('permessage-deflate; server_max_window_bits=11');
  });
});

describe('resolvePerMessageDeflateOptions', () => {
  it('fills in the defaults and keeps what is given', () => {
    expect(resolvePerMessageDeflateOptions({ enabled: true, level: 6 })).toEqual({
      ...DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS,
      enabled: true,
      level: 6,
    });
  });

  it('ignores keys given as undefined', () => {
    expect(resolvePerMessageDeflateOptions({ level: undefined })).toEqual({ ...DEFAULT_PER_MESSAGE_DEFLATE_OPTIONS });
  });

  it.each([
    ['serverMaxWindowBits', 16],
    ['serverMaxWindowBits', 7],
    ['clientMaxWindowBits', 16],
    ['clientMaxWindowBits', 9.5],
    ['thresholdBytes', -1],
    ['level', 10],
    ['level', -2],
    ['memLevel', 0],
    ['memLevel', 10],
  ] as const)('throws RangeError for %s = %s', (key, value) => {
    expect(() => resolvePerMessageDeflateOptions({ [key]: value })).toThrow(RangeError);
  });
});
