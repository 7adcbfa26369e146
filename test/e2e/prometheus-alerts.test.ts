/**
 * Flusso's alert rules in a real Prometheus (issue 16 item 2): Prometheus loads
 * deploy/prometheus/flusso-alerts.yml, scrapes a running Flusso as docs/deploy.md says (the admin
 * token from a file, honor_labels, the pod's namespace and name as target labels, as Kubernetes
 * service discovery adds them), evaluates every rule without error, and the alerts that Flusso's
 * traffic should start go pending with the Ingress's own labels, and no other. (`for:` keeps them
 * pending for minutes; deploy/prometheus/flusso-alerts.test.yml proves they fire.)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { DEPLOY_DIR } from '../helpers/kustomize.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';
import { freePort } from '../helpers/ports.js';

const TOKEN = 'prometheus-alerts-token-0123456789';

interface RuleState {
  name: string;
  health: string;
  lastError?: string;
}
interface Alert {
  labels: Record<string, string>;
  state: string;
}

describe('the alert rules in a real Prometheus', () => {
  let flusso: FlussoProcess;
  let backend: http.Server;
  let prom: ChildProcess | undefined;
  let promPort = 0;
  let work = '';

  beforeAll(async () => {
    expect(spawnSync('prometheus', ['--version']).status, 'prometheus is installed (apt-get install prometheus; .ci/run does)').toBe(0);
    backend = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const up = (backend.address() as AddressInfo).port;
    const closed = await freePort(); // no listener: every request to shop/down is a 502
    const dir = await manifestDir();
    await dir.write('all.yaml', [
      ingressClass('flusso'),
      ingress('shop', 'web', { host: 'web.test', paths: [{ path: '/', service: 'web', port: 80 }] }),
      service('shop', 'web', [{ port: 80, targetPort: up }]),
      endpointSlice('shop', 'web', ['127.0.0.1'], up),
      ingress('shop', 'down', { host: 'down.test', paths: [{ path: '/', service: 'down', port: 80 }] }),
      service('shop', 'down', [{ port: 80, targetPort: closed }]),
      endpointSlice('shop', 'down', ['127.0.0.1'], closed),
      ingress('shop', 'orphan', { host: 'orphan.test', paths: [{ path: '/', service: 'missing', port: 80 }] }),
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--admin-token', TOKEN] });

    work = await mkdtemp(join(tmpdir(), 'flusso-prom-alerts-'));
    promPort = await freePort();
    await writeFile(join(work, 'token'), TOKEN);
    await writeFile(
      join(work, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: [ '${join(DEPLOY_DIR, 'prometheus/flusso-alerts.yml')}' ]`,
        'scrape_configs:',
        '  - job_name: flusso',
        '    honor_labels: true',
        `    authorization: { credentials_file: '${join(work, 'token')}' }`,
        `    static_configs: [ { targets: ['127.0.0.1:${flusso.adminPort}'], labels: { namespace: flusso, pod: flusso-0 } } ]`,
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
    await new Promise<void>((r) => (backend === undefined ? r() : backend.close(() => r())));
    if (work) await rm(work, { recursive: true, force: true });
  });

  const api = async <T>(path: string): Promise<T> => ((await (await fetch(`http://127.0.0.1:${promPort}/api/v1/${path}`)).json()) as { data: T }).data;

  it('evaluates every rule without error, and exactly the alerts the traffic should start go pending, with the Ingress\'s labels', async () => {
    // Traffic until the alerts show: 502s to shop/down (connect refused), 200s to shop/web.
    let stop = false;
    const statuses = new Map<string, number[]>();
    const traffic = (async () => {
      while (!stop) {
        for (const host of ['down.test', 'web.test']) {
          const s = (await httpRequest({ port: flusso.httpPort, host, path: '/' })).status;
          statuses.set(host, [...new Set([...(statuses.get(host) ?? []), s])]);
        }
      }
    })();
    try {
      const rules = await pollUntil('every rule evaluated', async () => {
        const groups = await api<{ groups: { rules: RuleState[] }[] }>('rules');
        const all = groups.groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((r) => r.health !== 'unknown') ? all : undefined;
      }, 30_000);
      expect(rules.map((r) => [r.name, r.health, r.lastError ?? ''])).toEqual(rules.map((r) => [r.name, 'ok', '']));
      expect(rules).toHaveLength(9);

      const key = (a: Alert) => `${a.labels.alertname} ${['namespace', 'ingress', 'service', 'code'].map((l) => a.labels[l] ?? '-').join(' ')} ${a.state}`;
      const want = [
        'FlussoConfigDiagnostics - - - ING_ERR_SERVICE_NOT_FOUND pending',
        'FlussoHighServerErrorRatio shop down - - pending',
        'FlussoUpstreamErrors shop down down - pending',
      ];
      const alerts = await pollUntil('the three alerts pending', async () => {
        const a = (await api<{ alerts: Alert[] }>('alerts')).alerts.map(key).sort();
        return want.every((w) => a.includes(w)) ? a : undefined;
      }, 30_000);
      expect(alerts).toEqual(want);
    } finally {
      stop = true;
      await traffic;
    }
    expect(Object.fromEntries(statuses)).toEqual({ 'down.test': [502], 'web.test': [200] });
  });
});
