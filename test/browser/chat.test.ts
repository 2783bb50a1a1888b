/**
 * The chat example in Chromium (driven by playwright-core): the page loads
 * the typed client from src/client (types stripped by the app's http
 * handler, no bundler) from the same port as its WebSocket, and two tabs on different workers chat through the server; a
 * third tab sees the history, whichever worker it lands on.
 */
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let shoal: TestServer;
/** The page comes from the chat app's http handler, on the WebSocket's port. */
let pageOrigin: string;
let browser: Browser;

beforeAll(async () => {
  shoal = await startServer({ app: fileURLToPath(new URL('../../examples/chat/app.ts', import.meta.url)), workers: 2 });
  pageOrigin = `http://127.0.0.1:${shoal.port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await shoal?.close();
});

/** Open the page, join `room` as `nick`, and return the page with its connection's address. */
async function joinAs(nick: string, query = ''): Promise<{ page: Page; address: string; status: string }> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`[${nick}] page error:`, error));
  await page.goto(`${pageOrigin}/${query}`);
  await page.locator('#status[data-state="open"]').waitFor();
  await page.fill('#join input[name=nick]', nick);
  await page.fill('#join input[name=room]', 'lobby');
  await page.click('#join button');
  await page.locator('#me[data-address]').waitFor();
  const address = (await page.getAttribute('#me', 'data-address')) as string;
  return { page, address, status: (await page.textContent('#status')) as string };
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#say input[name=text]', text);
  await page.click('#say button');
}

function messages(page: Page): Promise<string[]> {
  return page.locator('#messages li.message').evaluateAll((items) => items.map((item) => item.textContent ?? ''));
}

const workerOf = (address: string): string => address.split('.')[0];

describe('chat example in Chromium', () => {
  it('two tabs on different workers chat, and a late tab gets the shared history', { timeout: 60_000 }, async () => {
    const ann = await joinAs('ann');
    // Tabs until one lands on another worker than ann's. The pool balances by connections, and the pages' own HTTP
    // connections (keep-alive, closed when Chromium chooses) count too, so on a loaded machine a few tabs may land
    // on ann's worker first; each tab adds one WebSocket there, so this ends.
    let bob = await joinAs('bob', '?protocol=json');
    for (let extra = 0; workerOf(bob.address) === workerOf(ann.address) && extra < 8; extra++) bob = await joinAs(`bob${extra}`, '?protocol=json');
    expect(workerOf(bob.address)).not.toBe(workerOf(ann.address));
    expect(ann.status).toContain('v1.msgpack.shoal.dev');
    expect(bob.status).toContain('v1.json.shoal.dev');

    await say(ann.page, 'hello from ann');
    await bob.page.locator('#messages li.message', { hasText: 'hello from ann' }).waitFor();
    await say(bob.page, 'hi ann, bob here');
    await ann.page.locator('#messages li.message', { hasText: 'bob here' }).waitFor();

    expect(await messages(ann.page)).toEqual(['annhello from ann', expect.stringMatching(/^bob\d?hi ann, bob here$/)]);
    expect(await messages(bob.page)).toEqual(['annhello from ann', expect.stringMatching(/^bob\d?hi ann, bob here$/)]);

    // Each worker stored one message itself and got the other from its peer (history.ts):
    // a late tab sees both, in the same order, on whichever worker it lands.
    const late = await joinAs('cat');
    await late.page.locator('#messages li.message', { hasText: 'bob here' }).waitFor();
    expect(await messages(late.page)).toEqual(await messages(ann.page));
  });
});
