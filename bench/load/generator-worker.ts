/**
 * Entry point of one generator thread: runs its share of a scenario
 * (ThreadSetup in workerData), reports `ready`, follows the RunSchedule the
 * main thread sends, and posts one ThreadResult. Bounded: it stops sending at
 * the window's end or its message cap, whichever comes first.
 */
import { randomBytes } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { epochNow } from './epoch-clock.ts';
import { encodeHistogram } from './histogram.ts';
import { LoadRecorder } from './load-recorder.ts';
import type { FromThread, RunSchedule, ThreadSetup, ToThread } from './messages.ts';
import { BroadcastDriver } from './scenarios/broadcast.ts';
import { ConnectDriver } from './scenarios/connect.ts';
import type { ScenarioDriver } from './scenarios/driver.ts';
import { EchoDriver } from './scenarios/echo.ts';
import { RawBroadcastDriver } from './scenarios/raw-broadcast.ts';
import { SocketIoBroadcastDriver } from './scenarios/socketio-broadcast.ts';
import { IdleDriver } from './scenarios/idle.ts';
import { RejectDriver } from './scenarios/reject.ts';
import { RpcDriver } from './scenarios/rpc.ts';

const SWEEP_INTERVAL_MS = 100;
const PROGRESS_INTERVAL_MS = 500;

function createDriver(setup: ThreadSetup, recorder: LoadRecorder, mask: Uint8Array): ScenarioDriver {
  switch (setup.kind) {
    case 'echo':
      return new EchoDriver(setup, recorder, mask);
    case 'rpc':
      return new RpcDriver(setup, recorder, mask);
    case 'broadcast':
      return new BroadcastDriver(setup, recorder, mask);
    case 'raw-broadcast':
      return new RawBroadcastDriver(setup, recorder, mask);
    case 'socketio-broadcast':
      return new SocketIoBroadcastDriver(setup, recorder, mask);
    case 'connect':
      return new ConnectDriver(setup, recorder, mask);
    case 'idle':
      return new IdleDriver(setup, recorder, mask);
    case 'reject':
      return new RejectDriver(setup, recorder);
  }
}

function at(epochMs: number, action: () => void): void {
  setTimeout(action, Math.max(0, epochMs - epochNow()));
}

async function main(): Promise<void> {
  const port = parentPort!;
  const setup = workerData as ThreadSetup;
  const post = (message: FromThread): void => port.postMessage(message);
  const recorder = new LoadRecorder();
  // RFC 6455 §5.3 wants an unpredictable mask per frame; pre-built frames share one random mask per
  // thread so that the generator spends its CPU on the server's answers, not on masking.
  const driver = createDriver(setup, recorder, randomBytes(4));
  const sweep = setInterval(() => driver.sweep(performance.now()), SWEEP_INTERVAL_MS);
  const progress = setInterval(
    () => post({ type: 'progress', threadIndex: setup.threadIndex, messages: recorder.total }),
    PROGRESS_INTERVAL_MS,
  );
  let aborted = false;
  const schedule = new Promise<RunSchedule | null>((resolve) => {
    port.on('message', (message: ToThread) => {
      if (message.type === 'run') resolve(message);
      else if (message.type === 'abort') {
        aborted = true;
        resolve(null);
      }
    });
  });

  await driver.setup();
  post({ type: 'ready', threadIndex: setup.threadIndex, open: driver.openCount(), errors: { ...recorder.errors } });
  const run = await schedule;
  if (run === null || aborted) {
    await driver.shutdown();
  } else {
    let cpuAtStart = process.threadCpuUsage();
    let windowStart = 0;
    const windowEnded = new Promise<{ cpu: NodeJS.CpuUsage; windowMs: number; openAtEnd: number }>((resolve) => {
      at(run.startAt, () => driver.start());
      at(run.measureAt, () => {
        recorder.beginWindow(setup.kind === 'idle');
        windowStart = performance.now();
        cpuAtStart = process.threadCpuUsage();
      });
      at(run.endAt, () => {
        recorder.measuring = false;
        driver.stop();
        const end = recorder.cappedAt > 0 ? recorder.cappedAt : performance.now();
        resolve({ cpu: process.threadCpuUsage(cpuAtStart), windowMs: end - windowStart, openAtEnd: driver.openCount() });
      });
    });
    const window = await windowEnded;
    await driver.shutdown();
    post({
      type: 'result',
      threadIndex: setup.threadIndex,
      messages: recorder.messages,
      bytes: recorder.bytes,
      secondary: recorder.secondary,
      histogram: encodeHistogram(recorder.histogram),
      errors: { ...recorder.errors },
      errorSamples: recorder.errorSamples,
      openAtEnd: window.openAtEnd,
      cpuUserUs: window.cpu.user,
      cpuSystemUs: window.cpu.system,
      windowMs: window.windowMs,
      hitMessageCap: driver.hitMessageCap(),
    });
  }
  clearInterval(sweep);
  clearInterval(progress);
  port.close();
}

main().catch((error: unknown) => {
  parentPort!.postMessage({
    type: 'fatal',
    threadIndex: (workerData as ThreadSetup).threadIndex,
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  } satisfies FromThread);
});
