/**
 * A stand-in for the net.Socket under a SocketBinding in unit tests: no
 * kernel, every write recorded.
 */
import { EventEmitter } from 'node:events';
import { parseServerFrames } from '../conformance/frame-cases.ts';

export const UPGRADE_RESPONSE = 'HTTP/1.1 101 Switching Protocols\r\n\r\n';

/**
 * Just enough of a net.Socket: records writes (copied) and flow control calls.
 * A write that starts with the 101 (which leaves with the first write after
 * `accept`) is split off into `upgradeWrites`, so that `writes` holds frames.
 */
export class StubSocket extends EventEmitter {
  writes: Buffer[] = [];
  upgradeWrites: Buffer[] = [];
  corks = 0;
  paused = false;
  ended = false;
  destroyed = false;
  writableLength = 0;
  writableNeedDrain = false;
  remoteAddress = '127.0.0.1';
  setNoDelay(): this {
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    this.corks--;
  }
  write(data: Uint8Array): boolean {
    const copy = Buffer.from(data);
    if (copy.toString('latin1', 0, UPGRADE_RESPONSE.length) === UPGRADE_RESPONSE) {
      this.upgradeWrites.push(copy);
      if (copy.length > UPGRADE_RESPONSE.length) this.writes.push(copy.subarray(UPGRADE_RESPONSE.length));
    } else {
      this.writes.push(copy);
    }
    return true;
  }
  end(data?: Uint8Array): this {
    if (data !== undefined) this.write(data);
    this.ended = true;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
  frames() {
    return parseServerFrames(Buffer.concat(this.writes)).frames;
  }
}
