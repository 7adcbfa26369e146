import { describe, expect, it } from 'vitest';
import { ControlPlaneMetrics } from '../../../../src/primary/metrics/control-plane.js';
import { ExpositionWriter } from '../../../../src/primary/metrics/exposition.js';
import { IngressNginxMetrics, countEstablished, type IngressNginxState } from '../../../../src/primary/metrics/ingress-nginx.js';
import { WorkerStats } from '../../../../src/worker/stats.js';

const proc = { rssBytes: 1, heapUsedBytes: 1, eventLoopDelayP50: 0, eventLoopDelayP99: 0, eventLoopDelayMax: 0 };
const opts = { controllerNamespace: 'ingress', controllerClass: 'flusso.dev/ingress-controller', controllerPod: 'flusso-abc', path: false };
const C = 'controller_class="flusso.dev/ingress-controller",controller_namespace="ingress",controller_pod="flusso-abc"';

const state = (over: Partial<IngressNginxState> = {}): IngressNginxState => ({
  generation: 7,
  reloads: { published: 3, failed: 0, lastFailed: false, lastSuccessSeconds: 1_700_000_000 },
  certificates: [],
  group: { cpuUserSeconds: 1, cpuSystemSeconds: 0.5, residentMemoryBytes: 300, virtualMemoryBytes: 3000, heapBytes: 0, openFds: 0, maxFds: 1024, startTimeSeconds: 1_699_999_000.5, processes: 3 },
  connections: 5,
  inFlight: 2,
  ...over,
});

function render(m: IngressNginxMetrics, s: IngressNginxState = state()): string {
  const w = new ExpositionWriter();
  m.render(w, s);
  return w.text();
}

const lines = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('IngressNginxMetrics', () => {
  it('adds the workers\' cells up under ingress-nginx\'s names and label names', () => {
    const m = new IngressNginxMetrics(opts);
    for (let worker = 0; worker < 2; worker++) {
      const s = new WorkerStats({ path: false });
      s.counters('shop/web', 'shop/web-svc', 'shop.test', '/').record('GET', 200, 0.02, 0.004, 12, 150, 0.006);
      s.counters('shop/web', 'shop/web-svc', 'shop.test', '/').record('POST', 503, 0.2, -1, 0, 0);
      s.unmatched.record('GET', 404, 0.001, -1, 0, 9);
      m.add(s.flush(0, proc));
    }
    const text = render(m);
    expect(lines(text, 'nginx_ingress_controller_requests')).toEqual([
      `nginx_ingress_controller_requests{${C},namespace="",ingress="",service="",host="",canary="",method="GET",status="404"} 2`,
      `nginx_ingress_controller_requests{${C},namespace="shop",ingress="web",service="web-svc",host="shop.test",canary="",method="GET",status="200"} 2`,
      `nginx_ingress_controller_requests{${C},namespace="shop",ingress="web",service="web-svc",host="shop.test",canary="",method="POST",status="503"} 2`,
    ]);
    const labels = `${C},namespace="shop",ingress="web",service="web-svc",host="shop.test",canary="",method="GET",status="200"`;
    expect(lines(text, 'nginx_ingress_controller_request_duration_seconds_bucket')).toContain(`nginx_ingress_controller_request_duration_seconds_bucket{${labels},le="0.025"} 2`);
    expect(lines(text, 'nginx_ingress_controller_request_duration_seconds_bucket')).toContain(`nginx_ingress_controller_request_duration_seconds_bucket{${labels},le="0.01"} 0`);
    expect(lines(text, 'nginx_ingress_controller_response_duration_seconds_count')).toEqual([`nginx_ingress_controller_response_duration_seconds_count{${labels}} 2`]);
    expect(lines(text, 'nginx_ingress_controller_header_duration_seconds_sum')).toEqual([`nginx_ingress_controller_header_duration_seconds_sum{${labels}} 0.008`]);
    expect(lines(text, 'nginx_ingress_controller_request_size_sum')).toContain(`nginx_ingress_controller_request_size_sum{${labels}} 24`);
    expect(lines(text, 'nginx_ingress_controller_response_size_bucket')).toContain(`nginx_ingress_controller_response_size_bucket{${labels},le="100"} 0`);
    expect(lines(text, 'nginx_ingress_controller_response_size_bucket')).toContain(`nginx_ingress_controller_response_size_bucket{${labels},le="+Inf"} 2`);
    expect(lines(text, 'nginx_ingress_controller_bytes_sent_bucket')).toContain(`nginx_ingress_controller_bytes_sent_bucket{${labels},le="1000"} 2`);
    expect(lines(text, 'nginx_ingress_controller_nginx_process_requests_total')).toEqual([`nginx_ingress_controller_nginx_process_requests_total{${C}} 6`]);
    expect(text).not.toContain('path=');
  });

  it('adds the path label only when asked', () => {
    const m = new IngressNginxMetrics({ ...opts, path: true });
    const s = new WorkerStats({ path: true });
    s.counters('shop/web', 'shop/api', 'shop.test', '/api').record('GET', 200, 0.001, 0.001, 0, 0);
    s.counters('shop/web', 'shop/web-svc', 'shop.test', '/').record('GET', 200, 0.001, 0.001, 0, 0);
    m.add(s.flush(0, proc));
    expect(lines(render(m), 'nginx_ingress_controller_requests').map((l) => /path="([^"]*)"/.exec(l)?.[1])).toEqual(['/api', '/']); // sorted by Ingress, Service, host, path
  });

  it('renders the controller families: reloads, config hash, certificates, process group and connections', () => {
    const m = new IngressNginxMetrics(opts);
    const certificates = [
      { host: '*', secret: null, ingress: null, status: 'ok', serving: 'own', certificate: { notAfter: '2031-01-01T00:00:00.000Z' } },
      { host: 'shop.test', secret: 'shop/tls', ingress: 'shop/web', status: 'ok', serving: 'own', certificate: { notAfter: '2030-01-01T00:00:00.000Z' } },
      { host: 'nocert.test', secret: 'shop/missing', ingress: 'shop/x', status: 'error', serving: 'default' },
    ] as unknown as IngressNginxState['certificates'];
    const text = render(m, state({ certificates }));
    expect(lines(text, 'nginx_ingress_controller_config_hash')).toEqual([`nginx_ingress_controller_config_hash{${C}} 7`]);
    expect(lines(text, 'nginx_ingress_controller_config_last_reload_successful')).toEqual([`nginx_ingress_controller_config_last_reload_successful{${C}} 1`]);
    expect(lines(text, 'nginx_ingress_controller_config_last_reload_successful_timestamp_seconds')).toEqual([`nginx_ingress_controller_config_last_reload_successful_timestamp_seconds{${C}} 1700000000`]);
    expect(lines(text, 'nginx_ingress_controller_success')).toEqual([`nginx_ingress_controller_success{${C}} 3`]);
    expect(lines(text, 'nginx_ingress_controller_errors')).toEqual([`nginx_ingress_controller_errors{${C}} 0`]);
    expect(lines(text, 'nginx_ingress_controller_ssl_expire_time_seconds')).toEqual([
      'nginx_ingress_controller_ssl_expire_time_seconds{class="flusso.dev/ingress-controller",host="shop.test",namespace="ingress"} 1893456000',
      'nginx_ingress_controller_ssl_expire_time_seconds{class="flusso.dev/ingress-controller",host="nocert.test",namespace="ingress"} 1924992000',
    ]);
    expect(lines(text, 'nginx_ingress_controller_nginx_process_connections')).toEqual([
      `nginx_ingress_controller_nginx_process_connections{${C},state="active"} 5`,
      `nginx_ingress_controller_nginx_process_connections{${C},state="waiting"} 3`,
      `nginx_ingress_controller_nginx_process_connections{${C},state="writing"} 2`,
    ]);
    expect(lines(text, 'nginx_ingress_controller_nginx_process_cpu_seconds_total')).toEqual([`nginx_ingress_controller_nginx_process_cpu_seconds_total{${C}} 1.5`]);
    expect(lines(text, 'nginx_ingress_controller_nginx_process_resident_memory_bytes')).toEqual([`nginx_ingress_controller_nginx_process_resident_memory_bytes{${C}} 300`]);
    expect(lines(text, 'nginx_ingress_controller_nginx_process_num_procs')).toEqual([`nginx_ingress_controller_nginx_process_num_procs{${C}} 3`]);
    expect(lines(text, 'nginx_ingress_controller_nginx_process_oldest_start_time_seconds')).toEqual([`nginx_ingress_controller_nginx_process_oldest_start_time_seconds{${C}} 1699999000`]);
    // Without a connection count (not Linux) the family is there but has no sample.
    expect(lines(render(m, state({ connections: undefined })), 'nginx_ingress_controller_nginx_process_connections')).toEqual([]);
  });

  it('reports a failed rebuild as a failed reload until the next rebuild succeeds', () => {
    let now = 1_000_000;
    const cp = new ControlPlaneMetrics(() => now);
    cp.recordRebuild(0.01, true);
    now = 2_000_000;
    cp.recordRebuild(0.01, false); // unchanged: no reload, the timestamp stays
    expect(cp.reloads()).toEqual({ published: 1, failed: 0, lastFailed: false, lastSuccessSeconds: 1000 });
    cp.recordRebuildFailure();
    expect(cp.reloads()).toMatchObject({ failed: 1, lastFailed: true, lastSuccessSeconds: 1000 });
    const m = new IngressNginxMetrics(opts);
    const text = render(m, state({ reloads: cp.reloads() }));
    expect(lines(text, 'nginx_ingress_controller_config_last_reload_successful')).toEqual([`nginx_ingress_controller_config_last_reload_successful{${C}} 0`]);
    expect(lines(text, 'nginx_ingress_controller_errors')).toEqual([`nginx_ingress_controller_errors{${C}} 1`]);
    const w = new ExpositionWriter();
    cp.render(w, { generation: 1, workers: [], diagnostics: [], table: null, source: 'file', watches: [], certificates: [] });
    expect(w.text()).toContain('flusso_config_rebuilds_total{result="failed"} 1\n');
    now = 3_000_000;
    cp.recordRebuild(0.01, true);
    expect(cp.reloads()).toEqual({ published: 2, failed: 1, lastFailed: false, lastSuccessSeconds: 3000 });
  });

  it('skips malformed cells from IPC rather than count them', () => {
    const m = new IngressNginxMetrics(opts);
    m.add({ routes: [{ ingress: 'a/b', service: 'a/c', host: 'x', requests: [], duration: [], durationSum: 0, upstream: [], upstreamSum: 0, bytesIn: 0, bytesOut: 0, connectErrors: 0, timeouts: 0, compat: [200, 99, 1, 2, 3] }], inFlight: 0, process: proc });
    expect(lines(render(m), 'nginx_ingress_controller_requests')).toEqual([]);
  });
});

describe('countEstablished', () => {
  it('counts established connections whose local port is a proxy port', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0', // listening on 8080
      '   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1', // client → 8080
      '   2: 0100007F:1F90 0100007F:C351 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1',
      '   3: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1', // the client's end
      '   4: 0100007F:20FB 0100007F:C352 06 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 20 4 30 10 -1', // TIME_WAIT on 8443
      '   5: 0100007F:20FB 0100007F:C353 01 00000000:00000000 00:00000000 00000000     0        0 6 1 0000000000000000 20 4 30 10 -1', // client → 8443
    ].join('\n');
    expect(countEstablished(tcp, new Set([8080, 8443]))).toBe(3);
    expect(countEstablished(tcp, new Set([9000]))).toBe(0);
  });
});

describe('Observability', () => {
  const cpState = () => ({ generation: 1, workers: [], diagnostics: [], table: null, source: 'file', watches: [], certificates: [] });

  it('renders the ingress-nginx family only when it is turned on', async () => {
    const { Observability } = await import('../../../../src/primary/metrics/observability.js');
    const delta = (): ReturnType<WorkerStats['flush']> => {
      const s = new WorkerStats({ path: false });
      s.counters('shop/web', 'shop/web-svc', 'shop.test', '/').record('GET', 200, 0.001, 0.001, 0, 0);
      return s.flush(0, proc);
    };
    const off = new Observability(cpState);
    off.onWorkerStats(1, delta());
    expect(off.metricsText()).not.toContain('nginx_ingress_controller_');
    expect(off.metricsText()).toContain('status="200"');
    const on = new Observability(cpState, { ...opts, proxyPorts: [8080] });
    on.onWorkerStats(1, delta());
    expect(lines(on.metricsText(), 'nginx_ingress_controller_requests')).toHaveLength(1);
  });
});
