/**
 * The generator's checks of what servers send in the rpc and broadcast
 * scenarios: the byte-level fast paths accept exactly the expected messages,
 * and everything else is decoded and judged as a value.
 */
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { BenchConnection } from '../../bench/load/bench-connection.ts';
import { LoadRecorder } from '../../bench/load/load-recorder.ts';
import type { ThreadSetup } from '../../bench/load/messages.ts';
import { readPublicationTime } from '../../bench/load/scenarios/broadcast.ts';
import { RpcDriver } from '../../bench/load/scenarios/rpc.ts';

const packr = new Packr({ useRecords: false });

describe('broadcast: reading a publication time', () => {
  const t = 1_763_900_000_123.625;

  it.each([0, 32, 300, 70_000])('reads the float 64 timestamp of msgpackr’s encoding with a %d-byte pad', (padBytes) => {
    const bytes = Buffer.from(packr.pack([4, 'bench', { t, pad: new Uint8Array(padBytes) }]));
    expect(readPublicationTime(bytes, padBytes)).toBe(t);
  });

  it('also reads it when the map is a fixmap rather than msgpackr’s map16', () => {
    const map16 = Buffer.from(packr.pack([4, 'bench', { t, pad: new Uint8Array(32) }]));
    const at = map16.indexOf(Buffer.from([0xde, 0x00, 0x02]));
    expect(at).toBeGreaterThan(0);
    const fixmap = Buffer.concat([map16.subarray(0, at), Buffer.from([0x82]), map16.subarray(at + 3)]);
    expect(readPublicationTime(fixmap, 32)).toBe(t);
  });

  it.each([
    ['another topic', [4, 'bencH', { t, pad: new Uint8Array(32) }], 32],
    ['keys in another order', [4, 'bench', { pad: new Uint8Array(32), t }], 32],
    ['another message type', [2, 'bench', { t, pad: new Uint8Array(32) }], 32],
    ['an integer time', [4, 'bench', { t: 5, pad: new Uint8Array(32) }], 32],
    ['another pad size', [4, 'bench', { t, pad: new Uint8Array(31) }], 32],
    ['an extra key', [4, 'bench', { t, pad: new Uint8Array(32), x: 1 }], 32],
  ])('returns NaN for %s, which the scenario then decodes in full', (_what, message, padBytes) => {
    expect(readPublicationTime(Buffer.from(packr.pack(message)), padBytes as number)).toBeNaN();
  });

  it('returns NaN for a message cut short or with a byte too many', () => {
    const bytes = Buffer.from(packr.pack([4, 'bench', { t, pad: new Uint8Array(32) }]));
    expect(readPublicationTime(bytes.subarray(0, bytes.length - 1), 32)).toBeNaN();
    expect(readPublicationTime(Buffer.concat([bytes, Buffer.from([0])]), 32)).toBeNaN();
  });
});

describe('rpc: checking a reply', () => {
  const setup = { inflight: 4 } as ThreadSetup;

  /** A connection with request `id` in flight, recording a failure. */
  function connectionAwaiting(id: number) {
    const failures: string[] = [];
    const conn = {
      inflight: 1,
      head: 0,
      sendIds: new Float64Array(4),
      sendTimes: new Float64Array(4),
      isOpen: false,
      fail: (kind: string, reason: string) => failures.push(`${kind}: ${reason}`),
    };
    conn.sendIds[0] = id;
    conn.sendTimes[0] = performance.now();
    return { conn: conn as unknown as BenchConnection & { inflight: number }, failures };
  }

  function driver(): { rpc: RpcDriver; recorder: LoadRecorder } {
    const recorder = new LoadRecorder();
    recorder.beginWindow(false);
    return { rpc: new RpcDriver(setup, recorder, new Uint8Array(4)), recorder };
  }

  it('accepts the expected bytes of [2, id, id + 7]', () => {
    const { rpc, recorder } = driver();
    const { conn, failures } = connectionAwaiting(300);
    rpc.onMessage(conn, Buffer.from(packr.pack([2, 300, 307])), true);
    expect(failures).toEqual([]);
    expect(conn.inflight).toBe(0);
    expect(recorder.messages).toBe(1);
  });

  it('accepts another valid encoding of the same reply (id as uint16, sum as float 64)', () => {
    const { rpc, recorder } = driver();
    const { conn, failures } = connectionAwaiting(5);
    rpc.onMessage(conn, Buffer.from([0x93, 0x02, 0xcd, 0x00, 0x05, 0xcb, ...Buffer.from(new Float64Array([12]).buffer).reverse()]), true);
    expect(failures).toEqual([]);
    expect(recorder.messages).toBe(1);
  });

  it.each([
    ['a wrong sum', [2, 5, 13]],
    ['another id', [2, 6, 13]],
    ['an error reply', [3, 5, { code: 'X', message: 'no' }]],
  ])('fails the connection with a protocol error on %s', (_what, reply) => {
    const { rpc, recorder } = driver();
    const { conn, failures } = connectionAwaiting(5);
    rpc.onMessage(conn, Buffer.from(packr.pack(reply)), true);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/^protocol: unexpected reply to request 5/);
    expect(recorder.messages).toBe(0);
  });
});
