import { describe, expect, it } from 'vitest';
import { ExpositionWriter } from '../../../../src/primary/metrics/exposition.js';
import { TrafficMetrics } from '../../../../src/primary/metrics/traffic.js';
import { ControlPlaneMetrics } from '../../../../src/primary/metrics/control-plane.js';
import { WorkerStats } from '../../../../src/worker/stats.js';

const proc = { rssBytes: 100, heapUsedBytes: 50, eventLoopDelayP50: 0.001, eventLoopDelayP99: 0.002, eventLoopDelayMax: 0.01 };

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('TrafficMetrics', () => {
  it('adds deltas from several workers into cumulative series labelled from objects', () => {
    const t = new TrafficMetrics();
    for (const worker of ['worker-1', 'worker-2']) {
      const s = new WorkerStats();
      s.counters('shop/web', 'shop/web-svc').record('GET', 200, 0.02, 0.01, 0, 10);
      s.unmatched.record('GET', 404, 0.001, -1, 0, 5);
      t.add(worker, s.flush(1, proc));
    }
    const w = new ExpositionWriter();
    t.render(w);
    const text = w.text();
    expect(lines(text, 'flusso_requests_total')).toEqual([
      'flusso_requests_total{namespace="_unmatched",ingress="_unmatched",service="_unmatched",method="GET",status_class="4xx",status="404"} 2',
      'flusso_requests_total{namespace="shop",ingress="web",service="web-svc",method="GET",status_class="2xx",status="200"} 2',
    ]);
    expect(lines(text, 'flusso_request_duration_seconds_count')).toEqual([
      'flusso_request_duration_seconds_count{namespace="_unmatched",ingress="_unmatched",service="_unmatched"} 2',
      'flusso_request_duration_seconds_count{namespace="shop",ingress="web",service="web-svc"} 2',
    ]);
    expect(lines(text, 'flusso_in_flight_requests{')).toEqual(['flusso_in_flight_requests{process="worker-1"} 1', 'flusso_in_flight_requests{process="worker-2"} 1']);
    expect(t.totalRequests()).toBe(4);
  });

  it('labels the exact status up to the bound per route; later codes count as their class', () => {
    const t = new TrafficMetrics();
    // Worker 1 answers 16 distinct 4xx codes; worker 2 then brings 599 and 200: the primary's
    // own bound is reached, so its 599 counts as 5xx while the first 16 keep their rows.
    const s1 = new WorkerStats();
    const c1 = s1.counters('shop/web', 'shop/web-svc');
    for (let code = 400; code < 416; code++) c1.record('GET', code, 0.01, 0.01, 0, 0);
    t.add('worker-1', s1.flush(0, proc));
    const s2 = new WorkerStats();
    const c2 = s2.counters('shop/web', 'shop/web-svc');
    c2.record('GET', 599, 0.01, 0.01, 0, 0);
    c2.record('GET', 400, 0.01, 0.01, 0, 0);
    t.add('worker-2', s2.flush(0, proc));
    const w = new ExpositionWriter();
    t.render(w);
    const statuses = lines(w.text(), 'flusso_requests_total{').map((l) => /status="([^"]+)"} (\d+)/.exec(l)!.slice(1).join('='));
    expect(statuses).toEqual([...Array.from({ length: 16 }, (_, i) => `${400 + i}=${i === 0 ? 2 : 1}`), '5xx=1']);
    expect(lines(w.text(), 'flusso_requests_total{').at(-1)).toContain('status_class="5xx",status="5xx"');
    expect(t.totals().errors).toBe(1);
  });

  it('keeps the series count fixed however many distinct requests arrive', () => {
    const t = new TrafficMetrics();
    const s = new WorkerStats();
    // Whatever the client sent (hosts, paths), an unrouted request only ever counts as _unmatched.
    for (let i = 0; i < 1000; i++) s.unmatched.record(i % 2 ? 'GET' : 'POST', 404, 0.001, -1, 0, 1);
    t.add('worker-1', s.flush(0, proc));
    const before = new ExpositionWriter();
    t.render(before);
    for (let i = 0; i < 1000; i++) s.unmatched.record('GET', 404, 0.001, -1, 0, 1);
    t.add('worker-1', s.flush(0, proc));
    const after = new ExpositionWriter();
    t.render(after);
    expect(after.text().split('\n').length).toBe(before.text().split('\n').length);
  });

  it('adds WebSockets up per Service for the GUI: opened, open now, messages each way', () => {
    const t = new TrafficMetrics();
    for (const [worker, ingress] of [['worker-1', 'chat/a'], ['worker-2', 'chat/b']] as const) {
      const s = new WorkerStats();
      const c = s.counters(ingress, 'chat/echo');
      for (let i = 0; i < 3; i++) c.recordWebSocketOpened();
      c.recordWebSocketClosed();
      for (let i = 0; i < 5; i++) c.recordWebSocketMessage('in');
      c.recordWebSocketMessage('out');
      t.add(worker, s.flush(0, proc, 2));
    }
    expect(t.byService().get('chat/echo')).toEqual({ requests: 0, errors: 0, websocketsOpened: 6, websocketsOpen: 4, websocketMessagesIn: 10, websocketMessagesOut: 2 });
  });
});

describe('ControlPlaneMetrics', () => {
  it('renders generations, restarts, rebuilds, diagnostics by code and ready endpoints', () => {
    const m = new ControlPlaneMetrics();
    m.recordRebuild(0.004, true);
    m.recordRebuild(0.2, false);
    const w = new ExpositionWriter();
    m.render(w, {
      generation: 7,
      source: 'kubernetes',
      watches: [{ watch: 'ingresses', up: true }, { watch: 'endpointslices', up: false }],
      certificates: [],
      workers: [{ id: 1, pid: 10, generation: 7, listening: true, restarts: 2, uptimeMs: 5, lastError: null, node: 'v24.0.0', websockets: 0 }],
      diagnostics: [
        { code: 'ING_ERR_NO_ENDPOINTS', severity: 'warning', object: 'Service a/b', message: 'm' },
        { code: 'ING_ERR_NO_ENDPOINTS', severity: 'warning', object: 'Service a/c', message: 'm' },
      ],
      table: {
        hosts: [],
        defaultBackend: null,
        backends: [{ id: 'a/b:80', service: 'a/b', servicePort: 80, loadBalancer: 'round-robin', endpoints: [
          { address: '10.0.0.1', port: 80, weight: 1, ready: true, terminating: false },
          { address: '10.0.0.2', port: 80, weight: 1, ready: false, terminating: true },
        ] }],
      },
    });
    const text = w.text();
    expect(text).toContain('flusso_config_generation 7\n');
    expect(text).toContain('flusso_worker_config_generation{worker="1"} 7\n');
    expect(text).toContain('flusso_worker_restarts_total{worker="1"} 2\n');
    expect(text).toContain('flusso_config_rebuilds_total{result="published"} 1\n');
    expect(text).toContain('flusso_config_rebuilds_total{result="unchanged"} 1\n');
    expect(text).toContain('flusso_config_rebuild_duration_seconds_count 2\n');
    expect(text).toContain('flusso_config_diagnostics{code="ING_ERR_NO_ENDPOINTS",severity="warning"} 2\n');
    expect(text).toContain('flusso_backend_ready_endpoints{namespace="a",service="b",port="80"} 1\n');
    expect(text).toContain('flusso_source_watch_up{source="kubernetes",watch="ingresses"} 1\n');
    expect(text).toContain('flusso_source_watch_up{source="kubernetes",watch="endpointslices"} 0\n');
    expect(text).toContain('flusso_tls_certificates{status="ok"} 0\n');
  });
});
