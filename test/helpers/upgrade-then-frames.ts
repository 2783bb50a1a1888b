/**
 * The server side of a test's hand-made WebSocket server: collects a
 * connection's request head from its 'data' events, answers it once the head
 * is complete (RFC 6455 §4.2.2), then feeds every byte after the head to the
 * connection's frame decoder. Only for test servers that stand in for a peer;
 * Shoal's own handshake is src/protocol/handshake-*.ts.
 */
import type { Socket } from 'node:net';
import type { FrameDecoder } from '../../src/protocol/frame-decoder.ts';

/** What the head said that a stand-in server answers with. */
export interface UpgradeHead {
  /** `Sec-WebSocket-Key`, or '' when absent. */
  readonly key: string;
  /** The first `Sec-WebSocket-Protocol` offered, or null. */
  readonly protocol: string | null;
}

/** Reads `socket`'s head, calls `answer` with it (the caller writes the 101), then decodes the rest with `decoder`. */
export function upgradeThenFrames(socket: Socket, decoder: FrameDecoder, answer: (head: UpgradeHead) => void): void {
  let head = Buffer.alloc(0);
  let open = false;
  socket.on('data', (chunk: Buffer) => {
    if (open) {
      decoder.push(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    const text = head.toString('latin1', 0, end);
    const key = /^sec-websocket-key: *(\S+)/im.exec(text)?.[1] ?? '';
    const protocol = /^sec-websocket-protocol: *([^,\r\n]+)/im.exec(text)?.[1]?.trim() ?? null;
    open = true;
    answer({ key, protocol });
    if (head.length > end + 4) decoder.push(head.subarray(end + 4));
  });
}
