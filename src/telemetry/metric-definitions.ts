/**
 * The histograms the workers collect, described once for both sides: the
 * workers observe into them (worker-metrics.ts), the primary serves them
 * (server/metrics.ts). Label values come from bounded sets only: method
 * names the app defines (unknown ones are `other`), the error codes of the
 * subprotocol (codes an app invents are `other`), fixed words.
 */
import type { HistogramDefinition } from './histogram.ts';

/** The label value of everything outside a bounded set. */
export const OTHER_LABEL = 'other';

/** Latency buckets in seconds, from 50 us (a synchronous handler) to 30 s (the default handler timeout). */
const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;

export const HANDSHAKE_DURATION: HistogramDefinition = {
  name: 'shoal_handshake_duration_seconds',
  help: 'Time from a connection reaching its worker to its 101 response (upgraded connections only)',
  labelNames: [],
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
};

export const REQUEST_DURATION: HistogramDefinition = {
  name: 'shoal_request_duration_seconds',
  help: 'Time from a request being dispatched to its reply being written, by method and outcome (ok or the error code); the requests of one socket read in 8 (shoal_requests_total counts them all)',
  labelNames: ['method', 'outcome'],
  buckets: LATENCY_BUCKETS,
};

export const PUBLICATION_FANOUT: HistogramDefinition = {
  name: 'shoal_publication_fanout',
  help: 'Subscribers one worker wrote one publication to: path="local" on the publishing worker, "forwarded" on each worker it was forwarded to',
  labelNames: ['path'],
  buckets: [0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
};

export const PUBLICATION_WRITE_DELAY: HistogramDefinition = {
  name: 'shoal_publication_write_delay_seconds',
  help: 'Time from publish() to the end of its fan-out on one worker (frames handed to the subscribers\' connections, which write them at the end of the turn): path="local" (the publishing worker) or "forwarded"',
  labelNames: ['path'],
  buckets: LATENCY_BUCKETS,
};

/** Every histogram the workers report. */
export const WORKER_HISTOGRAMS: readonly HistogramDefinition[] = [HANDSHAKE_DURATION, REQUEST_DURATION, PUBLICATION_FANOUT, PUBLICATION_WRITE_DELAY];

/** The outcome label of a request: `ok`, a code of the subprotocol's catalogue, or `other` (codes an app invented). */
export function requestOutcomeLabel(code: string, catalogue: ReadonlySet<string>): string {
  return catalogue.has(code) ? code : OTHER_LABEL;
}
