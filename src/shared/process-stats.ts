/**
 * ProcessSampler measures the gauges both kinds of process report (memory, event-loop delay).
 * It is the one module in shared/ that reads process state, so that the primary and the workers
 * measure the same way.
 */
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import type { ProcessStats } from './stats.js';

const NS_PER_S = 1e9;

/** ProcessSampler samples this process; `sample()` also restarts the delay window. */
export class ProcessSampler {
  readonly #delay: ELDHistogram;

  constructor(resolutionMs = 10) {
    this.#delay = monitorEventLoopDelay({ resolution: resolutionMs });
    this.#delay.enable();
  }

  /** sample returns the gauges since the previous sample. */
  sample(): ProcessStats {
    const mem = process.memoryUsage();
    const d = this.#delay;
    const stats: ProcessStats = {
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      eventLoopDelayP50: d.count > 0 ? d.percentile(50) / NS_PER_S : 0,
      eventLoopDelayP99: d.count > 0 ? d.percentile(99) / NS_PER_S : 0,
      eventLoopDelayMax: d.count > 0 ? d.max / NS_PER_S : 0,
    };
    d.reset();
    return stats;
  }

  /** stop disables the delay monitor. */
  stop(): void {
    this.#delay.disable();
  }
}
