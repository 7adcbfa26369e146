/**
 * Observability ties the primary's metrics together: worker deltas feed the traffic totals, a
 * one-second tick samples the primary's own process and turns the totals into a live sample for
 * the GUI, and a scrape renders everything in the Prometheus text format.
 */
import { readFile } from 'node:fs/promises';
import { ProcessSampler } from '../../shared/process-stats.js';
import type { StatsDelta } from '../../shared/stats.js';
import { CacheMetrics } from './cache.js';
import { ControlPlaneMetrics, type ControlPlaneState } from './control-plane.js';
import { ExpositionWriter } from './exposition.js';
import { IngressNginxMetrics, countEstablished, type IngressNginxOptions } from './ingress-nginx.js';
import { LiveFeed, type LiveSample } from './live.js';
import { PRIMARY, RuntimeMetrics } from './runtime.js';
import { TrafficMetrics } from './traffic.js';

/** TICK_MS is how often the live feed samples (workers flush at the same pace). */
export const TICK_MS = 1000;

/**
 * IngressNginxSettings turn the ingress-nginx-compatible family on; `proxyPorts` are the
 * listeners whose established connections count as its client connections.
 */
export interface IngressNginxSettings extends IngressNginxOptions {
  readonly proxyPorts: readonly number[];
}

/** Observability owns the primary's metrics state. */
export class Observability {
  readonly traffic = new TrafficMetrics();
  readonly controlPlane = new ControlPlaneMetrics();
  readonly cache = new CacheMetrics();
  readonly runtime = new RuntimeMetrics();
  readonly live = new LiveFeed();
  readonly #sampler = new ProcessSampler();
  readonly #state: () => ControlPlaneState;
  readonly #ingressNginx: IngressNginxMetrics | null;
  readonly #proxyPorts: ReadonlySet<number>;
  #connections: number | undefined;
  #connectionsPending = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(state: () => ControlPlaneState, ingressNginx: IngressNginxSettings | null = null) {
    this.#state = state;
    this.#ingressNginx = ingressNginx === null ? null : new IngressNginxMetrics(ingressNginx);
    this.#proxyPorts = new Set(ingressNginx?.proxyPorts.filter((p) => p > 0) ?? []);
  }

  /** start begins the one-second tick; `onSample` gets each live sample (the GUI push). */
  start(onSample: (s: LiveSample) => void): void {
    this.#samplePrimary();
    this.#timer = setInterval(() => {
      this.#samplePrimary();
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
    this.runtime.set(`worker-${workerId}`, delta.process);
    this.#ingressNginx?.add(delta);
  }

  /** onWorkerGone drops the gauges of a worker that exited (its replacement reports anew). */
  onWorkerGone(workerId: number): void {
    this.traffic.forgetProcess(`worker-${workerId}`);
    this.cache.forget(workerId);
    this.runtime.forget(`worker-${workerId}`);
  }

  /** metricsText renders a scrape. */
  metricsText(): string {
    const w = new ExpositionWriter();
    const state = this.#state();
    this.traffic.render(w);
    this.cache.render(w);
    this.controlPlane.render(w, state);
    this.runtime.render(w);
    this.#ingressNginx?.render(w, {
      generation: state.generation,
      reloads: this.controlPlane.reloads(),
      certificates: state.certificates,
      group: this.runtime.group(),
      connections: this.#connections,
      inFlight: this.traffic.inFlight(),
    });
    return w.text();
  }

  #samplePrimary(): void {
    const stats = this.#sampler.sample();
    this.traffic.setProcess(PRIMARY, stats);
    this.runtime.set(PRIMARY, stats);
    if (this.#ingressNginx !== null && this.#proxyPorts.size > 0 && process.platform === 'linux') this.#sampleConnections();
  }

  /** #sampleConnections counts the established client connections of the proxy ports (Linux /proc/net/tcp). */
  #sampleConnections(): void {
    if (this.#connectionsPending) return;
    this.#connectionsPending = true;
    void Promise.allSettled([readFile('/proc/net/tcp', 'utf8'), readFile('/proc/net/tcp6', 'utf8')]).then((files) => {
      this.#connectionsPending = false;
      const texts = files.flatMap((f) => (f.status === 'fulfilled' ? [f.value] : []));
      this.#connections = texts.length === 0 ? undefined : texts.reduce((n, t) => n + countEstablished(t, this.#proxyPorts), 0);
    });
  }
}
