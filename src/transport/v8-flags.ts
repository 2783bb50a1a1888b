/**
 * What the modules that set V8 flags at run time share
 * (external-memory-policy.ts, server/startup-v8-flags.ts): the V8 their
 * flags and defaults were checked on, and whether the user named a flag on
 * the command line, in which case the user's choice wins and nothing is set.
 */

/** V8 majors whose flags and defaults were checked (`node --v8-options`): Node 24's V8 13. */
const KNOWN_V8_MAJORS: readonly number[] = [13];

/** True when `v8Version` (process.versions.v8) is a V8 whose flags were checked. */
export function isKnownV8(v8Version: string): boolean {
  return KNOWN_V8_MAJORS.includes(Number.parseInt(v8Version, 10));
}

/** This process's command-line flags: `execArgv` and the words of NODE_OPTIONS (which `execArgv` leaves out). */
export function commandLineFlags(): string[] {
  const fromEnvironment = (process.env.NODE_OPTIONS ?? '').split(/\s+/).filter((word) => word !== '');
  return [...process.execArgv, ...fromEnvironment];
}

/**
 * True when `args` name a V8 flag whose name starts with one of `names`
 * (lower-case, with '-'): `--name…` or `--no-name…`, written with '-' or
 * '_' as V8 accepts both.
 */
export function namesV8Flag(args: readonly string[], names: readonly string[]): boolean {
  for (const arg of args) {
    if (!arg.startsWith('--')) continue;
    const flag = arg.replaceAll('_', '-');
    const bare = flag.startsWith('--no-') ? flag.slice(5) : flag.slice(2);
    if (names.some((name) => bare.startsWith(name))) return true;
  }
  return false;
}
