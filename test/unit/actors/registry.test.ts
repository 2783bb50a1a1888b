import { describe, expect, it } from 'vitest';
import { ConnectionRegistry, parseAddress } from '../../../src/actors/registry.ts';
import type { ConnectionHandle } from '../../../src/app/types.ts';

function fakeHandle(address: string): ConnectionHandle {
  return {
    address,
    protocol: null,
    upgradeData: undefined,
    remoteAddress: '127.0.0.1',
    isOpen: true,
    send() {},
    sendFrame() {},
    close() {},
  };
}

describe('parseAddress', () => {
  it('splits worker id and local id', () => {
    expect(parseAddress('3.17')).toEqual({ workerId: 3, localId: 17 });
  });
  it.each(['', '3', '.1', '3.', 'a.1', '1.b', '1.0', '-1.2', '1.2.3'])('rejects %j', (address) => {
    expect(parseAddress(address)).toBeNull();
  });
});

describe('ConnectionRegistry', () => {
  it('hands out addresses with the worker id and never reuses a local id', () => {
    const registry = new ConnectionRegistry(7);
    const a = registry.nextAddress();
    const b = registry.nextAddress();
    expect(a.address).toBe(`7.${a.localId}`);
    expect(b.localId).not.toBe(a.localId);
    registry.add(a.localId, fakeHandle(a.address));
    registry.delete(a.localId);
    expect(registry.nextAddress().localId).not.toBe(a.localId);
  });

  it('finds a connection by local id and by address, only on its own worker', () => {
    const registry = new ConnectionRegistry(2);
    const { localId, address } = registry.nextAddress();
    const handle = fakeHandle(address);
    registry.add(localId, handle);
    expect(registry.get(localId)).toBe(handle);
    expect(registry.get(address)).toBe(handle);
    expect(registry.get(`3.${localId}`)).toBeUndefined();
    expect(registry.isLocal(address)).toBe(true);
    expect(registry.isLocal(`3.${localId}`)).toBe(false);
    expect(registry.size).toBe(1);
  });

  it('forgets deleted connections', () => {
    const registry = new ConnectionRegistry(1);
    const { localId, address } = registry.nextAddress();
    registry.add(localId, fakeHandle(address));
    expect(registry.delete(localId)).toBe(true);
    expect(registry.get(address)).toBeUndefined();
    expect([...registry.values()]).toEqual([]);
  });
});
