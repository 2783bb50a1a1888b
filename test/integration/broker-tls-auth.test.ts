/**
 * The cluster broker over TLS with a password: a real redis-server listening
 * on TLS only (`--port 0 --tls-port`, a server certificate signed by a CA
 * made at test time) with `--requirepass`, and `shoal serve --broker
 * rediss://…` nodes (one worker each) that trust the CA through
 * NODE_EXTRA_CA_CERTS, Node's own way of adding a CA to every TLS client.
 * - the password from SHOAL_BROKER_PASSWORD on one node and in the URL on
 *   the other: a publication crosses from one to the other;
 * - a wrong password: the node starts and serves, /healthz says the broker
 *   is not ready, cross-node publications are refused with
 *   BROKER_UNAVAILABLE, and the refusal is logged once per broker
 *   connection set however often it retries (Redis's ACL LOG counts the
 *   retries);
 * - the right password without the CA: the certificate is refused (TLS is
 *   checked, not just used).
 * And, in this process, a broker whose Redis is first absent then refuses its
 * password: each cause logged once however many retries.
 */
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCertificates, type TestCertificates } from '../helpers/certificates.ts';
import { RedisBroker } from '../../src/app/redis-broker.ts';
import { captureLogs } from '../helpers/log-capture.ts';
import { freePort, RedisServer } from '../helpers/redis-server.ts';
import { startShoal, type ShoalProcess } from '../helpers/shoal-process.ts';
import { until } from '../helpers/until.ts';
import { RawClient } from './raw-client.ts';

const APP = fileURLToPath(new URL('./apps/raw-pubsub-app.ts', import.meta.url));
const PASSWORD = 'tls-and-auth-secret';

let certificates: TestCertificates;
let caFile = '';
let redis: RedisServer | null = null;
let admin: Redis | null = null;
const nodes: ShoalProcess[] = [];
const clients: RawClient[] = [];

beforeAll(async () => {
  certificates = testCertificates();
  const ca = certificates.make('shoal-test-ca');
  caFile = ca.cert;
  const server = certificates.makeSigned('redis', ca);
  redis = await RedisServer.start(undefined, { password: PASSWORD, tls: { cert: server.cert, key: server.key, ca: ca.cert } });
  // The test's own view of Redis (ACL LOG), over TLS with the password.
  admin = await redis.connectClient();
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(nodes.map((node) => node.stop()));
  admin?.disconnect();
  await redis?.stop();
  certificates?.remove();
});

async function node(url: string, env: Record<string, string>): Promise<ShoalProcess> {
  const started = await startShoal(['--app', APP, '--workers', '1', '--broker', url], env);
  nodes.push(started);
  return started;
}

async function healthz(node: ShoalProcess): Promise<{ status: number; text: string }> {
  const response = await fetch(`${node.admin}/healthz`);
  return { status: response.status, text: await response.text() };
}

async function raw(node: ShoalProcess): Promise<RawClient> {
  const client = await RawClient.open(`ws://127.0.0.1:${node.port}/`);
  clients.push(client);
  return client;
}

/** Failed AUTHs Redis has seen (ACL LOG groups repeats of one client into one entry with a count). */
async function failedAuths(redisAdmin: Redis = admin as Redis): Promise<number> {
  const entries = (await redisAdmin.call('ACL', 'LOG')) as unknown[][];
  let count = 0;
  for (const entry of entries) {
    const fields = new Map<string, unknown>();
    for (let i = 0; i < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
    if (fields.get('reason') === 'auth') count += Number(fields.get('count'));
  }
  return count;
}

describe('the broker over TLS with a password', () => {
  it('carries a publication between nodes, password from SHOAL_BROKER_PASSWORD on one and in the URL on the other', async () => {
    const url = (redis as RedisServer).url;
    const [first, second] = await Promise.all([
      node(url, { NODE_EXTRA_CA_CERTS: caFile, SHOAL_BROKER_PASSWORD: PASSWORD }),
      node(url.replace('rediss://', `rediss://:${PASSWORD}@`), { NODE_EXTRA_CA_CERTS: caFile }),
    ]);
    for (const each of [first, second]) await until(async () => (await healthz(each)).text.includes('broker: ready'), 'broker ready');
    const subscriber = await raw(second);
    expect(await subscriber.subscribe('secured')).toBe(true);
    const publisher = await raw(first);
    // The answer is the number of subscribers on the publisher's own node: none.
    expect(await publisher.command({ pub: 'secured', text: 'over tls' })).toBe(0);
    expect(await subscriber.nextText((text) => text === 'over tls')).toBe('over tls');
    // And back the other way.
    const backSubscriber = await raw(first);
    expect(await backSubscriber.subscribe('secured-back')).toBe(true);
    expect(await subscriber.command({ pub: 'secured-back', text: 'and back' })).toBe(0);
    expect(await backSubscriber.nextText((text) => text === 'and back')).toBe('and back');
  }, 90_000);

  it('with a wrong password: the node serves, reports the broker not ready, refuses cross-node publications and logs the refusal once', async () => {
    const before = await failedAuths();
    const wrong = await node((redis as RedisServer).url, { NODE_EXTRA_CA_CERTS: caFile, SHOAL_BROKER_PASSWORD: 'not-the-password' });
    // Its primary and its worker (publishing and subscribed) connections retry with backoff: many refusals.
    await until(async () => (await failedAuths()) >= before + 12, 'the node retried its AUTH many times', 60_000);
    const health = await healthz(wrong);
    expect(health.status).toBe(200);
    expect(health.text).toBe('ok\nbroker: connecting\n');
    const client = await raw(wrong);
    expect(await client.command({ pub: 'secured', text: 'refused' })).toEqual({ error: 'BROKER_UNAVAILABLE' });
    // Its own clients are still served: a subscription on the node itself.
    expect(await client.subscribe('local')).toBe(true);
    expect(wrong.child.exitCode).toBeNull();
    // One line per broker (the worker's and the primary's), not one per retry.
    const refusals = wrong.output().split('\n').filter((line) => line.includes('WRONGPASS'));
    expect(refusals).toHaveLength(2);
    for (const line of refusals) expect(JSON.parse(line)).toMatchObject({ level: 'warn', cause: 'WRONGPASS', msg: 'broker connection failed; retrying with backoff' });
    expect(wrong.output()).not.toContain('not-the-password');
  }, 90_000);

  it('without the CA: the certificate is refused and the broker never gets ready', async () => {
    const untrusting = await node((redis as RedisServer).url, { SHOAL_BROKER_PASSWORD: PASSWORD });
    await until(() => untrusting.output().includes('"cause":"SELF_SIGNED_CERT_IN_CHAIN"'), 'the certificate refusal logged');
    expect((await healthz(untrusting)).text).toBe('ok\nbroker: connecting\n');
  }, 90_000);
});

describe('a broker failing for one cause, then another', () => {
  it('logs each cause once, not at every retry', async () => {
    const port = await freePort();
    const logs = captureLogs('warn');
    const broker = new RedisBroker({ url: `redis://127.0.0.1:${port}`, nodeId: 'causes', password: 'not-the-password' }, 1, { subscriber: true });
    let plain: RedisServer | null = null;
    let plainAdmin: Redis | null = null;
    const lines = (cause: string): number => logs.lines.filter((line) => line.cause === cause).length;
    try {
      await until(() => lines('ECONNREFUSED') > 0, 'connection refused logged');
      // Redis comes, with a password the broker does not have.
      plain = await RedisServer.start(port, { password: PASSWORD });
      plainAdmin = await plain.connectClient();
      await until(async () => (await failedAuths(plainAdmin as Redis)) >= 8, 'many refused AUTHs', 60_000);
      expect(broker.state).toBe('connecting');
      expect(() => broker.admit('any')).toThrow(/broker is connecting/);
      expect(lines('ECONNREFUSED')).toBe(1);
      expect(lines('WRONGPASS')).toBe(1);
    } finally {
      await broker.close();
      logs.restore();
      plainAdmin?.disconnect();
      await plain?.stop();
    }
  }, 90_000);
});
