/**
 * The slice of net.Socket a SocketBinding uses, for micro-benchmarks that run
 * the worker's path in one thread: writes are counted and dropped.
 */
import { Duplex } from 'node:stream';

/** What the stub sockets of one benchmark have written. */
export const written = { bytes: 0, writes: 0 };

/** A socket that accepts every write at once (never backpressure). */
export function stubSocket(): never {
  return {
    on() {},
    resume() {},
    pause() {},
    cork() {},
    uncork() {},
    end() {},
    destroy() {},
    write(data: Uint8Array) {
      written.bytes += data.length;
      written.writes++;
      return true;
    },
    writableLength: 0,
    writableNeedDrain: false,
    remoteAddress: '127.0.0.1',
  } as never;
}

/** A handle that takes every write at once, named as net.Socket's TCP handle so that the binding writes to it directly (transport/direct-write.ts). */
class TCP {
  writeBuffer(_req: unknown, data: Uint8Array): number {
    written.bytes += data.length;
    written.writes++;
    return 0;
  }
}

/**
 * A stub on a real Duplex stream (Node's `destroyed` and `writableLength`
 * getters, which the binding reads) with a TCP-named handle: the binding's
 * direct writes, counted and dropped.
 */
export function duplexStubSocket(): never {
  const socket = new Duplex({
    read() {},
    write(chunk: Uint8Array, _encoding: string, callback: () => void) {
      written.bytes += chunk.length;
      written.writes++;
      callback();
    },
  });
  Object.assign(socket, { _handle: new TCP(), remoteAddress: '127.0.0.1' });
  return socket as never;
}
