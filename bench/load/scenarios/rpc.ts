/**
 * `rpc`: N connections on the msgpack subprotocol, each with P requests of
 * the benchmark app's `add` method in flight; every reply is checked.
 */
import { Opcode } from '../../../src/protocol/constants.ts';
import { encodeFrame } from '../../../src/protocol/frame-encoder.ts';
import type { BenchConnection } from '../bench-connection.ts';
import type { LoadRecorder } from '../load-recorder.ts';
import type { ThreadSetup } from '../messages.ts';
import { ADD_METHOD, MSGPACK_PROTOCOL, MessageType, packr } from '../wire.ts';
import { PipelinedDriver, ringSizeFor } from './driver.ts';

/** Distinct request ids per connection; frames for all of them are built once per thread. */
const ID_SPACE = 1024;
/** The constant second operand: request `id` asks for id + ADDEND. */
const ADDEND = 7;

/** msgpack request/response round trips with P in flight per connection. */
export class RpcDriver extends PipelinedDriver {
  /** frames[id] = masked frame of [1, id, "add", [id, ADDEND]]. */
  private readonly frames: Buffer[];
  /** replies[id] = msgpackr's bytes of [2, id, id + ADDEND], the reply every server here sends. */
  private readonly replies: Uint8Array[];

  constructor(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array) {
    super(setup, recorder, mask);
    if (setup.inflight > ID_SPACE) throw new RangeError(`rpc supports at most ${ID_SPACE} requests in flight per connection`);
    this.frames = [];
    this.replies = [];
    for (let id = 0; id < ID_SPACE; id++) {
      this.frames.push(encodeFrame(Opcode.BINARY, packr.pack([MessageType.REQUEST, id, ADD_METHOD, [id, ADDEND]]), { mask }));
      this.replies.push(Uint8Array.from(packr.pack([MessageType.REPLY, id, id + ADDEND])));
    }
  }

  setup(): Promise<void> {
    return this.openConnections(this.setupInfo.connections, [MSGPACK_PROTOCOL], ringSizeFor(this.inflightLimit), () => 0);
  }

  protected sendOne(conn: BenchConnection): void {
    if (!this.takeBudget()) return;
    const id = conn.nextId;
    conn.nextId = (id + 1) % ID_SPACE;
    const slot = (conn.head + conn.inflight) & (conn.sendTimes.length - 1);
    conn.sendTimes[slot] = performance.now();
    conn.sendIds[slot] = id;
    conn.inflight++;
    conn.write(this.frames[id]);
  }

  onMessage(conn: BenchConnection, data: Buffer, isBinary: boolean): void {
    if (conn.inflight === 0) {
      conn.fail('protocol', 'message without a request in flight');
      return;
    }
    const expectedId = conn.sendIds[conn.head];
    // The expected bytes are checked first; anything else is decoded and checked as a value (another
    // valid encoding of the same reply passes). Comparing bytes instead of decoding every reply with
    // msgpackr: about 0.92-1.0 us of generator CPU per reply instead of 1.0-1.2 (rpc 100 x 32, one Shoal worker).
    if (!isBinary || !sameBytes(data, this.replies[expectedId])) {
      let reply: unknown;
      try {
        reply = isBinary ? packr.unpack(data) : undefined;
      } catch (error) {
        conn.fail('protocol', `reply is not msgpack: ${(error as Error).message}`);
        return;
      }
      if (!Array.isArray(reply) || reply[0] !== MessageType.REPLY || reply[1] !== expectedId || reply[2] !== expectedId + ADDEND) {
        conn.fail('protocol', `unexpected reply to request ${expectedId}: ${describeReply(reply)}`);
        return;
      }
    }
    const sentAt = conn.sendTimes[conn.head];
    conn.head = (conn.head + 1) & (conn.sendTimes.length - 1);
    conn.inflight--;
    this.recorder.record(performance.now() - sentAt, data.length);
    if (this.sending && conn.isOpen) this.sendOne(conn);
  }
}

/** Byte equality of two short arrays (a loop beats Buffer.equals' native call at these sizes). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeReply(reply: unknown): string {
  const text = JSON.stringify(reply) ?? String(reply);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
