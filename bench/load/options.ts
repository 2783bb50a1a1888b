/**
 * `shoal bench` arguments: pure argv -> BenchOptions, with the defaults of the
 * default suite. Throws BenchUsageError with a message fit for the terminal.
 */

/** A command-line mistake; main prints the message and the usage and exits with 2. */
export class BenchUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchUsageError';
  }
}

export type ScenarioName = 'echo' | 'rpc' | 'broadcast' | 'raw-broadcast' | 'cross-node' | 'connect' | 'idle' | 'http';
export const SCENARIO_NAMES: readonly ScenarioName[] = ['echo', 'rpc', 'broadcast', 'raw-broadcast', 'cross-node', 'connect', 'idle', 'http'];
/** The scenarios whose rate is deliveries (a fan-out): they also report deliveries per server CPU-second. */
export const FAN_OUT_SCENARIOS: readonly ScenarioName[] = ['broadcast', 'raw-broadcast', 'cross-node'];

export type PeerName = 'ws' | 'bun' | 'uws' | 'socketio' | 'node';
export const PEER_NAMES: readonly PeerName[] = ['ws', 'bun', 'uws', 'socketio', 'node'];
/** Scenarios the bare Node peer (bench/peers/node-server.ts) serves; it is skipped in the others. */
export const NODE_PEER_SCENARIOS: readonly string[] = ['connect', 'echo', 'idle'];
/** Peers when --against is not given: these, plus socketio when a cross-node scenario is asked for. */
export const DEFAULT_PEERS: readonly PeerName[] = ['ws', 'bun', 'uws'];

/** A scenario's numeric parameters, resolved; a result repeats them (ScenarioResult.params). */
export interface ScenarioParams {
  /** echo/rpc/idle connections; http: autocannon connections. */
  connections: number;
  inflight: number;
  payloadBytes: number;
  subscribers: number;
  publishers: number;
  /** connect: concurrent handshakes. */
  concurrency: number;
}

/** One scenario run with all its parameters resolved. */
export interface ScenarioSpec extends ScenarioParams {
  name: ScenarioName;
  /** Human label, unique within a run, e.g. "echo 64 B x16". */
  label: string;
  /**
   * broadcast, raw-broadcast: publications per second over all publishers,
   * paced whatever the answers (the same offered load for every server;
   * a result says it in `extra.targetPublishesPerSec`);
   * 0: closed loop, as fast as answers come back.
   */
  publishRate: number;
}

/** A loopback WebSocket endpoint. */
export interface LoopbackTarget {
  host: string;
  port: number;
  path: string;
}

export interface BenchOptions {
  /** Start Shoal (`spawn`) or use a running server (`target`). */
  mode: 'spawn' | 'target';
  target: LoopbackTarget | null;
  /** With --target: the server's pid, for CPU and memory. */
  serverPid: number | null;
  workers: number[];
  peers: PeerName[];
  scenarios: ScenarioSpec[];
  warmupMs: number;
  durationMs: number;
  threads: number;
  maxMessages: number;
  timeoutMs: number;
  pin: boolean;
  /**
   * --tls: every target runs twice in a row, without and with TLS (a certificate
   * the run makes with openssl), so the TLS cost is a ratio from one run.
   */
  tls: boolean;
  /** Output files; null = the default path under bench/results (unless noFiles). */
  jsonPath: string | null;
  reportPath: string | null;
  noFiles: boolean;
  quiet: boolean;
  help: boolean;
}

/** Idle connections above this need --idle-connections explicitly and enough file descriptors. */
export const DEFAULT_MAX_IDLE_CONNECTIONS = 10_000;

/**
 * The suite of `--tls`: handshakes/s, echo 32 B pipelined and echo 16 KiB
 * (connect first: a full TLS handshake per connection is the cost TLS adds most to).
 */
export const TLS_SUITE: readonly string[] = ['connect', 'echo:size=32', 'echo:size=16384:inflight=4'];

/** Scenarios that run over TLS with --tls: those on the generator's WebSocket connections. */
export const TLS_SCENARIOS: readonly ScenarioName[] = ['echo', 'rpc', 'broadcast', 'connect', 'idle'];

/** The default suite, in run order (idle first, on a fresh server, so its memory reading is clean). */
export const DEFAULT_SUITE: readonly string[] = [
  'idle',
  'connect',
  'echo:inflight=1',
  'echo',
  'echo:size=16384:inflight=4',
  'echo:size=65536:inflight=4',
  'echo:size=1048576:inflight=1',
  'rpc',
  'broadcast',
  'http',
];

export const USAGE = `usage: shoal bench [http] [options]

Runs load scenarios against Shoal (started here, a worker-count sweep) or any
ws:// server on this machine, and side by side against peer servers.
\`shoal bench http\` is \`--scenarios http\`: rejected upgrades, the app's http
handler (GET /) and the health endpoint.

target
  --spawn                  start Shoal for each --workers count (default)
  --target URL             a running server, ws://127.0.0.1:PORT/PATH (loopback only)
  --server-pid PID         with --target: read that process's CPU and memory from /proc
  --workers LIST           Shoal worker counts to sweep (default: 1,2,4,... up to the cores)
  --against LIST           peers: ws,bun,uws,socketio,node or none (default: ws,bun,uws, plus socketio
                           with cross-node, socketio alone when every scenario is cross-node;
                           socketio runs cross-node only, node (bare Node: node:http 'upgrade',
                           the 101 and frames by hand, no TLS) connect, echo and idle only,
                           the others everything else)
scenarios
  --scenarios LIST         comma list of NAME[:key=value...]; names: ${SCENARIO_NAMES.join(', ')}
                           keys: size, inflight, connections, subscribers, publishers, concurrency,
                           rate (broadcast, raw-broadcast: publications/s in all, paced; default: as
                           fast as answers come back)
                           raw-broadcast: broadcast on raw connections (no Shoal subprotocol)
                           cross-node: a redis-server and two nodes (Shoal --broker, Socket.IO + redis
                           adapter), publishers on node A, subscribers on node B; at full and half rate
                           (default: ${DEFAULT_SUITE.join(',')})
  --duration S             measured seconds per scenario (default 3)
  --warmup S               warm-up seconds before each window (default 1)
  --connections N          echo/rpc connections (default 50)
  --inflight P             messages in flight per connection (default 16)
  --size BYTES             echo payload (default 64)
  --subscribers S          broadcast subscribers (default 200)
  --publishers K           broadcast publishers (default 2)
  --concurrency N          connect: concurrent handshakes (default 32)
  --idle-connections C     idle: connections held (default 2000, at most ${DEFAULT_MAX_IDLE_CONNECTIONS})
  --http-connections N     http: autocannon connections (default 32)
generator
  --threads T              generator threads (default: one per 4 cores, 1..4)
  --max-messages N         cap per scenario run (default 50000000)
  --timeout-ms MS          an answer later than this is a timeout error (default 5000)
  --pin                    pin server and generator to separate cores with taskset
  --tls                    run every target without and with TLS (wss://, a certificate made
                           with openssl for the run) and report TLS rate / plain rate
                           (default scenarios with --tls: ${TLS_SUITE.join(',')};
                           scenarios with a TLS variant: ${TLS_SCENARIOS.join(', ')})
output
  --json FILE              JSON results (default bench/results/ in the repository, ./shoal-bench-results/ installed; schema: docs/bench-json-schema.md)
  --report FILE            HTML report with charts (default next to the JSON, bench-<time>.html)
  --no-files               write no files (terminal only)
  --quiet                  no progress line
  --help
`;

interface Defaults {
  connections: number;
  inflight: number;
  size: number;
  subscribers: number;
  publishers: number;
  concurrency: number;
  idleConnections: number;
  httpConnections: number;
}

/** Generator threads by default: one per four cores, 1 to 4 (the server gets the rest). */
export function defaultGeneratorThreads(cpus: number): number {
  return Math.max(1, Math.min(4, Math.floor(cpus / 4)));
}

/** Worker counts 1, 2, 4, ... up to `cpus` (and `cpus` itself when it is not a power of two). */
export function defaultWorkerSweep(cpus: number): number[] {
  const counts: number[] = [];
  for (let n = 1; n <= Math.max(1, cpus); n *= 2) counts.push(n);
  if (cpus > 1 && counts[counts.length - 1] !== cpus) counts.push(cpus);
  return counts;
}

/**
 * Parse a ws:// URL and insist on a loopback host: the benchmark sends load
 * only to this machine ("localhost" is taken as 127.0.0.1, without DNS).
 */
export function parseLoopbackTarget(text: string): LoopbackTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BenchUsageError(`--target: not a URL: ${text}`);
  }
  if (url.protocol !== 'ws:') throw new BenchUsageError(`--target: only ws:// URLs are supported, got ${url.protocol}//`);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  let host: string;
  if (hostname === 'localhost') host = '127.0.0.1';
  else if (hostname === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)) host = hostname;
  else {
    throw new BenchUsageError(
      `--target: refusing non-loopback host ${JSON.stringify(hostname)}: the benchmark sends load only to 127.0.0.1 / ::1 (localhost)`,
    );
  }
  return { host, port: url.port === '' ? 80 : Number(url.port), path: `${url.pathname}${url.search}` };
}

function positiveInt(flag: string, value: string | undefined, min = 1): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min) throw new BenchUsageError(`${flag} needs an integer >= ${min}, got ${value ?? 'nothing'}`);
  return n;
}

function seconds(flag: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n < min || n > 3600) {
    throw new BenchUsageError(`${flag} needs a number of seconds in ${min}..3600, got ${value ?? 'nothing'}`);
  }
  return Math.round(n * 1000);
}

function list(flag: string, value: string | undefined): string[] {
  if (value === undefined || value.trim() === '') throw new BenchUsageError(`${flag} needs a comma-separated list`);
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  return n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`;
}

/** Resolve one "NAME[:key=value...]" item against the defaults. */
export function parseScenarioSpec(text: string, defaults: Defaults): ScenarioSpec {
  const [name, ...pairs] = text.split(':');
  if (!SCENARIO_NAMES.includes(name as ScenarioName)) {
    throw new BenchUsageError(`unknown scenario ${JSON.stringify(name)}; scenarios: ${SCENARIO_NAMES.join(', ')}`);
  }
  const values: Record<string, number> = {};
  for (const pair of pairs) {
    const [key, value] = pair.split('=');
    if (!['size', 'inflight', 'connections', 'subscribers', 'publishers', 'concurrency', 'rate'].includes(key)) {
      throw new BenchUsageError(`scenario ${name}: unknown key ${JSON.stringify(key)}`);
    }
    if (key === 'rate' && name !== 'broadcast' && name !== 'raw-broadcast') {
      throw new BenchUsageError(`scenario ${name}: rate is for broadcast and raw-broadcast (cross-node paces its second run itself)`);
    }
    values[key] = positiveInt(`scenario ${name} ${key}`, value, key === 'size' ? 0 : 1);
  }
  const scenario = name as ScenarioName;
  const spec: ScenarioSpec = {
    name: scenario,
    label: '',
    connections:
      values.connections ??
      (scenario === 'idle' ? defaults.idleConnections : scenario === 'http' ? defaults.httpConnections : defaults.connections),
    inflight: values.inflight ?? (FAN_OUT_SCENARIOS.includes(scenario) ? Math.min(defaults.inflight, 4) : defaults.inflight),
    payloadBytes: values.size ?? (FAN_OUT_SCENARIOS.includes(scenario) ? 16 : defaults.size),
    subscribers: values.subscribers ?? defaults.subscribers,
    publishers: values.publishers ?? defaults.publishers,
    concurrency: values.concurrency ?? defaults.concurrency,
    publishRate: values.rate ?? 0,
  };
  if (scenario === 'idle' && spec.connections > DEFAULT_MAX_IDLE_CONNECTIONS) {
    throw new BenchUsageError(
      `idle: ${spec.connections} connections is over ${DEFAULT_MAX_IDLE_CONNECTIONS}; each one is an open file in the generator and in the server`,
    );
  }
  if (spec.inflight > 1024) throw new BenchUsageError(`scenario ${name}: inflight is at most 1024`);
  if (spec.payloadBytes > 16 * 1024 * 1024) throw new BenchUsageError(`scenario ${name}: size is at most 16 MiB`);
  spec.label = labelOf(spec);
  return spec;
}

function labelOf(spec: ScenarioSpec): string {
  switch (spec.name) {
    case 'echo':
      return `echo ${formatBytes(spec.payloadBytes)} x${spec.inflight}, ${spec.connections} conn`;
    case 'rpc':
      return `rpc x${spec.inflight}, ${spec.connections} conn`;
    case 'broadcast':
    case 'raw-broadcast':
      return spec.publishRate > 0
        ? `${spec.name} ${spec.publishers} pub -> ${spec.subscribers} sub, paced at ${spec.publishRate} pub/s`
        : `${spec.name} ${spec.publishers} pub -> ${spec.subscribers} sub x${spec.inflight}`;
    case 'cross-node':
      return `cross-node ${spec.publishers} pub (node A) -> ${spec.subscribers} sub (node B) x${spec.inflight}`;
    case 'connect':
      return `connect, ${spec.concurrency} concurrent`;
    case 'idle':
      return `idle ${spec.connections} conn`;
    case 'http':
      return `http, ${spec.connections} conn`;
  }
}

/** Parse `shoal bench` arguments (argv without the command words). */
export function parseBenchArgs(argv: readonly string[], cpus: number): BenchOptions {
  const options: BenchOptions = {
    mode: 'spawn',
    target: null,
    serverPid: null,
    workers: defaultWorkerSweep(cpus),
    peers: [...DEFAULT_PEERS],
    scenarios: [],
    warmupMs: 1000,
    durationMs: 3000,
    threads: defaultGeneratorThreads(cpus),
    maxMessages: 50_000_000,
    timeoutMs: 5000,
    pin: false,
    tls: false,
    jsonPath: null,
    reportPath: null,
    noFiles: false,
    quiet: false,
    help: false,
  };
  const defaults: Defaults = {
    connections: 50,
    inflight: 16,
    size: 64,
    subscribers: 200,
    publishers: 2,
    concurrency: 32,
    idleConnections: 2000,
    httpConnections: 32,
  };
  let scenarioTexts: string[] | null = null;
  let spawnFlag = false;
  let againstGiven = false;
  let start = 0;
  // `shoal bench http`: the one mode word, the http scenario alone.
  if (argv[0] === 'http') {
    scenarioTexts = ['http'];
    start = 1;
  }
  for (let i = start; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--spawn':
        spawnFlag = true;
        break;
      case '--target':
        options.mode = 'target';
        options.target = parseLoopbackTarget(value() ?? '');
        break;
      case '--server-pid':
        options.serverPid = positiveInt(flag, value());
        break;
      case '--workers':
        options.workers = list(flag, value()).map((item) => positiveInt(flag, item));
        break;
      case '--against': {
        againstGiven = true;
        const names = list(flag, value());
        if (names.length === 1 && names[0] === 'none') options.peers = [];
        else {
          for (const name of names) {
            if (!PEER_NAMES.includes(name as PeerName)) throw new BenchUsageError(`--against: unknown peer ${JSON.stringify(name)}; peers: ${PEER_NAMES.join(', ')}, none`);
          }
          options.peers = [...new Set(names as PeerName[])];
        }
        break;
      }
      case '--scenarios':
        if (start === 1) throw new BenchUsageError('`shoal bench http` runs the http scenario; --scenarios goes without it');
        scenarioTexts = list(flag, value());
        break;
      case '--duration':
        options.durationMs = seconds(flag, value(), 0.2);
        break;
      case '--warmup':
        options.warmupMs = seconds(flag, value(), 0);
        break;
      case '--connections':
        defaults.connections = positiveInt(flag, value());
        break;
      case '--inflight':
        defaults.inflight = positiveInt(flag, value());
        break;
      case '--size':
        defaults.size = positiveInt(flag, value(), 0);
        break;
      case '--subscribers':
        defaults.subscribers = positiveInt(flag, value());
        break;
      case '--publishers':
        defaults.publishers = positiveInt(flag, value());
        break;
      case '--concurrency':
        defaults.concurrency = positiveInt(flag, value());
        break;
      case '--idle-connections':
        defaults.idleConnections = positiveInt(flag, value());
        break;
      case '--http-connections':
        defaults.httpConnections = positiveInt(flag, value());
        break;
      case '--threads':
        options.threads = positiveInt(flag, value());
        if (options.threads > 64) throw new BenchUsageError('--threads is at most 64');
        break;
      case '--max-messages':
        options.maxMessages = positiveInt(flag, value());
        break;
      case '--timeout-ms':
        options.timeoutMs = positiveInt(flag, value(), 10);
        break;
      case '--pin':
        options.pin = true;
        break;
      case '--tls':
        options.tls = true;
        break;
      case '--json':
        options.jsonPath = value() ?? '';
        if (options.jsonPath === '') throw new BenchUsageError('--json needs a file name');
        break;
      case '--report':
        options.reportPath = value() ?? '';
        if (options.reportPath === '') throw new BenchUsageError('--report needs a file name');
        break;
      case '--no-files':
        options.noFiles = true;
        break;
      case '--quiet':
        options.quiet = true;
        break;
      case '--help':
      case '-h':
        options.help = true;
        break;
      default:
        throw new BenchUsageError(`unknown option ${arg}`);
    }
  }
  if (spawnFlag && options.target !== null) throw new BenchUsageError('--spawn and --target exclude each other');
  if (options.serverPid !== null && options.mode !== 'target') throw new BenchUsageError('--server-pid goes with --target');
  if (options.tls && options.mode === 'target') throw new BenchUsageError('--tls starts the servers itself; it does not go with --target');
  options.scenarios = (scenarioTexts ?? (options.tls ? TLS_SUITE : DEFAULT_SUITE)).map((text) => parseScenarioSpec(text, defaults));
  if (options.tls) {
    const plainOnly = options.scenarios.filter((spec) => !TLS_SCENARIOS.includes(spec.name));
    if (plainOnly.length > 0) {
      throw new BenchUsageError(`--tls: scenario ${plainOnly[0].name} has no TLS variant; with --tls: ${TLS_SCENARIOS.join(', ')}`);
    }
  }
  // Only socketio has a cluster mode: a run of cross-node alone compares with it alone.
  if (!againstGiven && options.scenarios.some((spec) => spec.name === 'cross-node')) {
    options.peers = options.scenarios.every((spec) => spec.name === 'cross-node') ? ['socketio'] : [...options.peers, 'socketio'];
  }
  const labels = new Set<string>();
  for (const spec of options.scenarios) {
    if (labels.has(spec.label)) throw new BenchUsageError(`scenario "${spec.label}" is listed twice`);
    labels.add(spec.label);
  }
  return options;
}
