import { describe, expect, it } from 'vitest';
import { ConnectionRegistry, parseAddress } from '../../../src/app/registry.ts';

describe('parseAddress', () => {
  it('splits worker id and local id', () => {
    expect(parseAddress('3.17')).toEqual({ nodeId: null, workerId: 3, localId: 17 });
    expect(parseAddress('0.1')).toEqual({ nodeId: null, workerId: 0, localId: 1 });
  });
  it('splits the node id of a cluster address', () => {
    expect(parseAddress('a1b2c3.3.17')).toEqual({ nodeId: 'a1b2c3', workerId: 3, localId: 17 });
  });
  it.each(['', '3', '.1', '.5', '3.', 'a.1', 'x.1', '1.b', '1.0', '-1.2', '1.2.3.4', 'A.1.2', 'a-b.1.2', '.1.2', 'ab..2', 'ab.1.0'])('rejects %j', (address) => {
    expect(parseAddress(address)).toBeNull();
  });
});

describe('ConnectionRegistry of a cluster node', () => {
  it('hands out addresses that carry the node, and tells them from other nodes\' ones', () => {
    const registry = new ConnectionRegistry<string>(4, 'n0de');
    const address = registry.nextAddress();
    expect(parseAddress(address)).toEqual({ nodeId: 'n0de', workerId: 4, localId: 1 });
    expect(registry.isLocal(address)).toBe(true);
    expect(registry.isLocal('other.4.1')).toBe(false);
    expect(registry.isLocal('4.1')).toBe(false);
  });
  it('refuses a node id that cannot be part of an address', () => {
    expect(() => new ConnectionRegistry<string>(4, 'a.b')).toThrow(RangeError);
  });
});

describe('ConnectionRegistry', () => {
  it('hands out addresses with the worker id and never reuses a local id', () => {
    const registry = new ConnectionRegistry<string>(7);
    const a = registry.nextAddress();
    const b = registry.nextAddress();
    expect(parseAddress(a)?.workerId).toBe(7);
    expect(b).not.toBe(a);
    registry.add(a, 'a');
    registry.delete(a);
    expect(registry.nextAddress()).not.toBe(a);
  });

  it('finds a connection by its address, only on its own worker', () => {
    const registry = new ConnectionRegistry<string>(2);
    const address = registry.nextAddress();
    const localId = parseAddress(address)?.localId;
    registry.add(address, 'connection');
    expect(registry.get(address)).toBe('connection');
    expect(registry.get(`3.${localId}`)).toBeUndefined();
    expect(registry.isLocal(address)).toBe(true);
    expect(registry.isLocal(`3.${localId}`)).toBe(false);
    expect(registry.size).toBe(1);
  });

  it('forgets deleted connections', () => {
    const registry = new ConnectionRegistry<string>(1);
    const address = registry.nextAddress();
    registry.add(address, 'connection');
    expect(registry.delete(address)).toBe(true);
    expect(registry.get(address)).toBeUndefined();
    expect([...registry.values()]).toEqual([]);
  });
});

describe('ConnectionRegistry, deleting in any order', () => {
  it('still finds every connection left after deletes in the middle', () => {
    const registry = new ConnectionRegistry<string>(1);
    const addresses = Array.from({ length: 8 }, () => registry.nextAddress());
    addresses.forEach((address, i) => registry.add(address, `c${i}`));
    for (const i of [3, 0, 7, 5]) expect(registry.delete(addresses[i] as string)).toBe(true);
    expect(registry.size).toBe(4);
    for (const i of [1, 2, 4, 6]) expect(registry.get(addresses[i] as string)).toBe(`c${i}`);
    for (const i of [3, 0, 7, 5]) expect(registry.get(addresses[i] as string)).toBeUndefined();
    expect([...registry.values()].sort()).toEqual(['c1', 'c2', 'c4', 'c6']);
    expect(registry.delete(addresses[3] as string)).toBe(false);
  });

  it('replaces the connection of an address added twice', () => {
    const registry = new ConnectionRegistry<string>(1);
    const address = registry.nextAddress();
    registry.add(address, 'first');
    registry.add(address, 'second');
    expect(registry.size).toBe(1);
    expect(registry.get(address)).toBe('second');
  });
});
