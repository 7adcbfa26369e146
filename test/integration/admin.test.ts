/**
 * The admin surface through the built CLI: token and Origin checks, the JSON API, drain and
 * weight overrides reaching every worker (traffic stops reaching a drained endpoint), cache
 * purges sent to every worker and the cache view, the TLS certificates, the access log, and
 * /metrics (series bounded under random hosts and paths, `promtool check metrics`).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { testPki, tlsSecret } from '../helpers/certs.js';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest, rawRequest, statusOf } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type ManifestDir } from '../helpers/manifests.js';

const NS = 'admin';
const TOKEN = 'test-admin-token-0123456789abcdef';

describe('admin API, overrides and metrics (2 workers)', () => {
  let dir: ManifestDir;
  let flusso: FlussoProcess;
  let web: EchoPods;

  const admin = async (path: string, init: { method?: string; token?: string | null; body?: unknown; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    const token = init.token === undefined ? TOKEN : init.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${flusso.adminPort}${path}`, { method: init.method ?? 'GET', headers, ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }) });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json: json as Record<string, unknown> };
  };
  const get = (path = '/') => httpRequest({ port: flusso.httpPort, host: 'web.test', path });
  const THREE = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  const webManifests = (addresses: readonly string[], annotations?: Record<string, string>) => {
    const web0 = ingress(NS, 'web', { host: 'web.test', paths: [{ path: '/', service: 'web', port: 'http' }] });
    return [
      annotations === undefined ? web0 : { ...web0, metadata: { name: 'web', namespace: NS, annotations } },
      service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]),
      endpointSlice(NS, 'web', addresses, web.port, { portName: 'http' }),
    ];
  };
  /** endpointsOf lists the addresses /api/v1/backends shows for the web Service. */
  const endpointsOf = async () => {
    const b = await admin('/api/v1/backends');
    expect(b.status, b.text).toBe(200);
    return { generation: b.json.generation as number, addresses: (b.json.backends as { endpoints: { address: string }[] }[])[0]!.endpoints.map((e) => e.address) };
  };
  /** podsOf sends `n` requests and returns the pods that answered; every answer must be a 200 from the echo server. */
  const podsOf = async (n: number): Promise<string[]> => {
    const pods = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await get();
      expect(r.status, r.body).toBe(200);
      expect(r.json?.pod, r.body).toMatch(/^web-\d$/);
      pods.add(String(r.json?.pod));
    }
    return [...pods].sort();
  };

  beforeAll(async () => {
    // web-4 (127.0.0.4) is a live pod the slice lists only while the weight test grows it.
    web = await startEchoPods('web', ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'], 0, { namespace: NS, ingress: 'web' });
    dir = await manifestDir();
    await dir.write('00-class.yaml', [ingressClass('flusso')]);
    await dir.write('10-web.yaml', webManifests(THREE));
    // A second Ingress on the same Service with the response cache on (issue 6).
    const cached = ingress(NS, 'static', { host: 'static.test', paths: [{ path: '/', service: 'web', port: 'http' }] });
    await dir.write('20-static.yaml', [{ ...cached, metadata: { name: 'static', namespace: NS, annotations: { 'flusso.dev/cache': 'true', 'flusso.dev/cache-ttl': '30s' } } }]);
    // A TLS host (issue 11) for /api/v1/certificates and the certificate metrics.
    const secure = ingress(NS, 'secure', { host: 'secure.test', paths: [{ path: '/', service: 'web', port: 'http' }] });
    await dir.write('30-secure.yaml', [tlsSecret(NS, 'secure-tls', testPki().valid(['secure.test'])), { ...secure, spec: { ...(secure.spec as object), tls: [{ hosts: ['secure.test'], secretName: 'secure-tls' }] } }]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2, args: ['--admin-token', TOKEN, '--access-log', 'on'] });
  });

  afterAll(async () => {
    await flusso?.stop();
    await web?.close();
  });

  describe('authentication', () => {
    it.each(['/api/v1/routes', '/api/v1/backends', '/api/v1/workers', '/api/v1/certificates', '/metrics'])('GET %s needs the token', async (path) => {
      const res = await admin(path, { token: null });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      expect((await admin(path, { token: 'wrong' })).status).toBe(401);
      expect((await admin(path)).status).toBe(200);
    });

    it('keeps /healthz, /readyz and the GUI page open', async () => {
      expect((await admin('/healthz', { token: null })).status).toBe(200);
      expect((await admin('/readyz', { token: null })).status).toBe(200);
      const page = await admin('/', { token: null });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    });

    it('refuses a cross-origin mutation and never sends CORS headers', async () => {
      const res = await admin('/api/v1/endpoints/drain', { method: 'POST', body: {}, headers: { origin: 'http://evil.example' } });
      expect(res.status).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('never mutates on GET', async () => {
      expect((await admin('/api/v1/endpoints/drain')).status).toBe(405);
    });
  });

  // Issue #10: the workers run on Node.js 24 or newer, and say so (admin API, log line).
  it('reports the Node.js each worker runs', async () => {
    const workers = (await admin('/api/v1/workers')).json.workers as { id: number; node: string }[];
    expect(workers).toHaveLength(2);
    for (const w of workers) expect(Number(/^v(\d+)\./.exec(w.node)?.[1])).toBeGreaterThanOrEqual(24);
    const line = await flusso.waitForLog((l) => l.msg === 'listening' && typeof l.node === 'string');
    expect(line.node).toBe(workers[0]?.node);
  });

  it('lists routes and backends', async () => {
    const routes = await admin('/api/v1/routes?search=web.test');
    expect(routes.json.routes).toEqual([{ host: 'web.test', match: 'Prefix', path: '/', backend: `${NS}/web:http`, source: `${NS}/web`, cache: null }]);
    const cached = await admin('/api/v1/routes?search=static');
    expect(cached.json.routes).toEqual([{ host: 'static.test', match: 'Prefix', path: '/', backend: `${NS}/web:http`, source: `${NS}/static`, cache: { ttlSeconds: 30 } }]);
    const backends = await admin('/api/v1/backends');
    const [b] = backends.json.backends as { id: string; endpoints: { address: string }[] }[];
    expect(b?.id).toBe(`${NS}/web:http`);
    expect(b?.endpoints.map((e) => e.address)).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3']);
  });

  it('lists the TLS certificates, and exposes their expiry in /metrics', async () => {
    const res = await admin('/api/v1/certificates');
    expect(res.status).toBe(200);
    const rows = res.json.certificates as { host: string; daysLeft: number; certificate: { notAfter: string } }[];
    expect(rows.map((r) => r.host)).toEqual(['*', 'secure.test']);
    const row = rows[1]!;
    expect(row).toMatchObject({ secret: `${NS}/secure-tls`, ingress: `${NS}/secure`, status: 'ok', serving: 'own', certificate: { dnsNames: ['secure.test'], issuer: 'Flusso Test CA' } });
    expect(row.daysLeft).toBeGreaterThanOrEqual(89);
    expect(res.text).not.toContain('PRIVATE KEY');
    const metrics = (await admin('/metrics')).text;
    expect(metrics).toContain(`flusso_tls_certificate_expiry_timestamp_seconds{host="secure.test",namespace="${NS}",secret="secure-tls"} ${Date.parse(row.certificate.notAfter) / 1000}\n`);
    expect(metrics).toContain('flusso_tls_certificate_expiry_timestamp_seconds{host="*",namespace="",secret=""} ');
    expect(metrics).toContain('flusso_tls_certificates{status="ok"} 2\n');
  });

  it('explains a route', async () => {
    const res = await admin('/api/v1/explain?host=web.test&path=/a/b');
    expect(res.json).toMatchObject({ result: 'route', route: { backend: `${NS}/web:http` } });
  });

  it('drains an endpoint in every worker: traffic stops reaching it, and undrain brings it back', async () => {
    const endpoint = `127.0.0.2:${web.port}`;
    const drained = await admin('/api/v1/endpoints/drain', { method: 'POST', body: { backend: `${NS}/web:http`, endpoint } });
    expect(drained.status, drained.text).toBe(200);
    await flusso.waitForGeneration(drained.json.generation as number);
    expect(await podsOf(60)).toEqual(['web-1', 'web-3']);
    const backends = await admin('/api/v1/backends');
    const eps = (backends.json.backends as { endpoints: { address: string; drained: boolean; effectiveWeight: number }[] }[])[0]!.endpoints;
    expect(eps.find((e) => e.address === '127.0.0.2')).toMatchObject({ drained: true, effectiveWeight: 0 });

    const undrained = await admin('/api/v1/endpoints/undrain', { method: 'POST', body: { backend: `${NS}/web:http`, endpoint } });
    expect(undrained.status, undrained.text).toBe(200);
    expect(undrained.json.overrides).toEqual({ drained: [], weights: [] });
    await flusso.waitForGeneration(undrained.json.generation as number);
    expect(await podsOf(60)).toEqual(['web-1', 'web-2', 'web-3']);
  });

  it('overrides a weight and keeps the override across a config change', async () => {
    const res = await admin('/api/v1/endpoints/weight', { method: 'POST', body: { backend: `${NS}/web:http`, endpoint: `127.0.0.1:${web.port}`, weight: 0 } });
    expect(res.status, res.text).toBe(200);
    await flusso.waitForGeneration(res.json.generation as number);
    // Put the three-endpoint Service back however this test ends, so later tests see it.
    onTestFinished(async () => {
      await admin('/api/v1/endpoints/weight', { method: 'POST', body: { backend: `${NS}/web:http`, endpoint: `127.0.0.1:${web.port}`, weight: null } });
      await dir.write('10-web.yaml', webManifests(THREE));
      const back = await pollUntil('the three endpoints to be back', async () => {
        const e = await endpointsOf();
        return e.addresses.length === 3 ? e : undefined;
      });
      await flusso.waitForGeneration(back.generation);
    });
    // A config change (a new annotation and a fourth endpoint) publishes a new snapshot that must keep the override.
    await dir.write('10-web.yaml', webManifests([...THREE, '127.0.0.4'], { touched: 'yes' }));
    const grown = await pollUntil('the fourth endpoint to appear', async () => {
      const e = await endpointsOf();
      return e.addresses.length === 4 ? e : undefined;
    });
    await flusso.waitForGeneration(grown.generation);
    // Every answer is a 200 (none dropped), web-1 never answers, and the new web-4 does.
    expect(await podsOf(40)).toEqual(['web-2', 'web-3', 'web-4']);
    const cleared = await admin('/api/v1/endpoints/weight', { method: 'POST', body: { backend: `${NS}/web:http`, endpoint: `127.0.0.1:${web.port}`, weight: null } });
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.json.overrides).toEqual({ drained: [], weights: [] });
  });

  it('rejects bad mutations with the right status', async () => {
    expect((await admin('/api/v1/endpoints/drain', { method: 'POST', body: { backend: `${NS}/web:http`, endpoint: '10.9.9.9:1' } })).status).toBe(404);
    expect((await admin('/api/v1/endpoints/weight', { method: 'POST', body: { backend: `${NS}/web:http`, endpoint: `127.0.0.1:${web.port}`, weight: 5000 } })).status).toBe(400);
    const notJson = await fetch(`http://127.0.0.1:${flusso.adminPort}/api/v1/endpoints/drain`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{nope' });
    expect(notJson.status).toBe(400);
  });

  describe('the response cache', () => {
    const purge = (body: unknown, init: { token?: string | null; headers?: Record<string, string> } = {}) => admin('/api/v1/cache/purge', { method: 'POST', body, ...init });

    it('purges in every worker, with the host normalised', async () => {
      const res = await purge({ host: 'Static.TEST:8080', pathPrefix: '/img/' });
      expect(res.status, res.text).toBe(200);
      expect(res.json).toMatchObject({ purged: 0, workers: 2, selector: { host: 'static.test', pathPrefix: '/img/' } });
      expect(res.json.answered).toBe(2);
    });

    /** fillEveryWorker asks for `path` on fresh connections until both workers hold it (their stats flush says so). */
    const fillEveryWorker = async (path: string): Promise<void> => {
      await pollUntil(
        `both workers to cache ${path}`,
        async () => {
          for (let i = 0; i < 4; i++) await httpRequest({ port: flusso.httpPort, host: 'static.test', path });
          const view = (await admin('/api/v1/cache')).json as { ingresses: { ingress: string; entries: number }[] };
          return view.ingresses.find((r) => r.ingress === `${NS}/static`)?.entries === 2 ? true : undefined;
        },
        15_000,
      );
    };
    const entries = async (): Promise<number> => ((await admin('/api/v1/cache')).json as { entries: number }).entries;

    it('a purge empties the cache of every worker (docs/bad-input.md row 161)', async () => {
      await fillEveryWorker('/purge-me');
      const res = await purge({ ingress: `${NS}/static` });
      expect(res.json).toMatchObject({ purged: 2, workers: 2, answered: 2 });
      // Whichever worker takes it, the next request finds nothing.
      const next = await httpRequest({ port: flusso.httpPort, host: 'static.test', path: '/purge-me' });
      expect(next.headers['x-cache-status']).toBe('MISS');
    });

    it('an unsafe request through one worker invalidates the entry in every worker (RFC 9111 §4.4)', async () => {
      await purge({ all: true });
      await fillEveryWorker('/doc');
      const post = await httpRequest({ port: flusso.httpPort, host: 'static.test', path: '/doc', method: 'POST', body: 'changed' });
      expect(post.status, post.body).toBe(200);
      expect(post.headers['x-cache-status']).toBe('BYPASS');
      await pollUntil('every worker to drop the entry', async () => ((await entries()) === 0 ? true : undefined), 10_000);
    });

    it('purges everything only when asked with {"all": true}', async () => {
      const refused = await purge({});
      expect(refused.status).toBe(400);
      expect(refused.json.error).toContain('{"all": true}');
      // An empty body reads as {} and is refused the same way.
      const empty = await fetch(`http://127.0.0.1:${flusso.adminPort}/api/v1/cache/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(empty.status).toBe(400);
      const all = await purge({ all: true });
      expect(all.status, all.text).toBe(200);
      expect(all.json).toMatchObject({ purged: 0, workers: 2, selector: {} });
    });

    it.each([
      [{ pathPrefix: 'img/' }, '"pathPrefix" must start with "/"'],
      [{ host: '*.static.test' }, '"host" must be a host name'],
      [{ ingress: 'static' }, '"ingress" must be "namespace/name"'],
      [{ hots: 'static.test' }, 'unknown field "hots"'],
    ])('refuses %j with 400', async (body, error) => {
      const res = await purge(body);
      expect(res.status).toBe(400);
      expect(res.json.error).toContain(error);
    });

    it('keeps the admin rules: token, Origin, POST only', async () => {
      expect((await purge({ all: true }, { token: null })).status).toBe(401);
      expect((await purge({ all: true }, { headers: { origin: 'http://evil.example' } })).status).toBe(403);
      expect((await admin('/api/v1/cache/purge')).status).toBe(405);
    });

    it('lists the cached Ingress with its policy and exposes the cache metrics', async () => {
      const res = await admin('/api/v1/cache');
      expect(res.status).toBe(200);
      expect(res.json.ingresses).toEqual([expect.objectContaining({ ingress: `${NS}/static`, policy: { ttlSeconds: 30, routes: 1 } })]);
      const metrics = (await admin('/metrics')).text;
      for (const family of ['flusso_cache_responses_total', 'flusso_cache_evictions_total', 'flusso_cache_entries', 'flusso_cache_stored_bytes', 'flusso_cache_max_bytes']) expect(metrics).toContain(`# TYPE ${family} `);
    });
  });

  it('writes an access log line per request with the ingress-nginx fields', async () => {
    const res = await httpRequest({ port: flusso.httpPort, host: 'web.test', path: '/logged?x=1', headers: { 'x-request-id': 'access-log-probe' } });
    expect(res.status).toBe(200);
    const line = await flusso.waitForLog((l) => l.msg === 'access' && l.requestId === 'access-log-probe');
    expect(line).toMatchObject({ method: 'GET', host: 'web.test', path: '/logged?x=1', status: 200, route: `${NS}/web`, upstreamStatus: 200 });
    for (const field of ['time', 'remoteAddress', 'bytesIn', 'bytesOut', 'requestTime', 'upstreamAddress', 'upstreamTime', 'workerId']) expect(line, field).toHaveProperty(field);
  });

  it('logs a refused request (400) in the access log and keeps serving', async () => {
    const { raw, closed } = await rawRequest(flusso.httpPort, 'POST /refused HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: gzip\r\nX-Request-ID: refused-probe\r\n\r\n0\r\n\r\n');
    expect([statusOf(raw), closed]).toEqual([400, true]);
    const line = await flusso.waitForLog((l) => l.msg === 'access' && l.requestId === 'refused-probe');
    expect(line).toMatchObject({ status: 400, path: '/refused', route: '' });
    for (let i = 0; i < 4; i++) expect((await get()).status).toBe(200);
  });

  describe('/metrics', () => {
    const scrape = async (): Promise<string> => (await admin('/metrics')).text;
    const series = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

    it('counts the requests it served, per route and status class', async () => {
      // OPTIONS: no other test sends it, so the series starts from nothing and counts only these.
      const before = await scrape();
      const count = (text: string): number => {
        const m = /^flusso_requests_total\{namespace="admin",ingress="web",service="web",method="OPTIONS",status_class="2xx",status="200"\} (\d+)$/m.exec(text);
        return m ? Number(m[1]) : 0;
      };
      expect(count(before)).toBe(0);
      for (let i = 0; i < 25; i++) expect((await httpRequest({ port: flusso.httpPort, host: 'web.test', path: '/', method: 'OPTIONS' })).status).toBe(200);
      await pollUntil('the 25 requests to show in /metrics', async () => ((count(await scrape()) - count(before)) >= 25 ? true : undefined));
      expect(count(await scrape()) - count(before)).toBe(25);
    });

    it('keeps the series count fixed under requests to random hosts and paths', async () => {
      // Warm every label set up first: unmatched requests and 404s exist once.
      await httpRequest({ port: flusso.httpPort, host: 'warm.invalid', path: '/' });
      await pollUntil('the unmatched series and both workers\' gauges', async () => {
        const text = await scrape();
        const ready = text.includes('flusso_requests_total{namespace="_unmatched",ingress="_unmatched",service="_unmatched",method="GET",status_class="4xx",status="404"}') && text.includes('process="worker-1"') && text.includes('process="worker-2"');
        return ready ? true : undefined;
      });
      const before = series(await scrape()).map((l) => l.replace(/ [^ ]+$/, ''));
      for (let i = 0; i < 300; i++) {
        const host = `h${Math.random().toString(36).slice(2)}.invalid`;
        await httpRequest({ port: flusso.httpPort, host, path: `/${Math.random().toString(36).slice(2)}/${i}` });
      }
      await pollUntil('the random requests to be counted', async () => {
        const m = /flusso_requests_total\{namespace="_unmatched",ingress="_unmatched",service="_unmatched",method="GET",status_class="4xx",status="404"\} (\d+)/.exec(await scrape());
        return m && Number(m[1]) >= 301 ? true : undefined;
      });
      const after = series(await scrape()).map((l) => l.replace(/ [^ ]+$/, ''));
      expect(after.filter((s) => !before.includes(s))).toEqual([]);
    });

    it('reports the source watch as up', async () => {
      expect(await scrape()).toContain('flusso_source_watch_up{source="file",watch="directory"} 1\n');
    });

    const promtool = spawnSync('promtool', ['--version']).status === 0;
    it('passes promtool check metrics', async () => {
      expect(promtool, 'promtool is installed (apt-get install prometheus; .ci/run does)').toBe(true);
      const text = await scrape();
      // The one name promtool objects to is prom-client's, kept as dashboards know it.
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`.trim()).toBe('nodejs_active_resources_total non-counter metrics should not have "_total" suffix');
    });
  });
});
