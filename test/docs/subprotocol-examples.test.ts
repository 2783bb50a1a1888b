/**
 * docs/subprotocol.md §10, read at test time: every row of the examples
 * table is the same message in both encodings (the MessagePack hex decodes
 * to the JSON text's value, and the server's encoder writes that value back
 * as bytes that decode to it), and the JSON session it shows happens as
 * written against the chat example (examples/chat/app.ts) served by a real
 * `shoal serve`: each answer arrives, with only `ts` and `address` (which
 * differ from run to run) compared by type and shape.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeJson } from '../../src/codec/json.ts';
import { decodeMsgpack, encodeMsgpack } from '../../src/codec/msgpack.ts';
import { startShoal, type ShoalProcess } from '../helpers/shoal-process.ts';

const SPEC = readFileSync(new URL('../../docs/subprotocol.md', import.meta.url), 'utf8');
const CHAT_APP = fileURLToPath(new URL('../../examples/chat/app.ts', import.meta.url));

/** §10's section of the spec. */
function examplesSection(): string {
  const start = SPEC.indexOf('## 10. Examples');
  expect(start, 'docs/subprotocol.md has a "## 10. Examples" section').toBeGreaterThanOrEqual(0);
  const end = SPEC.indexOf('\n## ', start + 1);
  return SPEC.slice(start, end === -1 ? undefined : end);
}

/** The table's rows: [label, MessagePack hex, JSON text]. */
function tableRows(section: string): [string, string, string][] {
  return [...section.matchAll(/^\| ([^|]+?) \| `([0-9a-f ]+)` \| `([^`]+)` \|$/gm)].map((match) => [match[1], match[2], match[3]]);
}

type SessionStep = { send: string; expect: string[] };

/** The session's lines ("→ message" then the "← answers"), from the code block after "A session on". */
function sessionSteps(section: string): SessionStep[] {
  const block = /A session on `v1\.json\.shoal\.dev`[^\n]*\n\n```\n([\s\S]*?)\n```/.exec(section);
  expect(block, 'the §10 session block').not.toBeNull();
  const steps: SessionStep[] = [];
  for (const line of block![1].split('\n')) {
    if (line.startsWith('→ ')) steps.push({ send: line.slice(2), expect: [] });
    else if (line.startsWith('← ')) steps.at(-1)!.expect.push(line.slice(2));
  }
  return steps;
}

/** `value` with every `ts` (a number) and `address` (a "worker.connection" string) replaced by a matcher of its kind. */
function loosen(value: unknown, key?: string): unknown {
  if (key === 'ts' && typeof value === 'number') return expect.any(Number);
  if (key === 'address' && typeof value === 'string') return expect.stringMatching(/^\d+\.\d+$/);
  if (Array.isArray(value)) return value.map((item) => loosen(item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, loosen(item, name)]));
  }
  return value;
}

describe('docs/subprotocol.md §10: the examples table', () => {
  const rows = tableRows(examplesSection());

  it('has the rows it shows', () => {
    expect(rows.map(([label]) => label)).toContain('reply 7: `3`');
    expect(rows.length).toBeGreaterThanOrEqual(6);
  });

  it('each row is one message in both encodings, and the encoder writes it back', () => {
    for (const [label, hex, json] of rows) {
      const bytes = Buffer.from(hex.replaceAll(' ', ''), 'hex');
      const value = decodeJson(json);
      expect(decodeMsgpack(bytes), label).toEqual(value);
      expect(decodeMsgpack(encodeMsgpack(value as never)), label).toEqual(value);
    }
  });
});

describe('docs/subprotocol.md §10: the JSON session, against the chat example', { timeout: 60_000 }, () => {
  let shoal: ShoalProcess;

  beforeAll(async () => {
    shoal = await startShoal(['--app', CHAT_APP, '--workers', '1']);
  }, 60_000);

  afterAll(async () => {
    await shoal?.stop();
  });

  it('every message gets the answers shown, and the last one the close shown', async () => {
    const steps = sessionSteps(examplesSection());
    expect(steps.length).toBeGreaterThanOrEqual(4);
    const ws = new WebSocket(`ws://127.0.0.1:${shoal.port}/`, 'v1.json.shoal.dev');
    const received: unknown[] = [];
    let waiter: (() => void) | null = null;
    ws.on('message', (data: Buffer) => {
      received.push(JSON.parse(data.toString()));
      waiter?.();
    });
    const closed = once(ws, 'close') as Promise<[number, Buffer]>;
    await once(ws, 'open');
    for (const step of steps) {
      const closeLine = step.expect.length === 1 ? /^close (\d+) "(.*)"$/.exec(step.expect[0]) : null;
      ws.send(step.send);
      if (closeLine !== null) {
        const [code, reason] = await closed;
        expect([code, reason.toString()], step.send).toEqual([Number(closeLine[1]), closeLine[2]]);
        continue;
      }
      while (received.length < step.expect.length) await new Promise<void>((resolve) => (waiter = resolve));
      // The answers to one message, in any order (a publication and a reply leave in the same turn).
      const answers = received.splice(0, received.length);
      expect(answers, step.send).toHaveLength(step.expect.length);
      for (const line of step.expect) expect(answers, `${step.send} -> ${line}`).toContainEqual(loosen(JSON.parse(line)));
    }
  });
});
