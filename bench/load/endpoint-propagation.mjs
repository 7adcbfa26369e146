#!/usr/bin/env node
/**
 * Endpoint propagation through the Kubernetes source (issue #3 item 3): Flusso watches the
 * in-repo fake API server (test/helpers/fake-apiserver.ts, bundled on the fly with esbuild,
 * `vitest` stubbed) holding N Ingresses, each with its own host, Service and EndpointSlice.
 * CHANGES times, one EndpointSlice gets a new address at the API; we time from that write
 * until /readyz shows every worker at a generation newer than before (a worker acks only
 * after it swapped the new state in), polling /readyz every 2 ms. Median, p99 and max.
 *
 *   npm run build && node bench/load/endpoint-propagation.mjs
 *   INGRESSES=1000 CHANGES=20 WORKERS=2 node bench/load/endpoint-propagation.mjs
 *   FLUSSO_ROOT=/tmp/flusso-base node bench/load/endpoint-propagation.mjs   # another build
 *
 * Output: a summary line plus bench/results/<time>-endpoint-propagation.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFakeApiServer } from './fake-api.mjs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FLUSSO_ROOT = path.resolve(process.env.FLUSSO_ROOT ?? ROOT);
const INGRESSES = Number(process.env.INGRESSES ?? 10_000);
const CHANGES = Number(process.env.CHANGES ?? 100);
const WORKERS = Number(process.env.WORKERS ?? 2);
const BASE_PORT = Number(process.env.BASE_PORT ?? 18480);
const TIMEOUT_MS = 120_000;
const NS = 'bench';

const work = mkdtempSync(path.join(os.tmpdir(), 'flusso-eprop-'));
const startFakeApiServer = await loadFakeApiServer();

const backend = http.createServer((req, res) => res.end('ok\n'));
await new Promise((r) => backend.listen(BASE_PORT, '127.0.0.1', r));

const api = await startFakeApiServer({ historySize: 100_000 });
const slice = (i, addresses) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `svc-${i}-1`, namespace: NS, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
  addressType: 'IPv4',
  ports: [{ name: '', port: BASE_PORT, protocol: 'TCP' }],
  endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
});
api.apply({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'flusso' }, spec: { controller: 'flusso.dev/ingress-controller' } });
for (let i = 0; i < INGRESSES; i++) {
  api.apply({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: `ing-${i}`, namespace: NS },
    spec: { ingressClassName: 'flusso', rules: [{ host: `app-${i}.bench.test`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: `svc-${i}`, port: { number: 80 } } } }] } }] },
  });
  api.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: NS }, spec: { ports: [{ protocol: 'TCP', port: 80, targetPort: BASE_PORT }] } });
  api.apply(slice(i, ['127.0.0.1']));
}
const kubeconfig = await api.kubeconfigFile();

const httpPort = BASE_PORT + 1;
const adminPort = BASE_PORT + 2;
const httpsPort = BASE_PORT + 3; // never the default 8443 another Flusso may hold
const t0 = Date.now();
const flusso = spawn(process.execPath, [path.join(FLUSSO_ROOT, 'bin/flusso'), '--source', 'kubernetes', '--kubeconfig', kubeconfig, '--workers', String(WORKERS),
  '--http-address', '127.0.0.1', '--http-port', String(httpPort), '--https-address', '127.0.0.1', '--https-port', String(httpsPort), '--admin-port', String(adminPort), '--log-level', 'warn'],
{ cwd: FLUSSO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function readyz() {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: adminPort, path: '/readyz', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(body) });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
  });
}
function proxyGet(host) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: httpPort, path: '/', headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
  });
}

let ready = null;
while (Date.now() - t0 < TIMEOUT_MS) {
  const r = await readyz().catch(() => null);
  if (r?.status === 200) {
    ready = r.body;
    break;
  }
  await sleep(20);
}
if (ready === null) throw new Error(`flusso with ${INGRESSES} Ingresses not ready after ${TIMEOUT_MS} ms`);
const startupMs = Date.now() - t0;
if ((await proxyGet(`app-${INGRESSES - 1}.bench.test`)) !== 200) throw new Error('the last Ingress does not serve');
await sleep(1000);

const times = [];
for (let c = 0; c < CHANGES; c++) {
  const i = (c * 7919) % INGRESSES;
  const before = (await readyz()).body.generation;
  const start = performance.now();
  api.apply(slice(i, ['127.0.0.1', `127.0.${1 + (c >> 8)}.${2 + (c & 255)}`]));
  let took = NaN;
  while (performance.now() - start < TIMEOUT_MS) {
    const r = (await readyz()).body;
    if (r.generation > before && r.workers.length === WORKERS && r.workers.every((w) => w.generation >= r.generation)) {
      took = performance.now() - start;
      break;
    }
    await sleep(2);
  }
  times.push(took);
  await sleep(50);
}
flusso.kill('SIGTERM');
await new Promise((r) => flusso.on('exit', r));
await api.close();
backend.close();
agent.destroy();
rmSync(work, { recursive: true, force: true });

const sorted = [...times].sort((a, b) => a - b);
const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
const summary = { node: process.version, flussoRoot: FLUSSO_ROOT, ingresses: INGRESSES, changes: CHANGES, workers: WORKERS, startupMs, medianMs: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1), times };
console.log(`${INGRESSES} Ingresses, ${WORKERS} workers, ${CHANGES} EndpointSlice changes (API write → every worker acked): median ${summary.medianMs.toFixed(1)} ms, p99 ${summary.p99Ms.toFixed(1)} ms, max ${summary.maxMs.toFixed(1)} ms (ready after ${startupMs} ms; ${FLUSSO_ROOT})`);
mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
const file = path.join(ROOT, 'bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}-endpoint-propagation.json`);
writeFileSync(file, JSON.stringify(summary, null, 2));
console.log(`written: ${path.relative(ROOT, file)}`);
