/**
 * Observability ties the primary's metrics together: worker deltas feed the traffic totals, a
 * one-second tick samples the primary's own process and turns the totals into a live sample for
 * the GUI, and a scrape renders everything in the Prometheus text format.
 */
import { ProcessSampler } from '../../shared/process-stats.js';
import type { StatsDelta } from '../../shared/stats.js';
import { CacheMetrics } from './cache.js';
import { ControlPlaneMetrics, type ControlPlaneState } from './control-plane.js';
import { ExpositionWriter } from './exposition.js';
import { LiveFeed, type LiveSample } from './live.js';
import { TrafficMetrics } from './traffic.js';

/** TICK_MS is how often the live feed samples (workers flush at the same pace). */
export const TICK_MS = 1000;

/** Observability owns the primary's metrics state. */
export class Observability {
  readonly traffic = new TrafficMetrics();
  readonly controlPlane = new ControlPlaneMetrics();
  readonly cache = new CacheMetrics();
  readonly live = new LiveFeed();
  readonly #sampler = new ProcessSampler();
  readonly #state: () => ControlPlaneState;
  #timer: NodeJS.Timeout | undefined;

  constructor(state: () => ControlPlaneState) {
    this.#state = state;
  }

  /** start begins the one-second tick; `onSample` gets each live sample (the GUI push). */
  start(onSample: (s: LiveSample) => void): void {
    this.traffic.setProcess('primary', this.#sampler.sample());
    this.#timer = setInterval(() => {
      this.traffic.setProcess('primary', this.#sampler.sample());
      const s = this.live.sample(Date.now(), this.traffic.totals(), this.#state().generation);
      if (s !== null) onSample(s);
    }, TICK_MS);
    this.#timer.unref();
  }

  /** stop ends the tick. */
  stop(): void {
    clearInterval(this.#timer);
    this.#sampler.stop();
  }

  /** onWorkerStats merges one worker's flush. */
  onWorkerStats(workerId: number, delta: StatsDelta): void {
    this.traffic.add(`worker-${workerId}`, delta);
    this.cache.add(workerId, delta.cache);
  }

  /** onWorkerGone drops the gauges of a worker that exited (its replacement reports anew). */
  onWorkerGone(workerId: number): void {
    this.traffic.forgetProcess(`worker-${workerId}`);
    this.cache.forget(workerId);
  }

  /** metricsText renders a scrape. */
  metricsText(): string {
    const w = new ExpositionWriter();
    this.traffic.render(w);
    this.cache.render(w);
    this.controlPlane.render(w, this.#state());
    return w.text();
  }
}
