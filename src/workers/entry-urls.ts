/**
 * Where each thread entry lives, for the code that starts threads (the
 * primary's connection pool, a worker's CPU pool). Only URLs: importing this
 * module loads no worker code into the importing thread.
 *
 * Inside the repository the sources run as TypeScript; the published package
 * runs compiled JavaScript. The entries carry the same extension as this file.
 */
const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** The connection worker: serves one lane of sockets handed over by the primary. */
export const CONNECTION_WORKER_URL = new URL(`./connection-worker${EXTENSION}`, import.meta.url).href;

/** A CPU pool thread: runs `cpu: true` methods of the app. */
export const CPU_WORKER_URL = new URL(`./cpu-worker${EXTENSION}`, import.meta.url).href;
