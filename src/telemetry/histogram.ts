/**
 * Histograms as a worker keeps them: fixed buckets, plain counts, no
 * cumulative sums and no labels resolved per observation. A worker drains
 * what its histograms collected into `HistogramDelta`s on each report; the
 * primary adds them up and serves them to Prometheus (server/metrics.ts).
 */

/** The fixed description of a histogram metric, shared by the workers and the primary. */
export interface HistogramDefinition {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** Upper bounds, ascending; a last bucket (+Inf) is implied. */
  readonly buckets: readonly number[];
}

/** What one labelled series collected since the previous report. */
export interface HistogramDelta {
  readonly name: string;
  /** Label values in the order of the definition's `labelNames`. */
  readonly labels: readonly string[];
  /** Observations per bucket (not cumulative); one more entry than `buckets`, for +Inf. */
  readonly counts: readonly number[];
  readonly sum: number;
  /** Events counted, observed or not (`Histogram.skip`): at least the observations. */
  readonly total: number;
}

/** One series: the counts of one label set. */
export class Histogram {
  readonly bounds: readonly number[];
  readonly labels: readonly string[];
  counts: number[];
  sum: number;
  count: number;
  /** Events counted, observed or skipped. */
  total: number;

  constructor(bounds: readonly number[], labels: readonly string[]) {
    this.bounds = bounds;
    this.labels = labels;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
    this.sum = 0;
    this.count = 0;
    this.total = 0;
  }

  /** Counts an event whose value was not measured (a sampled histogram's other events). */
  skip(): void {
    this.total++;
  }

  /** Counts `value` in the first bucket whose bound is >= it (Prometheus `le`). */
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
    this.total++;
  }
}

/** Every series of one histogram metric in this thread, created on first use. */
export class HistogramFamily {
  readonly definition: HistogramDefinition;
  #series: Map<string, Histogram>;

  constructor(definition: HistogramDefinition) {
    this.definition = definition;
    this.#series = new Map();
  }

  /** The series of these label values (in `labelNames` order); keep it rather than look it up per observation. */
  series(...labels: string[]): Histogram {
    const key = labels.join('\u0000');
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new Histogram(this.definition.buckets, labels);
      this.#series.set(key, series);
    }
    return series;
  }

  /** What every series collected since the last drain (series with nothing new are left out); counts restart at zero. */
  drain(into: HistogramDelta[]): void {
    for (const series of this.#series.values()) {
      if (series.total === 0) continue;
      into.push({ name: this.definition.name, labels: series.labels, counts: series.counts, sum: series.sum, total: series.total });
      series.counts = new Array<number>(series.bounds.length + 1).fill(0);
      series.sum = 0;
      series.count = 0;
      series.total = 0;
    }
  }
}

/** One cumulative series in the primary: a label set's counts over every worker since the start. */
export interface HistogramSeriesTotal {
  readonly labels: readonly string[];
  /** Per bucket, not cumulative; one more entry than the buckets, for +Inf. */
  readonly counts: number[];
  sum: number;
  count: number;
  /** Events counted, observed or not. */
  total: number;
}

/** The sum of every worker's HistogramDeltas, per metric and label set (the primary keeps one). */
export class HistogramTotals {
  #byName: Map<string, Map<string, HistogramSeriesTotal>>;

  constructor() {
    this.#byName = new Map();
  }

  /** Adds one delta (a worker's report). */
  add(delta: HistogramDelta): void {
    let series = this.#byName.get(delta.name);
    if (series === undefined) {
      series = new Map();
      this.#byName.set(delta.name, series);
    }
    const key = delta.labels.join('\u0000');
    let total = series.get(key);
    if (total === undefined) {
      total = { labels: delta.labels, counts: new Array<number>(delta.counts.length).fill(0), sum: 0, count: 0, total: 0 };
      series.set(key, total);
    }
    const counts = delta.counts;
    for (let i = 0; i < counts.length && i < total.counts.length; i++) {
      const n = counts[i] as number;
      total.counts[i] = (total.counts[i] as number) + n;
      total.count += n;
    }
    total.sum += delta.sum;
    total.total += delta.total;
  }

  /** Every series of one metric (none before its first observation). */
  series(name: string): Iterable<HistogramSeriesTotal> {
    return this.#byName.get(name)?.values() ?? [];
  }
}
