/**
 * The servers of the cross-node scenario: a redis-server of its own, and two
 * nodes on it: Shoal (`shoal serve --broker`, N workers each) or Socket.IO 4
 * with @socket.io/redis-adapter. Publishers connect to node A, subscribers
 * to node B, so every delivery crosses Redis. Everything started is stopped
 * by its pid, also when a later start fails.
 */
import path from 'node:path';
import type { LoopbackTarget } from './options.ts';
import { startRedis } from './redis-process.ts';
import type { RedisServer } from './redis-process.ts';
import { SOCKETIO_PATH } from './scenarios/socketio-broadcast.ts';
import { EXTENSION, PEERS_DIR, TargetSkipped, requirePeerPackage, startPeer, startShoal } from './targets.ts';
import type { RunningTarget, StartContext, TargetPlan } from './targets.ts';

/** How long a Shoal node may take to report its broker connected on /healthz. */
const BROKER_READY_TIMEOUT_MS = 20_000;

/** A started two-node cluster and its Redis. */
export interface RunningCluster {
  /** Node A: the publishers' node. */
  publisherEndpoint: LoopbackTarget;
  /** Node B: the subscribers' node. */
  subscriberEndpoint: LoopbackTarget;
  /** Both nodes (their CPU is the server CPU). */
  nodePids: number[];
  redisPid: number;
  /** What ran, for the report. */
  description: string;
  /** True while both nodes and Redis run. */
  isAlive(): boolean;
  /** The last lines the nodes printed, for failure reasons. */
  output(): string;
  stop(): Promise<void>;
}

/** Start Redis and two nodes for `plan`; TargetSkipped for targets without a cluster mode. */
export async function startCluster(plan: TargetPlan, context: StartContext): Promise<RunningCluster> {
  if (plan.kind === 'external') throw new TargetSkipped('cross-node: needs nodes the harness starts itself (not --target)');
  if (plan.kind === 'peer' && plan.peer !== 'socketio') throw new TargetSkipped(`cross-node: ${plan.name} has no cluster mode (a single-process server with no broker)`);
  if (plan.kind === 'peer') {
    requirePeerPackage('socketio', ['socket.io'], 'install it in your project: npm install -D socket.io @socket.io/redis-adapter ioredis');
    requirePeerPackage('socketio', ['@socket.io/redis-adapter'], 'install it in your project: npm install -D @socket.io/redis-adapter');
  }
  const redis = await startRedis(context.pinPrefix);
  const nodes: RunningTarget[] = [];
  try {
    for (let i = 0; i < 2; i++) nodes.push(await startNode(plan, context, redis));
    if (plan.kind === 'shoal') await Promise.all(nodes.map((node) => waitForBroker(node)));
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.process.stop();
    throw error;
  }
  const [a, b] = nodes;
  return {
    publisherEndpoint: a.endpoint,
    subscriberEndpoint: b.endpoint,
    nodePids: nodes.map((node) => node.pid!),
    redisPid: redis.process.pid,
    description: `2 nodes of ${a.description}, on ${redis.version} (persistence off, its own process)`,
    isAlive: () => redis.process.isRunning && nodes.every((node) => node.isAlive()),
    output: () => nodes.map((node, i) => `node ${'AB'[i]}: ${node.output().split('\n').slice(-3).join(' | ')}`).join('; '),
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
      await redis.process.stop();
    },
  };
}

async function startNode(plan: TargetPlan, context: StartContext, redis: RedisServer): Promise<RunningTarget> {
  if (plan.kind === 'shoal') return startShoal(plan.workers!, context, ['--broker', redis.url]);
  const node = await startPeer('socketio', [process.execPath, path.join(PEERS_DIR, `socketio-server${EXTENSION}`)], context, ['--broker', redis.url]);
  node.endpoint = { ...node.endpoint, path: SOCKETIO_PATH };
  return node;
}

/** Poll a Shoal node's /healthz until it reports `broker: ready` (publications would be refused before). */
async function waitForBroker(node: RunningTarget): Promise<void> {
  if (node.healthUrl === null) return;
  const deadline = performance.now() + BROKER_READY_TIMEOUT_MS;
  let last = '';
  while (performance.now() < deadline) {
    try {
      last = await (await fetch(node.healthUrl)).text();
      if (/^broker: ready$/m.test(last)) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`cross-node: the Shoal node at ${node.healthUrl} did not report its broker ready within ${BROKER_READY_TIMEOUT_MS / 1000} s (last answer: ${last.trim()})`);
}
