/**
 * A connection's bytes as they crossed the wire. The binding counts each
 * chunk it reads and each frame it writes; that is the wire for a plain
 * WebSocket, but a TLS socket's chunks are decrypted records (and a PROXY
 * header before the TLS was read by another binding), the HTTP side's bytes
 * go through Node's parser and response, and the 101 or a refusal is written
 * uncounted. So when a connection leaves a stage (the HTTP side back to an
 * upgrade) or ends, its `bytesIn` and `bytesOut` are set from its TCP
 * socket, which counted every byte once, and the worker's live counters get
 * the difference: the totals count wire bytes, TLS records, PROXY headers
 * and HTTP heads included (live, a TLS connection counts decrypted bytes
 * until it ends).
 */
import type { Socket } from 'node:net';
import { workerCounters } from '../telemetry/worker-metrics.ts';
import type { ConnectionStats } from './messages.ts';

/** What counts a connection's bytes on the wire: its net.Socket, or a bare TCP connection (bare-tcp.ts). */
export interface WireCounter {
  readonly bytesRead: number;
  readonly bytesWritten: number | undefined;
}

/** The TCP socket under each TLS socket (whose own bytesRead counts decrypted bytes). */
const tcpSockets = new WeakMap<object, Socket>();

/** Records that `secure` runs over `tcp` (tls-terminator.ts). */
export function recordTlsOver(secure: Socket, tcp: Socket): void {
  tcpSockets.set(secure, tcp);
}

/**
 * Sets `stats.bytesIn` and `stats.bytesOut` to the bytes `socket`'s
 * connection received and sent on the wire (sent: handed to the kernel); the
 * worker's counters get what they had not counted.
 */
export function settleWireBytes(stats: ConnectionStats, socket: WireCounter): void {
  const tcp: WireCounter = tcpSockets.get(socket) ?? socket;
  const received = tcp.bytesRead;
  // undefined only for a socket Node could not account (no writable state).
  const sent = tcp.bytesWritten ?? stats.bytesOut;
  workerCounters.bytesIn += received - stats.bytesIn;
  workerCounters.bytesOut += sent - stats.bytesOut;
  stats.bytesIn = received;
  stats.bytesOut = sent;
}
