import { describe, expect, it } from 'vitest';
import { SlotList } from '../../../src/transport/slot-list.ts';

interface Item {
  name: string;
  slot: number;
}

const item = (name: string): Item => ({ name, slot: -1 });
const newList = (): SlotList<Item> => new SlotList<Item>({ get: (i) => i.slot, set: (i, slot) => (i.slot = slot) });
const names = (list: SlotList<Item>): string[] => {
  const seen: string[] = [];
  list.forEach((i) => seen.push(i.name));
  return seen.sort();
};

describe('SlotList', () => {
  it('adds and deletes in any order, keeping each item at the index it remembers', () => {
    const list = newList();
    const items = ['a', 'b', 'c', 'd'].map(item);
    for (const i of items) list.add(i);
    expect(list.size).toBe(4);
    expect(list.delete(items[1] as Item)).toBe(true);
    expect(items[1]?.slot).toBe(-1);
    expect(names(list)).toEqual(['a', 'c', 'd']);
    // The last item moved into the hole and knows it: deleting it still works.
    expect(list.delete(items[3] as Item)).toBe(true);
    expect(list.delete(items[0] as Item)).toBe(true);
    expect(names(list)).toEqual(['c']);
    expect(items[2]?.slot).toBe(0);
  });

  it('refuses an item it does not hold, or holds no more', () => {
    const list = newList();
    const a = item('a');
    expect(list.delete(a)).toBe(false);
    list.add(a);
    expect(list.delete(a)).toBe(true);
    expect(list.delete(a)).toBe(false);
    const other = newList();
    const b = item('b');
    other.add(b);
    // b's slot 0 names no item of this list (empty) or another item.
    expect(list.delete(b)).toBe(false);
    list.add(a);
    expect(list.delete(b)).toBe(false);
    expect(list.size).toBe(1);
  });

  it('visits every item once when the visit deletes the item it is given', () => {
    const list = newList();
    const items = Array.from({ length: 10 }, (_, i) => item(String(i)));
    for (const i of items) list.add(i);
    const seen: string[] = [];
    list.forEach((i) => {
      seen.push(i.name);
      list.delete(i);
    });
    expect(seen.sort()).toEqual(items.map((i) => i.name).sort());
    expect(list.size).toBe(0);
  });

  it('skips no item when a visit deletes others, and does not visit items added meanwhile', () => {
    const list = newList();
    const items = Array.from({ length: 6 }, (_, i) => item(String(i)));
    for (const i of items) list.add(i);
    const seen = new Set<string>();
    list.forEach((i) => {
      seen.add(i.name);
      if (i.name === '4') {
        list.delete(items[1] as Item);
        list.add(item('new'));
      }
    });
    expect([...seen].sort()).toEqual(['0', '2', '3', '4', '5']);
    expect(names(list)).toEqual(['0', '2', '3', '4', '5', 'new']);
  });
});
