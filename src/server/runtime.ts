/**
 * Which Node.js runs Shoal: >= 24.20 in the 24 LTS line, or >= 26.6. These are
 * the first releases that can transfer an accepted net.Socket to a worker
 * thread. bin/shoal.js repeats this check in plain JavaScript (it must run on
 * any Node far enough to refuse); test/package checks both print the same line.
 */

/** True when `version` (e.g. "24.21.0") can run Shoal. */
export function isSupportedNode(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return (major === 24 && minor >= 20) || (major === 26 && minor >= 6) || major > 26;
}

/** The one-line refusal for an unsupported Node.js version (no trailing newline). */
export function runtimeRefusal(version: string): string {
  return (
    `Node.js ${version} cannot run Shoal: it needs Node.js >= 24.20 (24 LTS) or >= 26.6, the first releases that can ` +
    'transfer a socket to a worker thread; install one (https://nodejs.org, or a version manager: nvm install 24) ' +
    'or let npm fetch one for a command: npx -p node@24 shoal serve ..., npx -p node@24 node server.js'
  );
}

/** Throws the refusal when the running Node.js cannot run Shoal. */
export function assertSupportedRuntime(version: string = process.versions.node): void {
  if (!isSupportedNode(version)) throw new Error(runtimeRefusal(version));
}
