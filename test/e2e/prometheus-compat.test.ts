/**
 * Issue 16 item 3: a Grafana dashboard built for ingress-nginx shows data from Flusso. A real
 * Prometheus scrapes Flusso started with --metrics-ingress-nginx-compat, labelling the target
 * with its namespace as a Kubernetes scrape does (so the metrics' own `namespace` becomes
 * `exported_namespace`, which the dashboard relies on). Every query of the official "NGINX
 * Ingress controller" dashboard (test/fixtures/grafana/ingress-nginx-dashboard.json), with its
 * variables at their All value, runs through Prometheus's HTTP API while traffic flows, and
 * must return data. The standard process_*, nodejs_* and the exact status label are checked
 * through the same Prometheus.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { testPki, tlsSecret } from '../helpers/certs.js';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';
import { freePort } from '../helpers/ports.js';

const NS = 'shop';
const CONTROLLER_NS = 'ingress-flusso';
const POD = 'flusso-e2e-0';
const TOKEN = 'prometheus-compat-token-0123456789';

interface Dashboard {
  readonly annotations: readonly { name: string; expr: string }[];
  readonly templating: readonly { name: string; query: string; allValue: string }[];
  readonly panels: readonly { title: string; targets: readonly { refId: string; expr: string; instant?: boolean }[] }[];
}
const dashboard = JSON.parse(readFileSync(new URL('../fixtures/grafana/ingress-nginx-dashboard.json', import.meta.url), 'utf8')) as Dashboard;

const ALERTS_FILE = new URL('../fixtures/prometheus/ingress-nginx-alerts.yml', import.meta.url);
const alerts = (parseYaml(readFileSync(ALERTS_FILE, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);

/** withAll replaces the dashboard variables by their All value, as Grafana does by default. */
const withAll = (expr: string): string => dashboard.templating.reduce((e, v) => e.replaceAll(`$${v.name}`, v.allValue), expr);

/** "Last Config Failed" counts failed reloads: while every reload succeeds, no data is the right answer. */
const EMPTY_WHEN_HEALTHY = new Set(['Last Config Failed']);

interface Series {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

describe('an ingress-nginx Grafana dashboard on Flusso (--metrics-ingress-nginx-compat)', () => {
  let flusso: FlussoProcess;
  let echo: EchoPods;
  let prom: ChildProcess | undefined;
  let promPort = 0;
  let work = '';
  let traffic: NodeJS.Timeout | undefined;
  let held: Socket | undefined;
  let sent = 0;

  beforeAll(async () => {
    expect(spawnSync('prometheus', ['--version']).status, 'prometheus is installed (apt-get install prometheus; .ci/run does)').toBe(0);
    echo = await startEchoPods('api', ['127.0.0.1'], 0, { namespace: NS, ingress: 'api' });
    const pki = testPki();
    const secure = ingress(NS, 'secure', { host: 'secure.test', paths: [{ path: '/', service: 'api', port: 80 }] });
    (secure.spec as Record<string, unknown>).tls = [{ hosts: ['secure.test'], secretName: 'secure-cert' }];
    const dir = await manifestDir();
    await dir.write('all.yaml', [
      ingressClass('flusso'),
      ingress(NS, 'api', { host: 'api.test', paths: [{ path: '/', service: 'api', port: 80 }] }),
      secure,
      tlsSecret(NS, 'secure-cert', pki.valid(['secure.test'])),
      // A Service without endpoints: its requests get 503.
      ingress(NS, 'empty', { host: 'empty.test', paths: [{ path: '/', service: 'empty', port: 80 }] }),
      service(NS, 'empty', [{ port: 80, targetPort: 9 }]),
      service(NS, 'api', [{ port: 80, targetPort: echo.port }]),
      endpointSlice(NS, 'api', echo.addresses, echo.port),
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2, args: ['--admin-token', TOKEN, '--metrics-ingress-nginx-compat'], env: { POD_NAME: POD, POD_NAMESPACE: CONTROLLER_NS } });

    work = await mkdtemp(join(tmpdir(), 'flusso-prom-compat-'));
    promPort = await freePort();
    await writeFile(
      join(work, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: flusso',
        `    authorization: { type: Bearer, credentials: ${TOKEN} }`,
        // The target label a Kubernetes service discovery adds: the scraped `namespace` becomes `exported_namespace`.
        `    static_configs: [ { targets: ['127.0.0.1:${flusso.adminPort}'], labels: { namespace: ${CONTROLLER_NS} } } ]`,
        '',
      ].join('\n'),
    );
    prom = spawn('prometheus', [`--config.file=${join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${join(work, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    await pollUntil('Prometheus to be ready', async () => {
      const r = await fetch(`http://127.0.0.1:${promPort}/-/ready`).catch(() => null);
      return r?.ok ? true : undefined;
    }, 30_000);

    // An idle keep-alive client connection, held open for the connections panel.
    held = connect(flusso.httpPort, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      held!.once('error', reject);
      held!.write('GET /held HTTP/1.1\r\nHost: api.test\r\n\r\n');
      held!.once('data', () => resolve());
    });
    // Steady traffic while the queries run: the dashboard's rates look at the last two minutes.
    const tick = (): void => {
      sent++;
      const post = sent % 5 === 0 ? { method: 'POST', body: 'x'.repeat(sent % 50) } : {};
      void httpRequest({ port: flusso.httpPort, host: 'api.test', path: `/item/${sent}`, ...post }).catch(() => undefined);
      if (sent % 7 === 0) void httpRequest({ port: flusso.httpPort, host: 'nowhere.test', path: '/' }).catch(() => undefined);
      if (sent % 50 === 0) void httpRequest({ port: flusso.httpPort, host: 'empty.test', path: '/' }).catch(() => undefined);
      if (sent % 11 === 0) void httpRequest({ port: flusso.httpsPort, host: 'secure.test', path: '/s', tls: { servername: 'secure.test' } }).catch(() => undefined);
    };
    traffic = setInterval(tick, 25);
  }, 90_000);

  afterAll(async () => {
    clearInterval(traffic);
    held?.destroy();
    prom?.kill('SIGKILL');
    await flusso?.stop();
    await echo?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const query = async (promql: string): Promise<Series[]> => {
    const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await r.json()) as { status: string; error?: string; data?: { resultType: string; result: Series[] } };
    expect(body.status, `${promql}: ${body.error ?? ''}`).toBe('success');
    return body.data?.result ?? [];
  };

  /** withData polls a query until it returns series whose values are all numbers (not NaN). */
  const withData = (what: string, promql: string): Promise<Series[]> =>
    pollUntil(
      `${what} to show data: ${promql}`,
      async () => {
        const result = await query(promql);
        return result.length > 0 && result.every((s) => Number.isFinite(Number(s.value[1]))) ? result : undefined;
      },
      60_000,
      500,
    );

  it('fills every template variable of the dashboard', async () => {
    const want: Record<string, string> = { namespace: CONTROLLER_NS, controller_class: 'flusso.dev/ingress-controller', controller: POD, ingress: 'api', exported_namespace: NS };
    for (const v of dashboard.templating) {
      const m = /^label_values\((.+),\s*(\w+)\)\s*$/.exec(v.query.trim());
      expect(m, v.query).not.toBeNull();
      const [, selector, label] = m as unknown as [string, string, string];
      const values = await pollUntil(`${v.name} to have values`, async () => {
        const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/label/${label}/values?match[]=${encodeURIComponent(withAll(selector))}`);
        const body = (await r.json()) as { data: string[] };
        return body.data.length > 0 ? body.data : undefined;
      }, 60_000, 500);
      expect(values, v.name).toContain(want[v.name]);
    }
  });

  it.each(dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr }))))('$panel ($refId) shows data', async ({ panel, expr }) => {
    if (EMPTY_WHEN_HEALTHY.has(panel)) {
      // No failed reload: the query is empty, while the series it counts is there and says 1.
      expect(await query(withAll(expr))).toEqual([]);
      const inner = withAll(expr).replace(/^count\((.*) == 0\)$/, '$1');
      expect((await withData('the reload gauge', inner)).map((s) => s.value[1])).toEqual(['1']);
      return;
    }
    const result = await withData(panel, withAll(expr));
    if (panel === 'Controller Connections') expect(Number(result[0]!.value[1]), 'the held connection is counted').toBeGreaterThan(0);
    if (panel === 'Ingress Certificate Expiry') expect(result.map((s) => s.metric.host)).toEqual(['secure.test']);
    if (panel.startsWith('Ingress Request Volume') || panel.startsWith('Ingress Success Rate')) expect(result.map((s) => s.metric.ingress)).toContain('api');
  });

  it.each(dashboard.annotations)('the $name annotation has data', async ({ expr }) => {
    expect((await withData('the annotation', withAll(expr))).map((s) => s.metric.controller_class)).toEqual(['flusso.dev/ingress-controller']);
  });

  it('evaluates ingress-nginx\'s example alert rules: valid, and firing only where Flusso\'s traffic says so', async () => {
    const check = spawnSync('promtool', ['check', 'rules', ALERTS_FILE.pathname], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    // About one request in eight gets a 404 (an unknown host): over 5 %, so NGINXTooMany400s
    // fires; 503s under 2 %, a certificate good for 90 days and no failed reload keep the others quiet.
    const firing = { NGINXTooMany400s: true, NGINXTooMany500s: false, NGINXCertificateExpiry: false, NGINXConfigFailed: false } as Record<string, boolean>;
    expect(alerts.map((a) => a.alert).sort()).toEqual(Object.keys(firing).sort());
    for (const a of alerts) {
      // The expression without its threshold has data: the alert watches series that exist.
      const inner = a.expr.replace(/^count\((.*) == 0\) > 0$/, '$1').replace(/\s*[<>] [\d.]+$/, '');
      expect(inner, a.alert).not.toBe(a.expr);
      await withData(`${a.alert}'s series`, inner);
      if (firing[a.alert]) await withData(`${a.alert} to fire`, a.expr);
      else expect(await query(a.expr), a.alert).toEqual([]);
    }
  });

  it('keeps the request counts of the compatible family equal to Flusso\'s own', async () => {
    // Traffic stops, so both families settle; they count the same requests.
    clearInterval(traffic);
    const settled = await pollUntil('both families to agree', async () => {
      const [own] = await query('sum(flusso_requests_total)');
      const [compat] = await query('sum(nginx_ingress_controller_requests)');
      return own !== undefined && compat !== undefined && own.value[1] === compat.value[1] ? Number(own.value[1]) : undefined;
    }, 30_000, 500);
    expect(settled).toBeGreaterThan(100);
  });

  it('passes promtool check metrics but for the names ingress-nginx and prom-client chose', async () => {
    const text = await (await fetch(`http://127.0.0.1:${flusso.adminPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(text).toContain('nginx_ingress_controller_requests{');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim().split('\n').sort()).toEqual([
      'nginx_ingress_controller_errors counter metrics should have "_total" suffix',
      'nginx_ingress_controller_requests counter metrics should have "_total" suffix',
      'nginx_ingress_controller_success counter metrics should have "_total" suffix',
      'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
    ]);
  });

  it('exposes the exact status, process_* for the pod and nodejs_* per process', async () => {
    expect((await withData('200s', 'sum(flusso_requests_total{status="200",ingress="api"})')).length).toBe(1);
    expect((await withData('404s', 'sum(flusso_requests_total{status="404",status_class="4xx"})')).length).toBe(1);
    const cpu = await withData('process CPU', 'rate(process_cpu_seconds_total{job="flusso"}[30s])');
    expect(cpu).toHaveLength(1);
    expect(Number(cpu[0]!.value[1])).toBeGreaterThan(0);
    expect(await withData('memory', 'process_resident_memory_bytes{job="flusso"} > 50e6')).toHaveLength(1);
    expect((await withData('start time', 'process_start_time_seconds')).length).toBe(1);
    // The primary and both workers, each its own series.
    const lag = await withData('event-loop p99', 'nodejs_eventloop_lag_p99_seconds');
    expect(lag.map((s) => s.metric.process).sort()).toEqual(['primary', 'worker-1', 'worker-2']);
    expect((await withData('heap', 'sum by (process) (nodejs_heap_size_used_bytes)')).length).toBe(3);
  });

  it('times the upstream head and the whole upstream response of proxied requests', async () => {
    for (const name of ['header_duration_seconds', 'response_duration_seconds']) {
      const [count] = await withData(name, `sum(nginx_ingress_controller_${name}_count{ingress="api",status="200"})`);
      const [requests] = await withData('requests', 'sum(nginx_ingress_controller_requests{ingress="api",status="200"})');
      // Every 200 of api came from the backend (traffic has stopped: the two are read at rest).
      expect(count!.value[1], name).toBe(requests!.value[1]);
    }
  });
});
