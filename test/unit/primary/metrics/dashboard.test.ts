import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CacheMetrics } from '../../../../src/primary/metrics/cache.js';
import { ControlPlaneMetrics } from '../../../../src/primary/metrics/control-plane.js';
import { ExpositionWriter } from '../../../../src/primary/metrics/exposition.js';
import { TrafficMetrics } from '../../../../src/primary/metrics/traffic.js';
import { WorkerStats } from '../../../../src/worker/stats.js';

const dashboard = JSON.parse(readFileSync(new URL('../../../../deploy/grafana/flusso-dashboard.json', import.meta.url), 'utf8')) as {
  panels: { title: string; targets: { expr: string }[] }[];
};

/** Family names Flusso exposes, read off a rendered scrape. */
function exposedFamilies(): Set<string> {
  const traffic = new TrafficMetrics();
  const s = new WorkerStats();
  s.counters('a/b', 'a/c').record('GET', 200, 0.01, 0.01, 1, 1);
  traffic.add('worker-1', s.flush(0, { rssBytes: 1, heapUsedBytes: 1, eventLoopDelayP50: 0, eventLoopDelayP99: 0, eventLoopDelayMax: 0 }));
  const w = new ExpositionWriter();
  traffic.render(w);
  new CacheMetrics().render(w);
  new ControlPlaneMetrics().render(w, { generation: 1, workers: [], diagnostics: [], table: null, source: 'file', watches: [{ watch: 'directory', up: true }], certificates: [] });
  return new Set([...w.text().matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

describe('the Grafana dashboard', () => {
  const families = exposedFamilies();
  const panels = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ title: p.title, expr: t.expr })));

  it('has panels', () => {
    expect(panels.length).toBeGreaterThan(10);
  });

  it.each(panels)('$title queries only metrics Flusso exposes', ({ expr }) => {
    const used = [...expr.matchAll(/\b(flusso_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(families, `${name} in ${expr}`).toContain(name);
  });
});
