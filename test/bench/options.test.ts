import { describe, expect, it } from 'vitest';
import { BenchUsageError, DEFAULT_SUITE, TLS_SUITE, defaultWorkerSweep, parseBenchArgs, parseLoopbackTarget, parseScenarioSpec } from '../../bench/load/options.ts';
import { TLS_LABEL_SUFFIX } from '../../bench/load/results.ts';
import { resultLabels } from '../../bench/load/suite.ts';

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BenchUsageError);
    return (error as Error).message;
  }
  return expect.fail('expected a BenchUsageError');
}

describe('--target: loopback only', () => {
  it('accepts 127.0.0.1 with port and path', () => {
    expect(parseLoopbackTarget('ws://127.0.0.1:9001/chat?room=1')).toEqual({ host: '127.0.0.1', port: 9001, path: '/chat?room=1' });
  });
  it('accepts any 127/8 address, [::1], and localhost as 127.0.0.1 without DNS', () => {
    expect(parseLoopbackTarget('ws://127.1.2.3:1/').host).toBe('127.1.2.3');
    expect(parseLoopbackTarget('ws://[::1]:9001/')).toEqual({ host: '::1', port: 9001, path: '/' });
    expect(parseLoopbackTarget('ws://localhost:9001').host).toBe('127.0.0.1');
  });
  it('defaults the port to 80', () => {
    expect(parseLoopbackTarget('ws://127.0.0.1/').port).toBe(80);
  });
  it('refuses other hosts with a clear error', () => {
    expect(usageError(() => parseLoopbackTarget('ws://example.com:9001/'))).toMatch(/refusing non-loopback host "example.com"/);
    expect(usageError(() => parseLoopbackTarget('ws://10.0.0.1/'))).toMatch(/non-loopback/);
    expect(usageError(() => parseLoopbackTarget('ws://[2001:db8::1]/'))).toMatch(/non-loopback/);
  });
  it('refuses wss:, http: and non-URLs', () => {
    expect(usageError(() => parseLoopbackTarget('wss://127.0.0.1/'))).toMatch(/only ws:\/\//);
    expect(usageError(() => parseLoopbackTarget('http://127.0.0.1/'))).toMatch(/only ws:\/\//);
    expect(usageError(() => parseLoopbackTarget('127.0.0.1:9001'))).toMatch(/only ws:\/\/|not a URL/);
  });
});

describe('scenario specs', () => {
  const defaults = { connections: 50, inflight: 16, size: 64, subscribers: 200, publishers: 2, concurrency: 32, idleConnections: 2000, httpConnections: 32 };
  it('takes defaults and overrides per scenario', () => {
    expect(parseScenarioSpec('echo', defaults)).toMatchObject({ name: 'echo', connections: 50, inflight: 16, payloadBytes: 64, label: 'echo 64 B x16, 50 conn' });
    expect(parseScenarioSpec('echo:size=16384:inflight=4', defaults)).toMatchObject({ payloadBytes: 16384, inflight: 4, label: 'echo 16 KiB x4, 50 conn' });
    expect(parseScenarioSpec('echo:size=1048576:inflight=1', defaults)).toMatchObject({ payloadBytes: 1048576, inflight: 1, label: 'echo 1 MiB x1, 50 conn' });
    expect(parseScenarioSpec('idle', defaults).connections).toBe(2000);
    expect(parseScenarioSpec('http', defaults).connections).toBe(32);
    expect(parseScenarioSpec('broadcast:subscribers=10:publishers=1', defaults).label).toBe('broadcast 1 pub -> 10 sub x4');
    expect(parseScenarioSpec('raw-broadcast:rate=5000', defaults)).toMatchObject({ publishRate: 5000, label: 'raw-broadcast 2 pub -> 200 sub, paced at 5000 pub/s' });
    expect(parseScenarioSpec('broadcast', defaults).publishRate).toBe(0);
  });
  it('refuses unknown names and keys', () => {
    expect(usageError(() => parseScenarioSpec('storm', defaults))).toMatch(/unknown scenario "storm"/);
    expect(usageError(() => parseScenarioSpec('echo:speed=9', defaults))).toMatch(/unknown key "speed"/);
    expect(usageError(() => parseScenarioSpec('echo:rate=10', defaults))).toMatch(/echo: rate is for broadcast and raw-broadcast/);
    expect(usageError(() => parseScenarioSpec('cross-node:rate=10', defaults))).toMatch(/cross-node: rate is for broadcast and raw-broadcast/);
    expect(usageError(() => parseScenarioSpec('raw-broadcast:rate=0', defaults))).toMatch(/rate/);
    expect(usageError(() => parseScenarioSpec('echo:inflight=0', defaults))).toMatch(/integer >= 1/);
  });
  it('caps idle connections at 10000 (each is an open file on both sides)', () => {
    expect(parseScenarioSpec('idle:connections=10000', defaults).connections).toBe(10000);
    expect(usageError(() => parseScenarioSpec('idle:connections=10001', defaults))).toMatch(/over 10000/);
  });
});

describe('parseBenchArgs', () => {
  it('defaults to spawning Shoal with a 1,2,4.. sweep, all peers, the default suite', () => {
    const options = parseBenchArgs([], 4);
    expect(options.mode).toBe('spawn');
    expect(options.workers).toEqual([1, 2, 4]);
    expect(options.peers).toEqual(['ws', 'bun', 'uws']);
    expect(options.scenarios.map((s) => s.name)).toEqual(DEFAULT_SUITE.map((text) => text.split(':')[0]));
    expect([options.warmupMs, options.durationMs, options.threads]).toEqual([1000, 3000, 1]);
  });
  it('uses one generator thread per four cores, 1 to 4', () => {
    expect([1, 2, 4, 8, 16, 64].map((cpus) => parseBenchArgs([], cpus).threads)).toEqual([1, 1, 1, 2, 4, 4]);
  });
  it('sweeps up to the core count', () => {
    expect(defaultWorkerSweep(1)).toEqual([1]);
    expect(defaultWorkerSweep(2)).toEqual([1, 2]);
    expect(defaultWorkerSweep(6)).toEqual([1, 2, 4, 6]);
  });
  it('reads every flag, also as --flag=value', () => {
    const options = parseBenchArgs(
      ['--target=ws://127.0.0.1:9001/', '--server-pid', '42', '--against', 'ws,uws', '--duration', '0.5', '--warmup=0', '--threads', '2', '--pin', '--json', 'a.json', '--report', 'b.html', '--quiet', '--scenarios', 'echo:size=8'],
      2,
    );
    expect(options).toMatchObject({ mode: 'target', serverPid: 42, peers: ['ws', 'uws'], durationMs: 500, warmupMs: 0, threads: 2, pin: true, jsonPath: 'a.json', reportPath: 'b.html', quiet: true });
    expect(options.scenarios[0].payloadBytes).toBe(8);
  });
  it('--against none runs no peers', () => {
    expect(parseBenchArgs(['--against', 'none'], 2).peers).toEqual([]);
  });
  it('refuses contradictions and unknowns', () => {
    expect(usageError(() => parseBenchArgs(['--spawn', '--target', 'ws://127.0.0.1:1/'], 2))).toMatch(/exclude each other/);
    expect(usageError(() => parseBenchArgs(['--server-pid', '1'], 2))).toMatch(/goes with --target/);
    expect(usageError(() => parseBenchArgs(['--against', 'nginx'], 2))).toMatch(/unknown peer "nginx"/);
    expect(usageError(() => parseBenchArgs(['--fast'], 2))).toMatch(/unknown option --fast/);
    expect(usageError(() => parseBenchArgs(['--scenarios', 'echo,echo'], 2))).toMatch(/listed twice/);
    expect(usageError(() => parseBenchArgs(['--duration', '0'], 2))).toMatch(/--duration/);
  });
});

describe('--tls and `shoal bench http`', () => {
  it('--tls defaults to connect, echo 32 B pipelined and echo 16 KiB', () => {
    const options = parseBenchArgs(['--tls'], 2);
    expect(options.tls).toBe(true);
    expect(TLS_SUITE).toEqual(['connect', 'echo:size=32', 'echo:size=16384:inflight=4']);
    expect(options.scenarios.map((s) => s.label)).toEqual(['connect, 32 concurrent', 'echo 32 B x16, 50 conn', 'echo 16 KiB x4, 50 conn']);
    expect(parseBenchArgs([], 2).tls).toBe(false);
  });
  it('--tls takes WebSocket scenarios only, and no --target', () => {
    expect(parseBenchArgs(['--tls', '--scenarios', 'rpc,idle'], 2).scenarios.map((s) => s.name)).toEqual(['rpc', 'idle']);
    expect(usageError(() => parseBenchArgs(['--tls', '--scenarios', 'echo,http'], 2))).toMatch(/scenario http has no TLS variant/);
    expect(usageError(() => parseBenchArgs(['--tls', '--scenarios', 'raw-broadcast'], 2))).toMatch(/scenario raw-broadcast has no TLS variant/);
    expect(usageError(() => parseBenchArgs(['--tls', '--scenarios', 'echo,cross-node'], 2))).toMatch(/scenario cross-node has no TLS variant/);
    expect(usageError(() => parseBenchArgs(['--tls', '--target', 'ws://127.0.0.1:1/'], 2))).toMatch(/does not go with --target/);
  });
  it('`http` as the first word runs the http scenario alone', () => {
    const options = parseBenchArgs(['http', '--workers', '1', '--http-connections', '8'], 2);
    expect(options.scenarios.map((s) => s.label)).toEqual(['http, 8 conn']);
    expect(options.workers).toEqual([1]);
    expect(usageError(() => parseBenchArgs(['http', '--scenarios', 'echo'], 2))).toMatch(/--scenarios goes without it/);
    expect(usageError(() => parseBenchArgs(['--workers', '1', 'http'], 2))).toMatch(/unknown option http/);
  });
});

describe('resultLabels', () => {
  const specs = parseBenchArgs(['--scenarios', 'echo,http,cross-node'], 2).scenarios;
  it('http gives three floods, cross-node two runs, the others one', () => {
    expect(specs.map((spec) => resultLabels(spec))).toEqual([
      ['echo 64 B x16, 50 conn'],
      ['http, 32 conn: rejected upgrades (400)', 'http, 32 conn: app handler GET /', 'http, 32 conn: health endpoint'],
      ['cross-node 2 pub (node A) -> 200 sub (node B) x4', 'cross-node 2 pub (node A) -> 200 sub (node B) x4: at half the maximum rate'],
    ]);
  });
  it("a TLS target's labels end with the TLS suffix", () => {
    expect(resultLabels(specs[0], true)).toEqual([`echo 64 B x16, 50 conn${TLS_LABEL_SUFFIX}`]);
    expect(resultLabels(specs[2], true)).toEqual(resultLabels(specs[2]).map((label) => `${label}${TLS_LABEL_SUFFIX}`));
  });
});
