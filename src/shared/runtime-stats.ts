/**
 * RuntimeSampler measures what the standard `process_*` and `nodejs_*` metrics report (the
 * names prom-client gives them), for the primary and every worker alike: CPU time, memory,
 * file descriptors, V8 heap spaces, event-loop lag, resources keeping the loop alive and GC
 * pauses. The /proc reads (Linux) are asynchronous and their newest result is reported, so a
 * worker with thousands of open sockets never lists /proc/self/fd on its event loop.
 */
import { readFile, readdir } from 'node:fs/promises';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { GC_BUCKETS_S, type RuntimeStats } from './stats.js';

/** GC_KINDS names the kinds of GC pause as prom-client labels them. */
const GC_KINDS = new Map<number, string>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

/**
 * RESOURCE_TYPES are reported even at zero: the ones traffic opens and closes (client and
 * upstream sockets, timers, file reads), so that the set of series does not change with traffic.
 */
const RESOURCE_TYPES = ['FSReqCallback', 'FSReqPromise', 'Immediate', 'PipeWrap', 'TCPServerWrap', 'TCPSocketWrap', 'TLSWrap', 'Timeout'] as const;

interface ProcFigures {
  virtualMemoryBytes?: number;
  heapBytes?: number;
  openFds?: number;
  maxFds?: number;
}

/** EventLoopFigures are the delay histogram's figures for one interval, seconds. */
export interface EventLoopFigures {
  readonly min: number;
  readonly mean: number;
  readonly stddev: number;
  readonly p90: number;
}

/** RuntimeSampler samples this process; construct one per process. */
export class RuntimeSampler {
  readonly #startTimeSeconds = Math.round((performance.timeOrigin / 1000) * 1000) / 1000;
  readonly #gc = new Map<string, { counts: number[]; sum: number }>();
  readonly #observer: PerformanceObserver;
  #proc: ProcFigures = {};
  #procPending = false;
  #lag = 0;

  constructor() {
    this.#observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.#recordGc(e);
    });
    // Every kind has its series from the start, so the set of series does not change as GC runs.
    for (const kind of GC_KINDS.values()) this.#gc.set(kind, { counts: new Array<number>(GC_BUCKETS_S.length + 1).fill(0), sum: 0 });
    this.#observer.observe({ entryTypes: ['gc'] });
    this.#refreshProc();
  }

  /** sample returns the figures now; `loop` carries the delay histogram's interval figures. */
  sample(loop: EventLoopFigures): RuntimeStats {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    const resources = new Map<string, number>(RESOURCE_TYPES.map((t) => [t, 0]));
    for (const type of process.getActiveResourcesInfo()) resources.set(type, (resources.get(type) ?? 0) + 1);
    const stats: RuntimeStats = {
      cpuUserSeconds: cpu.user / 1e6,
      cpuSystemSeconds: cpu.system / 1e6,
      startTimeSeconds: this.#startTimeSeconds,
      ...this.#proc,
      heapTotalBytes: mem.heapTotal,
      externalBytes: mem.external,
      heapSpaces: getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), s.space_size, s.space_used_size, s.space_available_size] as const),
      eventLoopLag: this.#lag,
      eventLoopMin: loop.min,
      eventLoopMean: loop.mean,
      eventLoopStddev: loop.stddev,
      eventLoopP90: loop.p90,
      activeResources: [...resources].sort(([a], [b]) => (a < b ? -1 : 1)),
      gc: [...this.#gc].map(([kind, g]) => [kind, [...g.counts], g.sum] as const),
      nodeVersion: process.version,
    };
    this.#measureLag();
    this.#refreshProc();
    return stats;
  }

  /** stop ends the GC observer. */
  stop(): void {
    this.#observer.disconnect();
  }

  /** #measureLag times a setImmediate, as prom-client's nodejs_eventloop_lag_seconds does. */
  #measureLag(): void {
    const start = process.hrtime.bigint();
    setImmediate(() => {
      this.#lag = Number(process.hrtime.bigint() - start) / 1e9;
    }).unref();
  }

  #recordGc(e: PerformanceEntry): void {
    const detail = (e as PerformanceEntry & { readonly detail?: { readonly kind?: number } }).detail;
    const kind = GC_KINDS.get(detail?.kind ?? -1);
    if (kind === undefined) return;
    let g = this.#gc.get(kind);
    if (g === undefined) {
      g = { counts: new Array<number>(GC_BUCKETS_S.length + 1).fill(0), sum: 0 };
      this.#gc.set(kind, g);
    }
    const seconds = e.duration / 1000;
    let i = 0;
    while (i < GC_BUCKETS_S.length && seconds > (GC_BUCKETS_S[i] as number)) i++;
    g.counts[i]! += 1;
    g.sum += seconds;
  }

  /** #refreshProc reads /proc/self in the background; elsewhere than Linux the figures stay absent. */
  #refreshProc(): void {
    if (this.#procPending || process.platform !== 'linux') return;
    this.#procPending = true;
    void readProc().then((p) => {
      this.#proc = p;
      this.#procPending = false;
    });
  }
}

/** readProc reads VmSize and VmData, the open descriptors and their soft limit, as prom-client does. */
async function readProc(): Promise<ProcFigures> {
  const out: ProcFigures = {};
  const [status, fds, limits] = await Promise.allSettled([readFile('/proc/self/status', 'utf8'), readdir('/proc/self/fd'), readFile('/proc/self/limits', 'utf8')]);
  if (status.status === 'fulfilled') {
    const kb = (field: string): number | undefined => {
      const m = new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(status.value);
      return m === null ? undefined : Number(m[1]) * 1024;
    };
    const vm = kb('VmSize');
    const data = kb('VmData');
    if (vm !== undefined) out.virtualMemoryBytes = vm;
    if (data !== undefined) out.heapBytes = data;
  }
  // The listing holds the descriptor readdir itself opened.
  if (fds.status === 'fulfilled') out.openFds = Math.max(0, fds.value.length - 1);
  if (limits.status === 'fulfilled') {
    const m = /^Max open files\s+(\d+)/m.exec(limits.value);
    if (m !== null) out.maxFds = Number(m[1]);
  }
  return out;
}
