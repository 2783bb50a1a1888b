/**
 * The broadcast driver on Socket.IO's wire, for the cross-node scenario's
 * Socket.IO peer (bench/peers/socketio-server.ts): Engine.IO 4 packets in
 * WebSocket text frames, Socket.IO 5 packets inside, no socket.io-client
 * (the same generator as every other target). Per connection:
 *
 *   server "0{...}"  Engine.IO open (ignored)     client "40"  connect to the namespace "/"
 *   server "40{...}" namespace connected: publishers may publish, subscribers send 420["sub","bench"]
 *   server "430[]"   the subscription's ack
 *   client 42<id>["pub","bench",{"t":<epoch ms>,"pad":"xx.."}]   server 43<id>[] (ack)
 *   server 42["m",{"t":..,"pad":".."}] to each subscriber
 *   server "2" (ping)  client "3" (pong)
 */
import { Opcode } from '../../../src/protocol/constants.ts';
import { encodeFrame } from '../../../src/protocol/frame-encoder.ts';
import type { BenchConnection } from '../bench-connection.ts';
import type { LoadRecorder } from '../load-recorder.ts';
import type { ThreadSetup } from '../messages.ts';
import { BENCH_TOPIC } from '../wire.ts';
import { FanOutDriver, PUBLISHER, SUBSCRIBER } from './fan-out.ts';

/** The path of a Socket.IO connection that goes straight to the WebSocket transport. */
export const SOCKETIO_PATH = '/socket.io/?EIO=4&transport=websocket';
/** The id of each subscriber's "sub" event (its ack comes back as 430). */
const SUBSCRIBE_ACK_ID = 0;
const DELIVERY_PREFIX = Buffer.from('42["m",{"t":');
const CONNECTED_PREFIX = Buffer.from('40');
const ACK = 0x33; // '3': a Socket.IO ACK packet is "3<id>[...]" inside the Engine.IO message "4".

/** Fan-out over Socket.IO packets: rooms joined with "sub", `io.to(room).emit` on "pub". */
export class SocketIoBroadcastDriver extends FanOutDriver {
  protected readonly protocols: readonly string[] = [];
  /** A message is classified (its prefix, time and id read into numbers and strings) inside onMessage, nothing of it kept. */
  readonly lendsMessages = true;
  private readonly padText: string;

  constructor(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array) {
    super(setup, recorder, mask);
    this.padText = 'x'.repeat(this.pad.length);
  }

  /** Every connection first connects to the namespace; subscribers then subscribe. */
  protected override needsJoin(_conn: BenchConnection): boolean {
    return true;
  }

  protected beginJoin(conn: BenchConnection): void {
    this.writeText(conn, '40');
  }

  protected writePublication(conn: BenchConnection, id: number, sentAt: number): void {
    this.writeText(conn, `42${id}["pub",${JSON.stringify(BENCH_TOPIC)},{"t":${sentAt},"pad":"${this.padText}"}]`);
  }

  private writeText(conn: BenchConnection, text: string): void {
    conn.write(encodeFrame(Opcode.TEXT, Buffer.from(text), { mask: this.mask }));
  }

  onMessage(conn: BenchConnection, data: Buffer, isBinary: boolean): void {
    if (!isBinary && conn.role === SUBSCRIBER && startsWith(data, DELIVERY_PREFIX)) {
      const sentAt = Number.parseFloat(data.toString('latin1', DELIVERY_PREFIX.length, DELIVERY_PREFIX.length + 32));
      if (!Number.isNaN(sentAt)) {
        this.delivered(conn, sentAt, data.length);
        return;
      }
    } else if (!isBinary && data.length > 0) {
      switch (data[0]) {
        case 0x30: // '0': Engine.IO open
          return;
        case 0x32: // '2': Engine.IO ping
          this.writeText(conn, '3');
          return;
        case 0x34: // '4': Engine.IO message, a Socket.IO packet
          if (this.socketIoPacket(conn, data)) return;
          break;
      }
    }
    conn.fail('protocol', `unexpected ${isBinary ? 'binary' : 'text'} message: ${JSON.stringify(data.toString('latin1', 0, 80))}`);
  }

  /** A Socket.IO packet other than a delivery; false when it is not expected here. */
  private socketIoPacket(conn: BenchConnection, data: Buffer): boolean {
    if (startsWith(data, CONNECTED_PREFIX) && !this.hasJoined(conn)) {
      if (conn.role === PUBLISHER) this.joined(conn);
      else this.writeText(conn, `42${SUBSCRIBE_ACK_ID}["sub",${JSON.stringify(BENCH_TOPIC)}]`);
      return true;
    }
    if (data[1] !== ACK) return false;
    const id = Number.parseInt(data.toString('latin1', 2, Math.min(data.length, 24)), 10);
    if (conn.role === SUBSCRIBER) {
      if (this.hasJoined(conn) || id !== SUBSCRIBE_ACK_ID) return false;
      this.joined(conn);
      return true;
    }
    return this.acknowledged(conn, id);
  }
}

function startsWith(data: Buffer, prefix: Buffer): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}
