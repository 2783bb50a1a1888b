/**
 * The chat page, served by the chat app's own `http` handler on Shoal's port
 * (app.ts exports it as `http`), beside the WebSocket. It serves the page, and the typed client straight from
 * src/ with its TypeScript types stripped by Node (module.stripTypeScriptTypes),
 * so the browser runs the same client modules as Node, with no bundler;
 * msgpackr's ESM build comes from node_modules through an import map.
 * Only a fixed set of paths is served.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stripTypeScriptTypes } from 'node:module';

const ROOT = new URL('../../', import.meta.url);
const PUBLIC = new URL('./public/', import.meta.url);
/**
 * Client-side modules: the client, the codecs it imports, and the two pure
 * protocol modules the codecs import (opcodes and the frame header writer).
 */
const SOURCE = /^\/src\/((client|codec)\/[a-z-]+|protocol\/(constants|frame-header))\.ts$/;
const MSGPACKR = new Set(['index.js', 'pack.js', 'unpack.js', 'iterators.js']);

type Asset = { type: string; body: string };

/** A request handler for the page and its modules (the page opens its WebSocket on the origin it was loaded from). */
export function createPageHandler(): (request: IncomingMessage, response: ServerResponse) => void {
  const cache = new Map<string, Asset>();

  async function load(path: string): Promise<Asset | null> {
    if (path === '/' || path === '/index.html') return { type: 'text/html; charset=utf-8', body: await readFile(new URL('index.html', PUBLIC), 'utf8') };
    if (path === '/chat.js') return { type: 'text/javascript; charset=utf-8', body: await readFile(new URL('chat.js', PUBLIC), 'utf8') };
    if (SOURCE.test(path)) {
      const source = await readFile(new URL(`.${path}`, ROOT), 'utf8');
      return { type: 'text/javascript; charset=utf-8', body: stripTypeScriptTypes(source, { mode: 'strip' }) };
    }
    const prefix = '/node_modules/msgpackr/';
    if (path.startsWith(prefix) && MSGPACKR.has(path.slice(prefix.length))) {
      return { type: 'text/javascript; charset=utf-8', body: await readFile(new URL(`.${path}`, ROOT), 'utf8') };
    }
    return null;
  }

  return (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed');
      return;
    }
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const cached = cache.get(path);
    const asset = cached !== undefined ? Promise.resolve(cached) : load(path);
    asset.then(
      (found) => {
        if (found === null) {
          response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
          return;
        }
        cache.set(path, found);
        response.writeHead(200, { 'content-type': found.type, 'cache-control': 'no-store' }).end(request.method === 'HEAD' ? undefined : found.body);
      },
      (error: unknown) => {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        response.writeHead(missing ? 404 : 500, { 'content-type': 'text/plain' }).end(missing ? 'not found' : 'internal error');
      },
    );
  };
}
