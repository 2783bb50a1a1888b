import { describe, expect, it } from 'vitest';
import { Mailbox } from '../../../src/actors/mailbox.ts';

const msg = (text: string) => Buffer.from(text);

describe('Mailbox', () => {
  it('returns messages in the order they were pushed, with their binary flag', () => {
    const box = new Mailbox(100, 1000);
    box.push(msg('a'), false);
    box.push(msg('bb'), true);
    box.push(msg('ccc'), false);
    const out: [string, boolean][] = [];
    for (let data = box.shift(); data !== undefined; data = box.shift()) out.push([data.toString(), box.shiftedIsBinary]);
    expect(out).toEqual([
      ['a', false],
      ['bb', true],
      ['ccc', false],
    ]);
    expect(box.length).toBe(0);
    expect(box.bytes).toBe(0);
  });

  it('keeps order across ring wrap-around and growth', () => {
    const box = new Mailbox(10_000, 1e9);
    const expected: string[] = [];
    const seen: string[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < (round % 7) + 3; i++) {
        expected.push(String(next));
        box.push(msg(String(next++)), next % 2 === 0);
      }
      for (let i = 0; i < (round % 5) + 1; i++) {
        const data = box.shift();
        if (data !== undefined) seen.push(data.toString());
      }
    }
    for (let data = box.shift(); data !== undefined; data = box.shift()) seen.push(data.toString());
    expect(seen).toEqual(expected);
  });

  it('reports full at the message threshold and below half only under half of it', () => {
    const box = new Mailbox(4, 1_000_000);
    for (let i = 0; i < 3; i++) box.push(msg('x'), false);
    expect(box.isFull).toBe(false);
    box.push(msg('x'), false);
    expect(box.isFull).toBe(true);
    box.shift();
    box.shift();
    expect(box.isBelowHalf).toBe(false);
    box.shift();
    expect(box.isBelowHalf).toBe(true);
  });

  it('reports full at the byte threshold', () => {
    const box = new Mailbox(1000, 10);
    box.push(Buffer.alloc(6), true);
    expect(box.isFull).toBe(false);
    box.push(Buffer.alloc(4), true);
    expect(box.isFull).toBe(true);
    expect(box.bytes).toBe(10);
  });

  it('accepts pushes past the threshold (it never drops) and clear() counts them', () => {
    const box = new Mailbox(2, 1000);
    for (let i = 0; i < 5; i++) box.push(msg(String(i)), false);
    expect(box.length).toBe(5);
    expect(box.clear()).toBe(5);
    expect(box.shift()).toBeUndefined();
  });
});
