/**
 * EventLoopMonitor: the event-loop delay (perf_hooks.monitorEventLoopDelay,
 * sampled every 10 ms) and utilization (performance.eventLoopUtilization)
 * of the thread it runs in, over the interval between two `sample()` calls.
 * One per worker; the delay monitor's timer runs in native code and does not
 * keep the thread alive.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type ELDHistogram } from 'node:perf_hooks';

/** Sampling period of the delay monitor: prom-client's choice for the same metric. */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/** One interval's event-loop figures. */
export interface EventLoopSample {
  readonly lagMeanSeconds: number;
  readonly lagP99Seconds: number;
  readonly lagMaxSeconds: number;
  /** 0..1 */
  readonly utilization: number;
}

export class EventLoopMonitor {
  #delay: ELDHistogram;
  #lastUtilization: EventLoopUtilization;

  constructor() {
    this.#delay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
    this.#delay.enable();
    this.#lastUtilization = performance.eventLoopUtilization();
  }

  /** The figures since the previous sample (or the start); the next interval starts now. */
  sample(): EventLoopSample {
    const delay = this.#delay;
    // No sample yet (a first interval shorter than the resolution): the histogram reports NaN and 9.2e18.
    const seen = delay.count > 0;
    const sample: EventLoopSample = {
      lagMeanSeconds: seen ? delay.mean / 1e9 : 0,
      lagP99Seconds: seen ? delay.percentile(99) / 1e9 : 0,
      lagMaxSeconds: seen ? delay.max / 1e9 : 0,
      utilization: performance.eventLoopUtilization(this.#lastUtilization).utilization,
    };
    delay.reset();
    this.#lastUtilization = performance.eventLoopUtilization();
    return sample;
  }

  stop(): void {
    this.#delay.disable();
  }
}
