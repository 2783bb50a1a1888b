/**
 * The live runner's part of a conformance case (test/conformance/*-cases.ts)
 * on a raw connection to a running server: send the input, wait until the
 * server has handled all of it, and read back what it sent. Assertions stay
 * with the caller, which knows its table.
 */
import { Opcode } from '../../src/protocol/constants.ts';
import { parseServerFrames, type ServerFrame } from '../conformance/frame-cases.ts';
import { clientFrame, type RawClient } from './raw-socket.ts';

/** Payload of the ping sent after an "open" case's input: its pong proves everything before it was handled. */
const PROBE = Buffer.from('conformance probe');

/** What the server sent for one case's input. */
export interface LiveCaseOutput {
  /** Every whole frame received, the probe's pong included. */
  readonly frames: ServerFrame[];
  /** Bytes of an incomplete last frame (a correct server leaves none). */
  readonly rest: Buffer;
  /** `frames` without the probe's pong. */
  readonly withoutProbe: ServerFrame[];
  /** The connection is still open and the probe's pong came back. */
  readonly open: boolean;
}

/** Writes `input`; then waits for the close when `expectsClose`, else sends the probe ping and waits (15 s) for its pong. */
export async function runLiveCase(client: RawClient, input: Buffer, expectsClose: boolean): Promise<LiveCaseOutput> {
  const isProbePong = (frame: ServerFrame): boolean => frame.opcode === Opcode.PONG && frame.payload.equals(PROBE);
  const hasProbePong = (): boolean => parseServerFrames(client.received).frames.some(isProbePong);
  client.write(input);
  if (expectsClose) {
    await client.closed;
  } else {
    client.write(clientFrame(Opcode.PING, PROBE));
    await client.waitFor(hasProbePong, 15_000);
  }
  const { frames, rest } = parseServerFrames(client.received);
  return { frames, rest, withoutProbe: frames.filter((frame) => !isProbePong(frame)), open: !client.isClosed && hasProbePong() };
}
