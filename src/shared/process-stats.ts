/**
 * ProcessSampler measures the gauges both kinds of process report (memory, event-loop delay).
 * It is the one module in shared/ that reads process state, so that the primary and the workers
 * measure the same way.
 */
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { RuntimeSampler } from './runtime-stats.js';
import type { ProcessStats } from './stats.js';

const NS_PER_S = 1e9;

/** ProcessSampler samples this process; `sample()` also restarts the delay window. */
export class ProcessSampler {
  readonly #delay: ELDHistogram;
  readonly #runtime = new RuntimeSampler();

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
      runtime: this.#runtime.sample(
        d.count > 0
          ? { min: d.min / NS_PER_S, mean: d.mean / NS_PER_S, stddev: d.stddev / NS_PER_S, p90: d.percentile(90) / NS_PER_S }
          : { min: 0, mean: 0, stddev: 0, p90: 0 },
      ),
    };
    d.reset();
    return stats;
  }

  /** stop disables the delay monitor. */
  stop(): void {
    this.#delay.disable();
    this.#runtime.stop();
  }
}
