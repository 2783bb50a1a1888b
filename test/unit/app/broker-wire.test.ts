/**
 * The broker's publication messages (app/broker-wire.ts): a batch encodes
 * and decodes to the same publications in order (empty frames and large
 * lengths included), a single publication is version 1, a node's own
 * messages are recognised, and damage is reported after what came before it.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { BATCH_VERSION, Decoded, SINGLE_VERSION, decodePublications, encodeBatch, encodeSingle, singleLength } from '../../../src/app/broker-wire.ts';

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
    const message = encodeBatch(tag, [9, ...forms], [Buffer.from('skipped'), ...frames], 1, 5, bytes);
    expect(message[0]).toBe(BATCH_VERSION);
    expect(decodeAll(message, other)).toEqual({ result: Decoded.DELIVERED, publications: [[0, 'one'], [1, ''], [1, big], [0, 'four']] });
  });

  it('encode a single publication as version 1 of the announced length', () => {
    const message = encodeSingle(tag, 1, Buffer.from('solo'));
    expect(message[0]).toBe(SINGLE_VERSION);
    expect(message.length).toBe(singleLength(tag, Buffer.from('solo')));
    expect(decodeAll(message, other)).toEqual({ result: Decoded.DELIVERED, publications: [[1, 'solo']] });
  });

  it('recognise its own node in either version and hand nothing over', () => {
    expect(decodeAll(encodeSingle(tag, 0, Buffer.from('x')), tag)).toEqual({ result: Decoded.OWN, publications: [] });
    expect(decodeAll(encodeBatch(tag, [0, 0], [Buffer.from('x'), Buffer.from('y')], 0, 2, 2), tag)).toEqual({ result: Decoded.OWN, publications: [] });
  });

  it('report an unknown version, an empty message, a short tag and a truncated batch as malformed, after delivering what came before', () => {
    expect(decodeAll(Buffer.alloc(0), other).result).toBe(Decoded.MALFORMED);
    expect(decodeAll(Buffer.from([3, 0, 0]), other).result).toBe(Decoded.MALFORMED);
    expect(decodeAll(Buffer.from([1, 0]), other).result).toBe(Decoded.MALFORMED);
    expect(decodeAll(Buffer.from([2, 9, 1, 2]), other).result).toBe(Decoded.MALFORMED);
    const whole = encodeBatch(tag, [0, 1], [Buffer.from('kept'), Buffer.from('lost')], 0, 2, 8);
    expect(decodeAll(whole.subarray(0, whole.length - 1), other)).toEqual({ result: Decoded.MALFORMED, publications: [[0, 'kept']] });
  });
});
