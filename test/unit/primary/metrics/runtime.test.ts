import { describe, expect, it } from 'vitest';
import { ExpositionWriter } from '../../../../src/primary/metrics/exposition.js';
import { RuntimeMetrics } from '../../../../src/primary/metrics/runtime.js';
import { ProcessSampler } from '../../../../src/shared/process-stats.js';
import type { ProcessStats, RuntimeStats } from '../../../../src/shared/stats.js';

function stats(cpu: number, rss: number, extra: Partial<RuntimeStats> = {}): ProcessStats {
  const runtime: RuntimeStats = {
    cpuUserSeconds: cpu,
    cpuSystemSeconds: cpu / 2,
    startTimeSeconds: 1000,
    virtualMemoryBytes: 10 * rss,
    heapBytes: 2 * rss,
    openFds: 7,
    maxFds: 1024,
    heapTotalBytes: 50,
    externalBytes: 5,
    heapSpaces: [['new', 8, 4, 4], ['old', 16, 12, 4]],
    eventLoopLag: 0.001,
    eventLoopMin: 0.01,
    eventLoopMean: 0.011,
    eventLoopStddev: 0.0005,
    eventLoopP90: 0.012,
    activeResources: [['TCPServerWrap', 1], ['Timeout', 2]],
    gc: [['minor', [3, 0, 0, 0, 0, 0, 0], 0.0015]],
    nodeVersion: 'v24.1.2',
    ...extra,
  };
  return { rssBytes: rss, heapUsedBytes: 30, eventLoopDelayP50: 0.0101, eventLoopDelayP99: 0.02, eventLoopDelayMax: 0.03, runtime };
}

const sample = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));

describe('RuntimeMetrics', () => {
  it('renders process_* for the primary and workers as one process and nodejs_* per process', () => {
    const m = new RuntimeMetrics();
    m.set('primary', stats(1, 100));
    m.set('worker-1', stats(2, 200));
    m.set('worker-2', stats(4, 400));
    const w = new ExpositionWriter();
    m.render(w);
    const text = w.text();
    expect(sample(text, 'process_cpu_user_seconds_total')).toEqual(['process_cpu_user_seconds_total 7']);
    expect(sample(text, 'process_cpu_seconds_total')).toEqual(['process_cpu_seconds_total 10.5']);
    expect(sample(text, 'process_resident_memory_bytes')).toEqual(['process_resident_memory_bytes 700']);
    expect(sample(text, 'process_virtual_memory_bytes')).toEqual(['process_virtual_memory_bytes 7000']);
    expect(sample(text, 'process_heap_bytes')).toEqual(['process_heap_bytes 1400']);
    expect(sample(text, 'process_open_fds')).toEqual(['process_open_fds 21']);
    expect(sample(text, 'process_max_fds')).toEqual(['process_max_fds 1024']);
    expect(sample(text, 'process_start_time_seconds')).toEqual(['process_start_time_seconds 1000']);
    expect(sample(text, 'nodejs_eventloop_lag_p99_seconds')).toEqual([
      'nodejs_eventloop_lag_p99_seconds{process="primary"} 0.02',
      'nodejs_eventloop_lag_p99_seconds{process="worker-1"} 0.02',
      'nodejs_eventloop_lag_p99_seconds{process="worker-2"} 0.02',
    ]);
    expect(sample(text, 'nodejs_heap_space_size_used_bytes')).toContain('nodejs_heap_space_size_used_bytes{process="worker-1",space="old"} 12');
    expect(sample(text, 'nodejs_active_resources')).toContain('nodejs_active_resources{process="primary",type="Timeout"} 2');
    expect(sample(text, 'nodejs_active_resources_total')).toContain('nodejs_active_resources_total{process="primary"} 3');
    expect(sample(text, 'nodejs_version_info')).toContain('nodejs_version_info{process="primary",version="v24.1.2",major="24",minor="1",patch="2"} 1');
    expect(sample(text, 'nodejs_gc_duration_seconds_count')).toContain('nodejs_gc_duration_seconds_count{process="worker-2",kind="minor"} 3');
    for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_min_seconds', 'nodejs_eventloop_lag_max_seconds', 'nodejs_eventloop_lag_mean_seconds', 'nodejs_eventloop_lag_stddev_seconds', 'nodejs_eventloop_lag_p50_seconds', 'nodejs_eventloop_lag_p90_seconds', 'nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes'])
      expect(sample(text, name), name).toHaveLength(3);
    for (const name of ['nodejs_heap_space_size_total_bytes', 'nodejs_heap_space_size_available_bytes']) expect(sample(text, name), name).toHaveLength(6); // two spaces each
  });

  it('keeps the CPU counters monotonic when a worker exits or its slot restarts', () => {
    const m = new RuntimeMetrics();
    m.set('primary', stats(1, 100));
    m.set('worker-1', stats(10, 100));
    m.forget('worker-1'); // exited: its 15 s stay counted
    m.set('worker-1', stats(0.5, 100)); // the replacement starts from zero
    expect(m.group().cpuUserSeconds).toBe(11.5);
    m.set('worker-1', stats(3, 100));
    m.set('worker-1', stats(0.25, 100)); // restarted again before its exit was seen: a counter that went back
    expect(m.group().cpuUserSeconds).toBe(1 + 10 + 3 + 0.25);
    expect(m.group().processes).toBe(2);
    expect(m.group().residentMemoryBytes).toBe(200);
  });

  it('ignores a process sample without runtime figures rather than render zeros', () => {
    const m = new RuntimeMetrics();
    m.set('worker-1', { rssBytes: 1, heapUsedBytes: 1, eventLoopDelayP50: 0, eventLoopDelayP99: 0, eventLoopDelayMax: 0 });
    expect(m.group().processes).toBe(0);
  });

  it('measures this process as prom-client would', async () => {
    const sampler = new ProcessSampler();
    try {
      sampler.sample();
      await new Promise<void>((resolve) => setImmediate(resolve)); // the /proc reads and the lag probe finish
      await new Promise<void>((resolve) => setTimeout(resolve, 50));
      const r = sampler.sample().runtime!;
      expect(r.cpuUserSeconds).toBeGreaterThan(0);
      expect(r.startTimeSeconds).toBeGreaterThan(1.7e9);
      expect(r.startTimeSeconds).toBeLessThanOrEqual(Date.now() / 1000);
      expect(r.heapSpaces.map(([name]) => name)).toContain('old');
      expect(r.nodeVersion).toBe(process.version);
      if (process.platform === 'linux') {
        expect(r.openFds).toBeGreaterThan(2);
        expect(r.maxFds).toBeGreaterThan(0);
        expect(r.virtualMemoryBytes).toBeGreaterThan(r.heapBytes!);
      }
    } finally {
      sampler.stop();
    }
  });
});
