/**
 * Latency histograms (hdr-histogram-js): one per generator thread, shipped to
 * the main thread as compressed base64 and merged there.
 */
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/** Highest latency a histogram tracks, in microseconds (60 s); larger values are clamped to it. */
export const MAX_TRACKED_US = 60_000_000;

/** Latency percentiles in microseconds, as reported in tables and JSON. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
}

/** A histogram of microsecond values with 3 significant digits (0.1% resolution). */
export function createLatencyHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_TRACKED_US,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  });
}

/** Record one latency in microseconds, clamped to the tracked range. */
export function recordLatencyUs(histogram: Histogram, us: number): void {
  histogram.recordValue(us < 1 ? 1 : us > MAX_TRACKED_US ? MAX_TRACKED_US : Math.round(us));
}

/** Serialize a histogram for postMessage (compressed base64, a few hundred bytes). */
export function encodeHistogram(histogram: Histogram): string {
  return encodeIntoCompressedBase64(histogram);
}

/** Merge histograms serialized by encodeHistogram into one summary. */
export function mergeHistograms(encoded: readonly string[]): LatencySummary {
  const merged = createLatencyHistogram();
  for (const text of encoded) {
    const part = decodeFromCompressedBase64(text);
    merged.add(part);
    part.destroy();
  }
  const summary = summarize(merged);
  merged.destroy();
  return summary;
}

/** Percentiles of a histogram; all zero when it is empty. */
export function summarize(histogram: Histogram): LatencySummary {
  if (histogram.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p99_9: 0, max: 0 };
  return {
    count: histogram.totalCount,
    mean: Math.round(histogram.mean),
    p50: histogram.getValueAtPercentile(50),
    p90: histogram.getValueAtPercentile(90),
    p99: histogram.getValueAtPercentile(99),
    p99_9: histogram.getValueAtPercentile(99.9),
    max: histogram.maxValue,
  };
}
