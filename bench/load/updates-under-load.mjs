#!/usr/bin/env node
// Route updates under load (issue #5): wrk drives a route that never changes at about half of
// Flusso's capacity (wrk -R is not available, so a fixed connection count stands in) while the
// manifests are rewritten UPDATES times, each rewrite adding or changing another route (a new
// generation every time). Every request must succeed: reports wrk's errors and non-2xx answers,
// and the generations published.
//
//   npm run build && node bench/load/updates-under-load.mjs      # UPDATES=1000 SPACING_MS=110 CONNECTIONS=10 WORKERS=2
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { singleBackendManifests } from './manifests.mjs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const UPDATES = Number(process.env.UPDATES ?? 1000);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 10);
const WORKERS = Number(process.env.WORKERS ?? 2);
// Longer than the 100 ms rebuild holdoff, so every rewrite becomes its own generation.
const SPACING_MS = Number(process.env.SPACING_MS ?? 110);
const BASE = Number(process.env.BASE_PORT ?? 18680);
const TOKEN = 'updates-under-load-token';
if (spawnSync('wrk', ['--version']).error) {
  process.stderr.write('needs wrk: apt-get install -y wrk\n');
  process.exit(1);
}
const work = mkdtempSync(path.join(tmpdir(), 'flusso-updates-'));
const dir = path.join(work, 'manifests');
spawnSync('mkdir', ['-p', dir]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const backend = http.createServer((req, res) => res.end('ok\n')).listen(BASE, '127.0.0.1');
writeFileSync(path.join(dir, 'stable.yaml'), singleBackendManifests({ port: BASE, host: 'stable.test' }));
const churn = (i) => `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: churn, namespace: default }
spec:
  ingressClassName: flusso
  rules: [ { host: churn-${i}.test, http: { paths: [ { path: /v${i}, pathType: Prefix, backend: { service: { name: backend, port: { number: 80 } } } } ] } } ]
`;
const write = (i) => {
  const staging = path.join(work, `staging-${i}.yaml`);
  writeFileSync(staging, churn(i));
  renameSync(staging, path.join(dir, 'churn.yaml'));
};
write(0);
const flusso = spawn(process.execPath, ['bin/flusso', '--source', 'file', '--manifests', dir, '--workers', String(WORKERS), '--http-address', '127.0.0.1', '--http-port', String(BASE + 1), '--https-address', '127.0.0.1', '--https-port', String(BASE + 3), '--admin-port', String(BASE + 2), '--admin-token', TOKEN, '--log-level', 'warn'], { stdio: 'inherit' });
const readyz = async () => (await fetch(`http://127.0.0.1:${BASE + 2}/readyz`).then((r) => r.json()).catch(() => null));
for (let i = 0; i < 200 && !(await readyz())?.ready; i++) await sleep(100);
const first = (await readyz()).generation;

const lua = path.join(work, 'host.lua');
writeFileSync(lua, 'wrk.headers["Host"] = "stable.test"\n');
const seconds = Math.max(10, Math.ceil((UPDATES * SPACING_MS) / 1000) + 5);
const wrk = spawn('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '-s', lua, `http://127.0.0.1:${BASE + 1}/`], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
wrk.stdout.on('data', (d) => (out += d));
await sleep(1000);
for (let i = 1; i <= UPDATES; i++) {
  write(i);
  await sleep(SPACING_MS);
  if (i % 200 === 0) process.stdout.write(`  ${i} / ${UPDATES} rewrites\n`);
}
await new Promise((r) => wrk.on('exit', r));
const last = (await readyz()).generation;
flusso.kill('SIGTERM');
backend.close();
await sleep(500);
rmSync(work, { recursive: true, force: true });
const requests = /(\d+) requests in/.exec(out)?.[1] ?? '?';
const errors = /Socket errors: (.*)/.exec(out)?.[1] ?? 'none';
const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
process.stdout.write(`${UPDATES} rewrites of a second route under ${CONNECTIONS} connections to a stable one (${WORKERS} workers, ${seconds} s): ${requests} requests, socket errors: ${errors}, non-2xx: ${non2xx}; generations ${first} → ${last}\n`);
