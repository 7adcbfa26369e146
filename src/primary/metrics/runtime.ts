/**
 * The standard `process_*` and Node.js runtime `nodejs_*` metrics, named as prom-client names
 * them, across the primary and the workers (each reports RuntimeStats once a second).
 *
 * `process_*` describe the whole Flusso pod as one process, as a migrating user's dashboards
 * and alerts expect of one scrape target: memory and descriptors are summed over the processes,
 * CPU time is summed too and stays monotonic when a worker is replaced (the figures of an
 * exited worker are kept), and the start time is the primary's. `nodejs_*` are per V8 isolate,
 * so they carry a `process` label (`primary`, `worker-1`, …); `sum without (process)` adds them
 * up. docs/metrics.md has the whole list.
 */
import { GC_BUCKETS_S, type ProcessStats, type RuntimeStats } from '../../shared/stats.js';
import type { ExpositionWriter } from './exposition.js';

/** PRIMARY is the process name of the primary. */
export const PRIMARY = 'primary';

/** ProcessGroupFigures are the process_* figures of the whole group. */
export interface ProcessGroupFigures {
  readonly cpuUserSeconds: number;
  readonly cpuSystemSeconds: number;
  readonly residentMemoryBytes: number;
  readonly virtualMemoryBytes: number;
  readonly heapBytes: number;
  readonly openFds: number;
  /** The primary's soft limit (every process inherits it); undefined before it was read. */
  readonly maxFds: number | undefined;
  readonly startTimeSeconds: number | undefined;
  readonly processes: number;
}

interface Sample {
  readonly stats: ProcessStats;
  readonly runtime: RuntimeStats;
}

/** RuntimeMetrics keeps the newest RuntimeStats of every process. */
export class RuntimeMetrics {
  readonly #processes = new Map<string, Sample>();
  /** CPU seconds of processes that exited, so the group's counters never go back. */
  #retiredUser = 0;
  #retiredSystem = 0;

  /** set records a process's newest figures; a sample without runtime figures is ignored (an older sender). */
  set(name: string, stats: ProcessStats): void {
    if (stats.runtime === undefined) return;
    const previous = this.#processes.get(name);
    // A new process under a known name (a worker slot restarted before its exit was seen) starts from zero.
    if (previous !== undefined && stats.runtime.cpuUserSeconds + stats.runtime.cpuSystemSeconds < previous.runtime.cpuUserSeconds + previous.runtime.cpuSystemSeconds) this.#retire(previous);
    this.#processes.set(name, { stats, runtime: stats.runtime });
  }

  /** forget drops a process that exited, keeping its CPU time in the group's counters. */
  forget(name: string): void {
    const s = this.#processes.get(name);
    if (s === undefined) return;
    this.#retire(s);
    this.#processes.delete(name);
  }

  /** group adds the processes up as one. */
  group(): ProcessGroupFigures {
    let cpuUserSeconds = this.#retiredUser;
    let cpuSystemSeconds = this.#retiredSystem;
    let residentMemoryBytes = 0;
    let virtualMemoryBytes = 0;
    let heapBytes = 0;
    let openFds = 0;
    for (const { stats, runtime: r } of this.#processes.values()) {
      cpuUserSeconds += r.cpuUserSeconds;
      cpuSystemSeconds += r.cpuSystemSeconds;
      residentMemoryBytes += stats.rssBytes;
      virtualMemoryBytes += r.virtualMemoryBytes ?? 0;
      heapBytes += r.heapBytes ?? 0;
      openFds += r.openFds ?? 0;
    }
    const primary = this.#processes.get(PRIMARY)?.runtime;
    return { cpuUserSeconds, cpuSystemSeconds, residentMemoryBytes, virtualMemoryBytes, heapBytes, openFds, maxFds: primary?.maxFds, startTimeSeconds: primary?.startTimeSeconds, processes: this.#processes.size };
  }

  /** render writes the process_* and nodejs_* families. */
  render(w: ExpositionWriter): void {
    const g = this.group();
    const one = (name: string, type: 'counter' | 'gauge', help: string, value: number | undefined): void => {
      if (value === undefined) return;
      w.family(name, type, help).sample(name, [], value);
    };
    one('process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds (primary and workers).', g.cpuUserSeconds);
    one('process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds (primary and workers).', g.cpuSystemSeconds);
    one('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds (primary and workers).', g.cpuUserSeconds + g.cpuSystemSeconds);
    one('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds (the primary).', g.startTimeSeconds);
    one('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes (primary and workers).', g.residentMemoryBytes);
    const linux = [...this.#processes.values()].some((s) => s.runtime.virtualMemoryBytes !== undefined);
    if (linux) {
      one('process_virtual_memory_bytes', 'gauge', 'Virtual memory size in bytes (primary and workers).', g.virtualMemoryBytes);
      one('process_heap_bytes', 'gauge', 'Process heap size in bytes (primary and workers).', g.heapBytes);
      one('process_open_fds', 'gauge', 'Number of open file descriptors (primary and workers).', g.openFds);
      one('process_max_fds', 'gauge', 'Maximum number of open file descriptors (of each process).', g.maxFds);
    }
    this.#renderNode(w);
  }

  #renderNode(w: ExpositionWriter): void {
    const procs = [...this.#processes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const each = (name: string, help: string, value: (r: RuntimeStats, s: ProcessStats) => number): void => {
      w.family(name, 'gauge', help);
      for (const [p, s] of procs) w.sample(name, [['process', p]], value(s.runtime, s.stats));
    };
    each('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds.', (r) => r.eventLoopLag);
    each('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.', (r) => r.eventLoopMin);
    each('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.', (_, s) => s.eventLoopDelayMax);
    each('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.', (r) => r.eventLoopMean);
    each('nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.', (r) => r.eventLoopStddev);
    each('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.', (_, s) => s.eventLoopDelayP50);
    each('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.', (r) => r.eventLoopP90);
    each('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.', (_, s) => s.eventLoopDelayP99);
    w.family('nodejs_active_resources', 'gauge', 'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.');
    for (const [p, s] of procs) for (const [type, n] of s.runtime.activeResources) w.sample('nodejs_active_resources', [['process', p], ['type', type]], n);
    each('nodejs_active_resources_total', 'Total number of active resources.', (r) => r.activeResources.reduce((n, [, c]) => n + c, 0));
    each('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', (r) => r.heapTotalBytes);
    each('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', (_, s) => s.heapUsedBytes);
    each('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', (r) => r.externalBytes);
    for (const [name, i, help] of [
      ['nodejs_heap_space_size_total_bytes', 1, 'Process heap space size total from Node.js in bytes.'],
      ['nodejs_heap_space_size_used_bytes', 2, 'Process heap space size used from Node.js in bytes.'],
      ['nodejs_heap_space_size_available_bytes', 3, 'Process heap space size available from Node.js in bytes.'],
    ] as const) {
      w.family(name, 'gauge', help);
      for (const [p, s] of procs) for (const space of s.runtime.heapSpaces) w.sample(name, [['process', p], ['space', space[0]]], space[i]);
    }
    w.family('nodejs_version_info', 'gauge', 'Node.js version info.');
    for (const [p, s] of procs) {
      const [major = '', minor = '', patch = ''] = s.runtime.nodeVersion.replace(/^v/, '').split('.');
      w.sample('nodejs_version_info', [['process', p], ['version', s.runtime.nodeVersion], ['major', major], ['minor', minor], ['patch', patch]], 1);
    }
    w.family('nodejs_gc_duration_seconds', 'histogram', 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.');
    for (const [p, s] of procs) for (const [kind, counts, sum] of s.runtime.gc) w.histogram('nodejs_gc_duration_seconds', [['process', p], ['kind', kind]], GC_BUCKETS_S, counts, sum);
  }

  #retire(s: Sample): void {
    this.#retiredUser += s.runtime.cpuUserSeconds;
    this.#retiredSystem += s.runtime.cpuSystemSeconds;
  }
}
