import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../../src/protocol/constants.ts';
import { HandshakeError, ProtocolError } from '../../../src/protocol/errors.ts';

describe('error catalogue', () => {
  it('ProtocolError carries its stable code, the close code and the reason', () => {
    const error = new ProtocolError('WS_ERR_INVALID_UTF8', 'invalid UTF-8 in text message');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ProtocolError');
    expect(error.code).toBe('WS_ERR_INVALID_UTF8');
    expect(error.closeCode).toBe(CloseCode.INVALID_PAYLOAD);
    expect(error.message).toBe('invalid UTF-8 in text message');
  });

  it('HandshakeError carries its stable code, the catalogue status or an explicit one', () => {
    const error = new HandshakeError('HS_ERR_UNSUPPORTED_VERSION', 'unsupported Sec-WebSocket-Version');
    expect(error.name).toBe('HandshakeError');
    expect(error.status).toBe(426);
    expect(new HandshakeError('HS_ERR_BAD_REQUEST', 'no', 418).status).toBe(418);
  });

  it('errors caused by a peer carry no stack frames (they are not bugs; capturing costs 6-10 us)', () => {
    const frames = (error: Error) => (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at ')).length;
    expect(frames(new ProtocolError('WS_ERR_RESERVED_BITS', 'RSV2 and RSV3 must be clear'))).toBe(0);
    expect(frames(new HandshakeError('HS_ERR_INVALID_KEY', 'bad key'))).toBe(0);
    // The global limit is restored: other errors keep their stacks.
    expect(frames(new Error('a bug'))).toBeGreaterThan(0);
  });
});
