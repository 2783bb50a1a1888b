/**
 * The slice of net.Socket a SocketBinding uses, for micro-benchmarks that run
 * the worker's path in one thread: writes are counted and dropped.
 */

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
