/**
 * Loads an app module: `echo` names the built-in echo app, anything else is a
 * path to a .ts or .js module (relative paths against the cwd) whose default
 * export is an App.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { App } from './types.ts';

/** The name of the built-in echo app. */
export const ECHO_APP = 'echo';

const HOOKS = ['upgrade', 'http', 'onOpen', 'onClose', 'onMessage'] as const;
const TABLES = ['events', 'methods'] as const;

/** Turns an `--app` value into what workers load: `echo` or an absolute path. */
export function resolveAppSpecifier(spec: string, cwd: string = process.cwd()): string {
  if (spec === ECHO_APP) return spec;
  return isAbsolute(spec) ? spec : resolve(cwd, spec);
}

/** Imports and checks an app; rejects with an Error that names the module and what is wrong. */
export async function loadApp(spec: string, cwd: string = process.cwd()): Promise<App> {
  const resolved = resolveAppSpecifier(spec, cwd);
  let module: { default?: unknown };
  try {
    module =
      resolved === ECHO_APP ? await import('./echo-app.ts') : ((await import(pathToFileURL(resolved).href)) as { default?: unknown });
  } catch (error) {
    throw new Error(`cannot load app ${resolved}: ${(error as Error).message}`, { cause: error });
  }
  return checkApp(module.default, resolved);
}

/** Checks the shape of an app's default export; returns it typed. */
export function checkApp(app: unknown, name: string): App {
  if (typeof app !== 'object' || app === null) throw new Error(`app ${name} has no default export object (export default { onMessage(ctx, data) {...} })`);
  const record = app as Record<string, unknown>;
  for (const hook of HOOKS) {
    if (record[hook] !== undefined && typeof record[hook] !== 'function') throw new Error(`app ${name}: ${hook} must be a function`);
  }
  for (const table of TABLES) {
    if (record[table] !== undefined && (typeof record[table] !== 'object' || record[table] === null)) {
      throw new Error(`app ${name}: ${table} must be an object of handlers`);
    }
  }
  if (record.protocols !== undefined && (!Array.isArray(record.protocols) || !record.protocols.every((p) => typeof p === 'string'))) {
    throw new Error(`app ${name}: protocols must be an array of strings`);
  }
  return app as App;
}
