/**
 * A real Prometheus (Debian package `prometheus`) scrapes a running Flusso with the admin token
 * (and is refused without it), and a PromQL query over its HTTP API returns exactly the number of
 * requests sent.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';
import { freePort } from '../helpers/ports.js';

const NS = 'prom';
const TOKEN = 'prometheus-scrape-token-0123456789';
const REQUESTS = 137;

describe('Prometheus scrapes Flusso', () => {
  let flusso: FlussoProcess;
  let echo: EchoPods;
  let prom: ChildProcess | undefined;
  let promPort = 0;
  let work = '';

  beforeAll(async () => {
    expect(spawnSync('prometheus', ['--version']).status, 'prometheus is installed (apt-get install prometheus; .ci/run does)').toBe(0);
    echo = await startEchoPods('api', ['127.0.0.1'], 0, { namespace: NS, ingress: 'api' });
    const dir = await manifestDir();
    await dir.write('all.yaml', [
      ingressClass('flusso'),
      ingress(NS, 'api', { host: 'api.test', paths: [{ path: '/', service: 'api', port: 80 }] }),
      service(NS, 'api', [{ port: 80, targetPort: echo.port }]),
      endpointSlice(NS, 'api', echo.addresses, echo.port),
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2, args: ['--admin-token', TOKEN] });

    work = await mkdtemp(join(tmpdir(), 'flusso-prom-'));
    promPort = await freePort();
    await writeFile(
      join(work, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: flusso',
        '    authorization: { type: Bearer, credentials: ' + TOKEN + ' }',
        `    static_configs: [ { targets: ['127.0.0.1:${flusso.adminPort}'] } ]`,
        // The same target without the token: its scrapes must be refused.
        '  - job_name: flusso-no-token',
        `    static_configs: [ { targets: ['127.0.0.1:${flusso.adminPort}'] } ]`,
        '',
      ].join('\n'),
    );
    prom = spawn('prometheus', [`--config.file=${join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${join(work, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    await pollUntil('Prometheus to be ready', async () => {
      const r = await fetch(`http://127.0.0.1:${promPort}/-/ready`).catch(() => null);
      return r?.ok ? true : undefined;
    }, 30_000);
  });

  afterAll(async () => {
    prom?.kill('SIGKILL');
    await flusso?.stop();
    await echo?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const query = async (promql: string): Promise<number | undefined> => {
    const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await r.json()) as { data?: { result?: { value: [number, string] }[] } };
    const v = body.data?.result?.[0]?.value[1];
    return v === undefined ? undefined : Number(v);
  };

  it('the target is up scraped with the bearer token, and down scraped without it (401)', async () => {
    type Target = { labels: { job: string }; health: string; lastError: string };
    // Latch: both jobs have been scraped at least once (their health is no longer "unknown").
    const targets = await pollUntil('a scrape of both jobs', async () => {
      const r = (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: Target[] } };
      const t = r.data.activeTargets;
      return t.length === 2 && t.every((x) => x.health !== 'unknown') ? t : undefined;
    }, 30_000);
    const byJob = Object.fromEntries(targets.map((t) => [t.labels.job, t]));
    expect(byJob.flusso).toMatchObject({ health: 'up', lastError: '' });
    expect(byJob['flusso-no-token']?.health).toBe('down');
    expect(byJob['flusso-no-token']?.lastError).toContain('401');
    // The same through PromQL, once a scrape of each has been stored.
    await pollUntil('up for both jobs', async () => ((await query('count(up)')) === 2 ? true : undefined), 30_000);
    expect(await query('up{job="flusso"}')).toBe(1);
    expect(await query('up{job="flusso-no-token"}')).toBe(0);
  });

  it(`a PromQL query returns the ${REQUESTS} requests sent`, async () => {
    for (let i = 0; i < REQUESTS; i++) expect((await httpRequest({ port: flusso.httpPort, host: 'api.test', path: `/item/${i}` })).status).toBe(200);
    const total = await pollUntil(
      `sum(flusso_requests_total{namespace="${NS}"}) to reach ${REQUESTS}`,
      async () => {
        const v = await query(`sum(flusso_requests_total{namespace="${NS}"})`);
        return v !== undefined && v >= REQUESTS ? v : undefined;
      },
      30_000,
    );
    expect(total).toBe(REQUESTS);
  });
});
