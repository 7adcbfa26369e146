#!/usr/bin/env node
/**
 * An API outage under steady load (issue #3): Flusso watches the in-repo fake API server; LANES
 * request loops run against it for the whole run; the API goes down for OUTAGE_S seconds (every
 * connection closed, the port refusing), a new Ingress is created while it is down, then the API
 * comes back. Reports requests sent, requests failed (target 0), the outage as Flusso logged it,
 * and how long after the API returned the new Ingress served.
 *
 *   npm run build && node bench/load/api-outage.mjs            # OUTAGE_S=30 LANES=4 WORKERS=2
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadFakeApiServer } from './fake-api.mjs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUTAGE_S = Number(process.env.OUTAGE_S ?? 30);
const LANES = Number(process.env.LANES ?? 4);
const WORKERS = Number(process.env.WORKERS ?? 2);
const BASE_PORT = Number(process.env.BASE_PORT ?? 18580);
const NS = 'outage';
const say = (s) => process.stdout.write(`${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const backend = http.createServer((req, res) => res.end('ok\n'));
await new Promise((r) => backend.listen(BASE_PORT, '127.0.0.1', r));
const startFakeApiServer = await loadFakeApiServer();
const api = await startFakeApiServer({});
const route = (name) => [
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: NS }, spec: { ingressClassName: 'flusso', rules: [{ host: `${name}.test`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'app', port: { number: 80 } } } }] } }] } },
];
api.apply({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'flusso' }, spec: { controller: 'flusso.dev/ingress-controller' } });
api.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'app', namespace: NS }, spec: { ports: [{ protocol: 'TCP', port: 80, targetPort: BASE_PORT }] } });
api.apply({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'app-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'app' } }, addressType: 'IPv4', ports: [{ name: '', port: BASE_PORT, protocol: 'TCP' }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }] });
for (const o of route('steady')) api.apply(o);

const httpPort = BASE_PORT + 1;
const adminPort = BASE_PORT + 2;
const httpsPort = BASE_PORT + 3; // never the default 8443 another Flusso may hold
const flusso = spawn(process.execPath, ['bin/flusso', '--source', 'kubernetes', '--kubeconfig', await api.kubeconfigFile(), '--workers', String(WORKERS),
  '--http-address', '127.0.0.1', '--http-port', String(httpPort), '--https-address', '127.0.0.1', '--https-port', String(httpsPort), '--admin-port', String(adminPort)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
let outageLogged = null;
createInterface({ input: flusso.stdout }).on('line', (line) => {
  try {
    const l = JSON.parse(line);
    if (l.msg === 'kubernetes API outage ended') outageLogged = l.durationMs;
  } catch {}
});

const get = (host) =>
  new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: httpPort, path: '/', headers: { host }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
  });
const agent = new http.Agent({ keepAlive: true, maxSockets: LANES });
for (let i = 0; i < 300; i++) {
  const ok = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.ok).catch(() => false);
  if (ok) break;
  await sleep(100);
}

let running = true;
let sent = 0;
let failed = 0;
const lanes = Array.from({ length: LANES }, async () => {
  while (running) {
    sent++;
    if ((await get('steady.test')) !== 200) failed++;
  }
});
await sleep(3000);
say(`API down for ${OUTAGE_S} s under ${LANES} request loops…`);
await api.down();
await sleep(1000);
for (const o of route('added-during-outage')) api.apply(o);
await sleep(OUTAGE_S * 1000 - 1000);
await api.up();
const back = performance.now();
let appliedAfterMs = NaN;
while (performance.now() - back < 120_000) {
  if ((await get('added-during-outage.test')) === 200) {
    appliedAfterMs = performance.now() - back;
    break;
  }
  await sleep(20);
}
await sleep(3000);
running = false;
await Promise.all(lanes);
flusso.kill('SIGTERM');
await new Promise((r) => flusso.on('exit', r));
await api.close();
backend.close();
agent.destroy();
say(`requests: ${sent.toLocaleString()}, failed: ${failed}; outage as Flusso logged it: ${outageLogged ?? 'not logged'} ms; the Ingress created during the outage served ${appliedAfterMs.toFixed(0)} ms after the API returned`);
