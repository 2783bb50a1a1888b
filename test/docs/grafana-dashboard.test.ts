/**
 * docs/grafana-dashboard.json: it parses as a Grafana dashboard, and every
 * metric its queries name exists in a real scrape of /metrics (a server with
 * connections, requests and a publication behind it), so a renamed metric
 * cannot leave the dashboard silently empty.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MSGPACK_PROTOCOL } from '../../src/codec/envelope.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { EnvelopeClient } from '../integration/shoal-helpers.ts';

const DASHBOARD = fileURLToPath(new URL('../../docs/grafana-dashboard.json', import.meta.url));
const APP = fileURLToPath(new URL('../integration/apps/shoal-test-app.ts', import.meta.url));

interface Dashboard {
  title: string;
  panels: { title: string; targets: { expr: string }[] }[];
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
}

let server: TestServer | null = null;
afterAll(async () => server?.close());

describe('docs/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const queried = new Set(dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => target.expr.match(/\bshoal_[a-z0-9_]+/g) ?? [])));

  it('is a dashboard with panels that query Shoal metrics', () => {
    expect(dashboard.title).toMatch(/Shoal/);
    expect(dashboard.panels.length).toBeGreaterThan(8);
    for (const panel of dashboard.panels) expect(panel.targets.length, panel.title).toBeGreaterThan(0);
    expect(queried.size).toBeGreaterThan(20);
  });

  it('queries only metrics that a real scrape has', async () => {
    server = await startServer({ adminPort: 0, workers: 1, app: APP });
    const admin = server.server.adminAddress?.url as string;
    const client = await EnvelopeClient.open(`${server.origin}/`, MSGPACK_PROTOCOL);
    expect(await client.call(1, '$subscribe', 'news')).toEqual([2, 1, null]);
    expect(await client.call(2, 'publish', { topic: 'news', data: 1 })).toEqual([2, 2, 1]);
    // One read in 8 is timed (telemetry/read-clock.ts): 16 requests, one per read, give the histogram samples.
    for (let id = 3; id < 19; id++) expect(await client.call(id, 'add', { a: 1, b: 2 })).toEqual([2, id, 3]);
    // Workers report every 0.5 s: poll until the requests show up.
    let text = '';
    const deadline = Date.now() + 15_000;
    while (!text.includes('shoal_request_duration_seconds_count{method="add"') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      text = await get(`${admin}metrics`);
    }
    client.close();
    const exposed = new Set<string>();
    for (const line of text.split('\n')) {
      const declared = /^# TYPE (\S+) /.exec(line);
      if (declared !== null) exposed.add(declared[1] as string);
      else if (line !== '' && !line.startsWith('#')) exposed.add(line.split(/[{ ]/)[0] as string);
    }
    const missing = [...queried].filter((name) => !exposed.has(name));
    expect(missing).toEqual([]);
    // The histograms the latency panels read have samples, not just a declaration.
    for (const name of ['shoal_request_duration_seconds_bucket', 'shoal_handshake_duration_seconds_bucket', 'shoal_publication_write_delay_seconds_bucket', 'shoal_publication_fanout_bucket']) {
      expect(text, name).toContain(`${name}{`);
    }
  });
});
