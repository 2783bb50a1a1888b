/**
 * Every TypeScript example of README.md and docs/*.md runs and does what its
 * text says (examples.test.ts only type-checks them). The blocks are read from
 * the Markdown at test time (test/helpers/extract-ts-blocks.ts) and written to
 * a temporary directory inside the repository, where `@shoal-ws/shoal` resolves
 * to the sources by the package's self-reference with the `shoal-source`
 * condition. App blocks are served by a real `shoal serve --app <block> --port 0
 * --workers 1`; host scripts and clients run as Node processes of their own;
 * the test talks to them over loopback with the project's client
 * (`@shoal-ws/shoal/client`) and `ws` for raw connections.
 *
 * Each example is found by its Markdown file and a line only it has, never by
 * its position. An example the docs no longer have, or a new one with no runner
 * here, fails the first test: run it below, or mark it ```ts fragment.
 *
 * What a run changes in a block, always by exact text that must be there once
 * (else the test says so): the fixed port 9001 of a host script becomes 0 (a
 * shared machine may use 9001), a client's 'ws://127.0.0.1:9001/' becomes the
 * real server's URL, and a probe line appended to a block prints what the
 * example only computes or marks that its last line ran.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ShoalClient, ShoalError, type WebSocketConstructor } from '@shoal-ws/shoal/client';
import { docsTsBlocks, type CodeBlock } from '../helpers/extract-ts-blocks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'shoal.js');
const DIR = join(ROOT, `.docs-examples-run-${process.pid}`);
/** How long a process gets to print a line or to exit: generous, for a loaded 2-core machine. */
const PROCESS_TIMEOUT_MS = 60_000;
/** The URL the docs' clients connect to; a run replaces it with the real server's. */
const DOCS_URL = 'ws://127.0.0.1:9001/';

/** The examples this file runs: their Markdown file and a line that only that block has. */
const EXAMPLES = {
  readmeApp: { file: 'README.md', line: 'export default defineApp<{ methods: { add: { data: { a: number; b: number }; result: number } } }>({' },
  readmeClient: { file: 'README.md', line: "console.log(await client.request('add', { a: 1, b: 2 })); // 3" },
  appApiApp: { file: 'docs/app-api.md', line: 'upgrade(req) {' },
  appApiBorrowed: { file: 'docs/app-api.md', line: 'borrowMessages: true,' },
  appApiHost: { file: 'docs/app-api.md', line: "server.sendTo('3.17', 'notice', { text: 'hello' });" },
  appApiOnStart: { file: 'docs/app-api.md', line: 'onStart(server) {' },
  installApp: { file: 'docs/install.md', line: '// app.ts' },
  installServer: { file: 'docs/install.md', line: '// server.ts' },
  installClient: { file: 'docs/install.md', line: "import type { Schema } from './app.ts';" },
  serverHttpApp: { file: 'docs/server.md', line: "if (req.url === '/healthz') {" },
  serverHost: { file: 'docs/server.md', line: "app: './my-app.ts'" },
} as const satisfies Record<string, { file: string; line: string }>;
type ExampleName = keyof typeof EXAMPLES;

const blocks = docsTsBlocks();

function isExample(block: CodeBlock, name: ExampleName): boolean {
  const { file, line } = EXAMPLES[name];
  return block.file === file && block.code.split('\n').some((codeLine) => codeLine.includes(line));
}

function blocksOf(name: ExampleName): CodeBlock[] {
  return blocks.filter((block) => isExample(block, name));
}

/** The code of one example; throws, naming it, unless exactly one block matches. */
function example(name: ExampleName): string {
  const found = blocksOf(name);
  if (found.length !== 1) {
    const { file, line } = EXAMPLES[name];
    throw new Error(`${file}: expected one ts block with the line ${JSON.stringify(line)} (example ${name}), found ${found.length}`);
  }
  return found[0].code;
}

/** `code` with `from` (which must occur exactly once) replaced by `to`. */
function replaceOnce(code: string, from: string, to: string): string {
  const count = code.split(from).length - 1;
  if (count !== 1) throw new Error(`expected ${JSON.stringify(from)} once in the example, found it ${count} times:\n${code}`);
  return code.replace(from, () => to);
}

/** Writes `code` to `path` in the temporary directory (one folder per page: its blocks import each other); returns the absolute path. */
function write(path: string, code: string): string {
  const file = join(DIR, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${code}\n`);
  return file;
}

interface NodeProcess {
  readonly child: ChildProcess;
  /** Once the process has exited and its output is read: its exit code (null when a signal ended it) and signal. */
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** The first match of `pattern` in stdout and stderr; rejects when the process ends first or after PROCESS_TIMEOUT_MS. */
  waitFor(pattern: RegExp, what: string): Promise<RegExpExecArray>;
  /** Resolves with the exit code once it exits; rejects (with its output) after PROCESS_TIMEOUT_MS. */
  exitCode(what: string): Promise<number | null>;
}

const started: NodeProcess[] = [];

/** `node --conditions=shoal-source ...args`, in `cwd` (where a host script's `app: './app.ts'` is looked up). */
function startNode(args: readonly string[], cwd: string = DIR): NodeProcess {
  const child = spawn(process.execPath, ['--conditions=shoal-source', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const node: NodeProcess = {
    child,
    closed,
    output: () => output,
    waitFor(pattern, what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}; output so far:\n${output}`)), PROCESS_TIMEOUT_MS);
        const check = (): void => {
          const match = pattern.exec(output);
          if (match !== null) finish(null, match);
        };
        const finish = (error: Error | null, match?: RegExpExecArray): void => {
          clearTimeout(timer);
          child.stdout.off('data', check);
          child.stderr.off('data', check);
          if (error !== null) reject(error);
          else resolve(match!);
        };
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        void closed.then(({ code, signal }) => {
          check();
          finish(new Error(`${what}: the process ended (${code ?? signal}) first; its output:\n${output}`));
        });
        check();
      });
    },
    async exitCode(what) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not exit within ${PROCESS_TIMEOUT_MS} ms; output so far:\n${output}`)), PROCESS_TIMEOUT_MS);
      });
      try {
        return (await Promise.race([closed, timeout])).code;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  started.push(node);
  return node;
}

/** `shoal serve --app <app> --port 0 --workers 1`, once it says where it listens. */
async function serve(app: string): Promise<{ server: NodeProcess; url: string }> {
  const server = startNode([BIN, 'serve', '--app', app, '--port', '0', '--workers', '1']);
  const [, url] = await server.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+\/)/, `shoal serve --app ${app} to listen`);
  return { server, url };
}

/** SIGTERM, then its exit code (null if the signal ended it). */
async function terminate(node: NodeProcess, what: string): Promise<number | null> {
  node.child.kill('SIGTERM');
  return node.exitCode(what);
}

/** A raw WebSocket client (no subprotocol), open. */
async function openRaw(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await once(ws, 'open');
  return ws;
}

/** The next message of a raw connection, as text. */
async function nextText(ws: WebSocket): Promise<string> {
  const [data] = (await once(ws, 'message')) as [Buffer];
  return data.toString();
}

/** Resolves with the first message for which `accept` holds; rejects after PROCESS_TIMEOUT_MS. */
function messageWhere(ws: WebSocket, what: string, accept: (data: Buffer, isBinary: boolean) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off('message', onMessage);
      reject(new Error(`timed out waiting for ${what}`));
    }, PROCESS_TIMEOUT_MS);
    const onMessage = (data: Buffer, isBinary: boolean): void => {
      if (!accept(data, isBinary)) return;
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve(data);
    };
    ws.on('message', onMessage);
  });
}

async function closeRaw(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  const closed = once(ws, 'close');
  ws.close();
  await closed;
}

/** The status and body of the HTTP response that refused a handshake; rejects if the handshake succeeds or fails another way. */
function refusal(ws: WebSocket): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    ws.once('error', reject); // also the report of the handshake that terminate() abandons below
    ws.once('unexpected-response', (_request, response: IncomingMessage) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.once('end', () => {
        resolve({ status: response.statusCode ?? 0, body });
        ws.terminate();
      });
    });
    ws.once('open', () => {
      reject(new Error('the handshake was accepted'));
      ws.terminate();
    });
  });
}

/** The `ws` WebSocket with an Origin header, for the project's client (the standard WebSocket API cannot set one). */
function withOrigin(origin: string): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { origin });
    }
  } as unknown as WebSocketConstructor;
}

/** The first server event `event` a client receives. */
function nextEvent(client: ShoalClient, event: string): Promise<unknown> {
  return new Promise((resolve) => {
    const off = client.on(event, (data) => {
      off();
      resolve(data);
    });
  });
}

describe('TypeScript examples in README.md and docs/ run', { timeout: 180_000 }, () => {
  beforeAll(() => mkdirSync(DIR, { recursive: true }));
  afterAll(async () => {
    for (const node of started) {
      if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
      await node.closed;
    }
    rmSync(DIR, { recursive: true, force: true });
  }, 60_000);

  it('has a runner for every example that is not a fragment, and finds every example it runs', () => {
    const problems: string[] = [];
    for (const name of Object.keys(EXAMPLES) as ExampleName[]) {
      const { file, line } = EXAMPLES[name];
      const count = blocksOf(name).length;
      if (count !== 1) problems.push(`${file}: example ${name} expects one ts block with the line ${JSON.stringify(line)}, found ${count}`);
    }
    for (const block of blocks) {
      if (block.skipped === null && !(Object.keys(EXAMPLES) as ExampleName[]).some((name) => isExample(block, name))) {
        problems.push(`${block.file}:${block.line}: a ts example with no runner in test/docs/examples-run.test.ts (add one there, or mark the block \`\`\`ts fragment)`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('README: the app serves add, and the client prints 3 and exits', async () => {
    const { url } = await serve(write('readme/app.ts', example('readmeApp')));
    // The client's 'ws://127.0.0.1:9001/' becomes the served URL (port 0 picked a free port).
    const client = startNode([write('readme/client.ts', replaceOnce(example('readmeClient'), DOCS_URL, url))]);
    expect(await client.exitCode('the README client')).toBe(0);
    expect(client.output()).toBe('3\n');
  });

  it('install.md: server.ts serves app.ts, the client gets 3 from add, and SIGTERM stops server.ts with 0', async () => {
    write('install/app.ts', example('installApp'));
    // port: 9001 becomes 0 (a free port, which server.ts prints), and the client's URL that one.
    const script = write('install/server.ts', replaceOnce(example('installServer'), 'port: 9001', 'port: 0'));
    const server = startNode([script], dirname(script));
    const [, url] = await server.waitFor(/listening on (ws:\/\/127\.0\.0\.1:\d+\/)/, 'server.ts to say where it listens');
    // Probe: the example computes `sum` (typed number); print it.
    const clientCode = `${replaceOnce(example('installClient'), DOCS_URL, url)}\nconsole.log(JSON.stringify(sum));`;
    const client = startNode([write('install/client.ts', clientCode)]);
    expect(await client.exitCode('the install.md client')).toBe(0);
    expect(client.output()).toBe('3\n');
    expect(await terminate(server, 'server.ts after SIGTERM')).toBe(0);
  });

  describe("app-api.md's app", () => {
    let url = '';
    const clients: ShoalClient[] = [];
    const connect = async (): Promise<{ client: ShoalClient; address: string }> => {
      const client = new ShoalClient(url, { WebSocket: withOrigin('https://example.com'), reconnect: false });
      clients.push(client);
      const welcome = nextEvent(client, 'welcome');
      await client.connect();
      const { address } = (await welcome) as { address: string };
      return { client, address };
    };
    beforeAll(async () => {
      ({ url } = await serve(write('app-api/app.ts', example('appApiApp'))));
    }, PROCESS_TIMEOUT_MS + 10_000);
    afterAll(() => {
      for (const client of clients) client.close();
    });

    it('the upgrade hook refuses another Origin with 403 and accepts https://example.com', async () => {
      const refused = await refusal(new WebSocket(url, ['v1.json.shoal.dev'], { origin: 'https://evil.example' }));
      expect(refused).toEqual({ status: 403, body: expect.stringContaining('bad origin') });
      const { client } = await connect();
      expect(client.protocol).toMatch(/shoal\.dev$/);
    });

    it('welcomes with the address, answers add, BAD_NICK, wait and the cpu fib', async () => {
      const { client, address } = await connect();
      expect(address).toMatch(/^\d+\.\d+$/);
      expect(await client.request('add', { a: 2, b: 3 })).toBe(5);
      const badNick = client.request('setNick', '  ');
      await expect(badNick).rejects.toBeInstanceOf(ShoalError);
      await expect(badNick).rejects.toMatchObject({ code: 'BAD_NICK' });
      expect(await client.request('setNick', 'ann')).toBeNull();
      expect(await client.request('wait', { ms: 1 })).toBe('done');
      expect(await client.request('fib', 20)).toBe(6765);
    });

    it('typing publishes to room subscribers, poke reaches another connection, other topics are refused', async () => {
      const ann = await connect();
      const bob = await connect();
      await ann.client.request('setNick', 'ann');
      const published = Promise.withResolvers<unknown>();
      await bob.client.subscribe('room:lobby', published.resolve);
      ann.client.emit('typing', { room: 'lobby' });
      expect(await published.promise).toEqual({ nick: 'ann', text: '…' });

      const poked = nextEvent(bob.client, 'poke');
      expect(await ann.client.request('poke', { address: bob.address })).toBe(true);
      expect(await poked).toEqual({ from: ann.address });

      await expect(bob.client.subscribe('lobby', () => {})).rejects.toMatchObject({ code: 'FORBIDDEN' });
    });
  });

  it("app-api.md's borrowMessages app echoes text and binary", async () => {
    const { url } = await serve(write('app-api/borrowed.ts', example('appApiBorrowed')));
    const ws = await openRaw(url);
    const text = nextText(ws);
    ws.send('hello');
    expect(await text).toBe('hello');
    const binary = once(ws, 'message');
    ws.send(Buffer.from([1, 2, 3]));
    const [data, isBinary] = (await binary) as [Buffer, boolean];
    expect([...data]).toEqual([1, 2, 3]);
    expect(isBinary).toBe(true);
    await closeRaw(ws);
  });

  it("app-api.md's host script (with the page's app as ./app.ts) runs to its last line, then stops on SIGTERM", async () => {
    write('app-api/app.ts', example('appApiApp'));
    // The example binds the default port 9001: 0 here. Probe: a line after its last one.
    const code = `${replaceOnce(example('appApiHost'), "createServer({ app: './app.ts' })", "createServer({ app: './app.ts', port: 0 })")}\nconsole.log('the example ran to its end');`;
    const script = write('app-api/host.ts', code);
    const host = startNode([script], dirname(script));
    await host.waitFor(/the example ran to its end/, "the host script's last line");
    await terminate(host, 'the host script after SIGTERM');
    expect(host.output()).toBe('the example ran to its end\n');
  });

  it("app-api.md's onStart app: ticks arrive from onStart, chat messages reach the subscribers", async () => {
    const { server, url } = await serve(write('app-api/on-start.ts', example('appApiOnStart')));
    const ws = await openRaw(url);
    const tick = await messageWhere(ws, 'a tick (an ISO date) from onStart', (data) => !Number.isNaN(Date.parse(data.toString())));
    expect(tick.toString()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const chat = messageWhere(ws, 'the chat message back', (data) => data.toString() === 'hi all');
    ws.send('hi all');
    await chat;
    await closeRaw(ws);
    expect(await terminate(server, 'shoal serve after SIGTERM')).toBe(0); // onStart's cleanup ran without error
    expect(server.output()).not.toMatch(/onStart cleanup failed/);
  });

  it("server.md's http app answers GET /healthz with 200 ok, 404 elsewhere, and echoes on WebSocket", async () => {
    const { url } = await serve(write('server/http-app.ts', example('serverHttpApp')));
    const http = url.replace(/^ws:/, 'http:');
    const health = await fetch(`${http}healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toBe('text/plain');
    expect(await health.text()).toBe('ok\n');
    const other = await fetch(`${http}other`);
    expect(other.status).toBe(404);
    await other.arrayBuffer();
    const ws = await openRaw(url);
    const echo = nextText(ws);
    ws.send('ping?');
    expect(await echo).toBe('ping?');
    await closeRaw(ws);
  });

  it("server.md's programmatic snippet (with the page's http app as ./my-app.ts) listens on a ws:// URL and closes: exit 0", async () => {
    write('server/my-app.ts', example('serverHttpApp'));
    // Probe: print the URL the snippet's comment describes.
    const script = write('server/host.ts', `${example('serverHost')}\nconsole.log(url);`);
    const host = startNode([script], dirname(script));
    expect(await host.exitCode('the server.md snippet')).toBe(0);
    expect(host.output()).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/\n$/);
  });

  // examples/*/README.md give commands rather than ts blocks: run those too, with the files as they are.
  it('examples/rpc: client.ts against app.ts prints the right answers (as its README runs them)', async () => {
    const { server, url } = await serve(join(ROOT, 'examples/rpc/app.ts'));
    const client = startNode([join(ROOT, 'examples/rpc/client.ts'), url]);
    expect(await client.exitCode('examples/rpc/client.ts')).toBe(0);
    const output = client.output();
    expect(output).toMatch(/^connected with v1\.msgpack\.shoal\.dev$/m);
    expect(output).toMatch(/^add\(2, 40\) = 42$/m);
    expect(output).toMatch(/ mean: 5\.5,[\s\S]* median: 5\.5,/);
    // pi(10^7) = 664,579; 600851475143 = 71 x 839 x 1471 x 6857.
    expect(output).toMatch(/^countPrimes\(1e7\) = 664579, factor\(600851475143\) = \[71, 839, 1471, 6857\] in \d+ ms/m);
    expect(output).toMatch(/^stats\(\[\]\) refused: BAD_INPUT: /m);
    // Its README's wire example: `[1, 1, "add", {"a": 2, "b": 40}]` on v1.json.shoal.dev is answered `[2, 1, 42]`.
    const json = new WebSocket(url, 'v1.json.shoal.dev');
    await once(json, 'open');
    const reply = messageWhere(json, 'the reply to request 1', (data) => data.toString().startsWith('[2,'));
    json.send('[1, 1, "add", {"a": 2, "b": 40}]');
    expect(JSON.parse((await reply).toString())).toEqual([2, 1, 42]);
    await closeRaw(json);
    // ... and a client that offers no Shoal subprotocol gets 400 with the list of subprotocols in the body.
    const { status, body } = await refusal(new WebSocket(url));
    expect(status).toBe(400);
    expect(body).toMatch(/v1\.msgpack\.shoal\.dev/);
    expect(body).toMatch(/v1\.json\.shoal\.dev/);
    expect(await terminate(server, 'shoal serve of examples/rpc after SIGTERM')).toBe(0);
  });

  it('examples/chat: serve.ts serves the page and the WebSocket on one port, and stops on SIGTERM with 0', async () => {
    const chat = startNode([join(ROOT, 'examples/chat/serve.ts'), '--port', '0', '--workers', '1']);
    const [, http] = await chat.waitFor(/chat: open (http:\/\/127\.0\.0\.1:\d+\/)/, 'examples/chat/serve.ts to say where it listens');
    const page = await fetch(http);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const client = new ShoalClient(http.replace(/^http:/, 'ws:'));
    await client.connect();
    expect(client.protocol).toMatch(/^v1\.(msgpack|json)\.shoal\.dev$/);
    client.close();
    expect(await terminate(chat, 'examples/chat/serve.ts after SIGTERM')).toBe(0);
  });
});
