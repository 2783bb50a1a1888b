import { describe, expect, it } from 'vitest';
import { EnvelopeError } from '../../../src/codec/envelope.ts';
import { findCodec, jsonCodec, msgpackCodec } from '../../../src/codec/index.ts';
import { decodeJson, encodeJson, encodeJsonFrame } from '../../../src/codec/json.ts';

describe('JSON twin (spec §2)', () => {
  it('encodes the same arrays as text', () => {
    expect(encodeJson([1 as never, 7, 'add', [1, 2]] as never)).toBe('[1,7,"add",[1,2]]');
    expect(encodeJson([3, 7, { code: 'TIMEOUT', message: 'late' }])).toBe('[3,7,{"code":"TIMEOUT","message":"late"}]');
  });

  it('encodes replies as the reply array, undefined data as null', () => {
    expect(jsonCodec.encodeReply(7, 3)).toBe('[2,7,3]');
    expect(jsonCodec.encodeReply(8, undefined)).toBe(encodeJson([2, 8, undefined]));
    expect(jsonCodec.encodeReply(8, undefined)).toBe('[2,8,null]');
  });

  it('writes undefined data as null, keeping the element', () => {
    expect(encodeJson([0, 'x', undefined])).toBe('[0,"x",null]');
  });

  it('decodes text and UTF-8 bytes alike', () => {
    expect(decodeJson('[0,"é",null]')).toEqual([0, 'é', null]);
    expect(decodeJson(Buffer.from('[0,"é",null]'))).toEqual([0, 'é', null]);
  });

  it.each([
    ['not JSON', '[0,"x"'],
    ['two values', '[0] [1]'],
    ['empty text', ''],
  ])('refuses %s with SHOAL_ERR_NOT_DECODABLE (1007)', (_what, text) => {
    let error: unknown;
    try {
      decodeJson(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(EnvelopeError);
    expect((error as EnvelopeError).code).toBe('SHOAL_ERR_NOT_DECODABLE');
    expect((error as EnvelopeError).closeCode).toBe(1007);
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(() => decodeJson(Buffer.from([0x5b, 0xff, 0x5d]))).toThrow(EnvelopeError);
  });

  it('frames as a final text frame (opcode 0x1)', () => {
    const frame = Buffer.from(encodeJsonFrame([4, 't', 'hi']));
    const text = '[4,"t","hi"]';
    expect(frame[0]).toBe(0x81);
    expect(frame[1]).toBe(text.length);
    expect(frame.subarray(2).toString()).toBe(text);
  });

  it('frames a long publication with a 16-bit length', () => {
    const frame = Buffer.from(encodeJsonFrame([4, 't', 'é'.repeat(100)]));
    const payload = Buffer.from(JSON.stringify([4, 't', 'é'.repeat(100)]));
    expect(frame[1]).toBe(126);
    expect(frame.readUInt16BE(2)).toBe(payload.length);
    expect(frame.subarray(4).equals(payload)).toBe(true);
  });
});

describe('findCodec', () => {
  it('finds both Shoal subprotocols by name and nothing else', () => {
    expect(findCodec('v1.msgpack.shoal.dev')).toBe(msgpackCodec);
    expect(findCodec('v1.json.shoal.dev')).toBe(jsonCodec);
    expect(findCodec('chat')).toBeUndefined();
    expect(findCodec(null)).toBeUndefined();
  });
});
