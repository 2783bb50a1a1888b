/**
 * Loading app modules from disk: the built-in echo app, a path relative to
 * the cwd, and clear errors for modules that are missing or not apps — at
 * listen(), before any worker starts.
 */
import { describe, expect, it } from 'vitest';
import { checkApp, loadApp, resolveAppSpecifier } from '../../src/app/load-app.ts';
import { createServer } from '../../src/server/server.ts';
import { fixtureApp } from '../helpers/server.ts';

describe('loadApp', () => {
  it('loads the built-in echo app by name', async () => {
    const app = await loadApp('echo');
    expect(typeof app.onMessage).toBe('function');
    expect(typeof app.upgrade).toBe('function');
  });

  it('resolves relative paths against the given cwd', async () => {
    const app = await loadApp('test/fixtures/apps/protocols-app.ts', new URL('../../', import.meta.url).pathname);
    expect(app.protocols).toEqual(['chat.v2', 'chat.v1']);
    expect(resolveAppSpecifier('x/app.ts', '/srv')).toBe('/srv/x/app.ts');
    expect(resolveAppSpecifier('/abs/app.ts', '/srv')).toBe('/abs/app.ts');
  });

  it('names the module when it cannot be imported', async () => {
    await expect(loadApp('/nonexistent/app.ts')).rejects.toThrow(/cannot load app \/nonexistent\/app\.ts/);
  });

  it('refuses a default export that is not an app object', async () => {
    await expect(loadApp(fixtureApp('not-an-app.ts'))).rejects.toThrow(/no default export object/);
  });

  it.each([
    [{ onMessage: 'nope' }, /onMessage must be a function/],
    [{ events: 3 }, /events must be an object/],
    [{ protocols: ['a', 1] }, /protocols must be an array of strings/],
  ])('checkApp refuses %j', (app, message) => {
    expect(() => checkApp(app, 'x')).toThrow(message);
  });
});

describe('createServer start-up failures', () => {
  it('rejects listen() with the loader error and starts nothing', async () => {
    const server = createServer({ port: 0, workers: 1, app: fixtureApp('not-an-app.ts') });
    await expect(server.listen()).rejects.toThrow(/no default export object/);
    expect(server.address).toBeNull();
    expect(server.workerIds).toEqual([]);
  });

  it('rejects listen() on a port in use and stops its workers', async () => {
    const first = createServer({ port: 0, workers: 1 });
    const { port } = await first.listen();
    const second = createServer({ port, workers: 1 });
    await expect(second.listen()).rejects.toThrow(/EADDRINUSE/);
    expect(second.workerIds).toEqual([]);
    await first.close(true);
  });

  it('throws a RangeError naming a bad option', () => {
    expect(() => createServer({ workers: 0 })).toThrow(/workers must be an integer >= 1/);
  });
});
