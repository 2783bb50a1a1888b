/**
 * The built-in echo app (`--app echo`): every message comes back as it came,
 * text as text and binary as binary, on the paths `/` and `/echo`. It replies
 * with the received buffer itself: no string, and with `borrowMessages` no
 * buffer of its own either (the reply is written before `onMessage`
 * returns, which is all a lent message asks; uWebSockets.js's echo works
 * the same way).
 */
import type { App, UpgradeDecision, UpgradeRequest } from './types.ts';

/** Paths the echo endpoint answers on; any other gets 404. */
export const ECHO_PATHS: readonly string[] = ['/', '/echo'];

const echoApp: App = {
  upgrade(req: UpgradeRequest): UpgradeDecision {
    if (!ECHO_PATHS.includes(req.path)) return { accept: false, status: 404, reason: `no WebSocket endpoint at ${req.path}` };
  },
  borrowMessages: true,
  onMessage(ctx, data, isBinary) {
    ctx.sendRaw(data, isBinary);
  },
};

export default echoApp;
