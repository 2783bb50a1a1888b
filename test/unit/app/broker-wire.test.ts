/**
 * The broker's publication messages (app/broker-wire.ts): one format, a
 * batch of one or more publications, encodes and decodes to the same
 * publications in order (empty frames and large lengths included), a single
 * publication is a batch of one, a node's own messages are recognised, and
 * damage (another version, the unreleased version-1 single format included)
 * is reported after what came before it.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Decoded, ENTRY_HEADER, VERSION, decodePublications, encodePublications, messageLength } from '../../../src/app/broker-wire.ts';

const tag = Buffer.from('node-a');
const other = Buffer.from('node-b');

function decodeAll(message: Buffer, ownTag: Buffer): { result: Decoded; publications: [number, string][] } {
  const publications: [number, string][] = [];
  const result = decodePublications(message, ownTag, (form, frame) => publications.push([form, Buffer.from(frame).toString('latin1')]));
  return { result, publications };
}

describe('broker publication messages', () => {
  it('decode a batch to its publications in order, with their forms, an empty frame and a frame over 64 KiB included', () => {
    const big = 'z'.repeat(70_000);
    const frames = [Buffer.from('one'), Buffer.alloc(0), Buffer.from(big), Buffer.from('four')];
    const forms = [0, 1, 1, 0];
    const bytes = frames.reduce((sum, frame) => sum + frame.length, 0);
    const message = encodePublications(tag, [9, ...forms], [Buffer.from('skipped'), ...frames], 1, 5, bytes);
    expect(message[0]).toBe(VERSION);
    expect(message.length).toBe(messageLength(tag, 4, bytes));
    expect(decodeAll(message, other)).toEqual({ result: Decoded.DELIVERED, publications: [[0, 'one'], [1, ''], [1, big], [0, 'four']] });
  });

  it('encode a single publication as a batch of one: the same version, one entry header, of the announced length', () => {
    const message = encodePublications(tag, [1], [Buffer.from('solo')], 0, 1, 4);
    expect(message[0]).toBe(VERSION);
    expect(message.length).toBe(messageLength(tag, 1, 4));
    expect(message.length).toBe(2 + tag.length + ENTRY_HEADER + 4);
    expect(message.readUInt32BE(2 + tag.length + 1)).toBe(4);
    expect(decodeAll(message, other)).toEqual({ result: Decoded.DELIVERED, publications: [[1, 'solo']] });
  });

  it('recognise its own node, for one publication or several, and hand nothing over', () => {
    expect(decodeAll(encodePublications(tag, [0], [Buffer.from('x')], 0, 1, 1), tag)).toEqual({ result: Decoded.OWN, publications: [] });
    expect(decodeAll(encodePublications(tag, [0, 0], [Buffer.from('x'), Buffer.from('y')], 0, 2, 2), tag)).toEqual({ result: Decoded.OWN, publications: [] });
  });

  it('report the unreleased version-1 single format as malformed, with nothing handed over', () => {
    // [1] [form] [tag length] [tag] [frame]: what development builds before batches sent.
    const versionOne = Buffer.concat([Buffer.from([1, 0, other.length]), other, Buffer.from('old frame')]);
    expect(decodeAll(versionOne, tag)).toEqual({ result: Decoded.MALFORMED, publications: [] });
  });

  it('report an unknown version, an empty message, a short tag, no publication and a truncated batch as malformed, after delivering what came before', () => {
    expect(decodeAll(Buffer.alloc(0), other).result).toBe(Decoded.MALFORMED);
    expect(decodeAll(Buffer.from([3, 0, 0]), other).result).toBe(Decoded.MALFORMED);
    expect(decodeAll(Buffer.from([VERSION]), other).result).toBe(Decoded.MALFORMED);
    expect(decodeAll(Buffer.from([VERSION, 9, 1, 2]), other).result).toBe(Decoded.MALFORMED);
    expect(decodeAll(Buffer.concat([Buffer.from([VERSION, other.length]), other]), tag).result).toBe(Decoded.MALFORMED);
    const whole = encodePublications(tag, [0, 1], [Buffer.from('kept'), Buffer.from('lost')], 0, 2, 8);
    expect(decodeAll(whole.subarray(0, whole.length - 1), other)).toEqual({ result: Decoded.MALFORMED, publications: [[0, 'kept']] });
  });
});
