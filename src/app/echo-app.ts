/**
 * The built-in echo app (`--app echo`): every message comes back as it came,
 * text as text and binary as binary, on the paths `/` and `/echo`. It replies
 * with the received buffer itself: no copy, no string.
 */
import type { App, UpgradeDecision, UpgradeRequest } from './types.ts';

/** Paths the echo endpoint answers on; any other gets 404. */
export const ECHO_PATHS: readonly string[] = ['/', '/echo'];

const echoApp: App = {
  upgrade(req: UpgradeRequest): UpgradeDecision {
    if (!ECHO_PATHS.includes(req.path)) return { accept: false, status: 404, reason: `no WebSocket endpoint at ${req.path}` };
  },
  onMessage(ctx, data, isBinary) {
    ctx.sendRaw(data, isBinary);
  },
};

export default echoApp;
