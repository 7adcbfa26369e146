#!/usr/bin/env node
// Route-table scale (issue #5): the same Flusso (1 worker) with SMALL (10) and LARGE (10,000)
// Ingresses, each with its own host, driven in the same run by wrk at a host in the middle of
// the table; interleaved repetitions, each proxy pinned to cpu1 while wrk and the backend share
// cpu0. The ratio large/small shows what a big table costs per request.
//
//   npm run build && node bench/load/route-scale.mjs       # LARGE=10000 SMALL=10 REPS=3 DURATION=5
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const SMALL = Number(process.env.SMALL ?? 10);
const LARGE = Number(process.env.LARGE ?? 10_000);
const REPS = Number(process.env.REPS ?? 3);
const DURATION = Number(process.env.DURATION ?? 5);
const BASE = Number(process.env.BASE_PORT ?? 18780);
for (const tool of ['wrk', 'taskset']) if (spawnSync(tool, ['--version']).error) {
  process.stderr.write(`needs ${tool}: apt-get install -y wrk util-linux\n`);
  process.exit(1);
}
const work = mkdtempSync(path.join(tmpdir(), 'flusso-routes-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (s) => process.stdout.write(`${s}\n`);

function manifests(n) {
  const docs = ['apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: { name: flusso }\nspec: { controller: flusso.dev/ingress-controller }',
    `apiVersion: v1\nkind: Service\nmetadata: { name: app, namespace: scale }\nspec: { ports: [ { port: 80, targetPort: ${BASE} } ] }`,
    `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: app-1, namespace: scale, labels: { kubernetes.io/service-name: app } }\naddressType: IPv4\nports: [ { port: ${BASE} } ]\nendpoints: [ { addresses: [ 127.0.0.1 ] } ]`];
  for (let i = 0; i < n; i++)
    docs.push(`apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: ing-${i}, namespace: scale }\nspec:\n  ingressClassName: flusso\n  rules: [ { host: app-${i}.scale.test, http: { paths: [ { path: /api, pathType: Prefix, backend: { service: { name: app, port: { number: 80 } } } }, { path: /, pathType: Prefix, backend: { service: { name: app, port: { number: 80 } } } } ] } } ]`);
  return `${docs.join('\n---\n')}\n`;
}

const backend = spawn('taskset', ['-c', '0', process.execPath, '-e', `require('http').createServer((q, s) => s.end('${'x'.repeat(99)}\\n')).listen(${BASE}, '127.0.0.1')`], { stdio: 'ignore' });
// HTTPS on BASE + 5 / + 6: never the default 8443 another Flusso may hold.
const setups = [{ name: `${SMALL} Ingresses`, n: SMALL, port: BASE + 1, httpsPort: BASE + 5 }, { name: `${LARGE} Ingresses`, n: LARGE, port: BASE + 3, httpsPort: BASE + 6 }];
const procs = [];
for (const s of setups) {
  const dir = path.join(work, String(s.n));
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'all.yaml'), manifests(s.n));
  procs.push(spawn('taskset', ['-c', '1', process.execPath, 'bin/flusso', '--source', 'file', '--manifests', dir, '--workers', '1', '--http-address', '127.0.0.1', '--http-port', String(s.port), '--https-address', '127.0.0.1', '--https-port', String(s.httpsPort), '--admin-port', String(s.port + 1), '--log-level', 'warn'], { stdio: 'inherit' }));
}
try {
  for (const s of setups)
    for (let i = 0; i < 600; i++) {
      const ok = await fetch(`http://127.0.0.1:${s.port + 1}/readyz`).then((r) => r.ok).catch(() => false);
      if (ok) break;
      await sleep(100);
    }
  const lua = path.join(work, 'host.lua');
  const rps = (s, seconds) => {
    const host = `app-${Math.floor(s.n / 2)}.scale.test`;
    writeFileSync(lua, `wrk.headers["Host"] = "${host}"\n`);
    const r = spawnSync('taskset', ['-c', '0', 'wrk', '-t1', '-c50', `-d${seconds}s`, '-s', lua, `http://127.0.0.1:${s.port}/api/x`], { encoding: 'utf8' });
    const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1];
    if (non2xx) throw new Error(`${s.name}: ${non2xx} non-2xx answers`);
    return Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
  };
  for (const s of setups) rps(s, 1); // warm-up
  const results = new Map(setups.map((s) => [s.name, []]));
  for (let r = 1; r <= REPS; r++)
    for (const s of r % 2 ? setups : [...setups].reverse()) {
      const v = rps(s, DURATION);
      results.get(s.name).push(v);
      say(`rep ${r} ${s.name}: ${Math.round(v).toLocaleString()} req/s`);
    }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const [a, b] = setups.map((s) => median(results.get(s.name)));
  say(`median: ${setups[0].name} ${Math.round(a).toLocaleString()} req/s, ${setups[1].name} ${Math.round(b).toLocaleString()} req/s → large/small ${(b / a).toFixed(2)}`);
} finally {
  for (const p of procs) p.kill('SIGTERM');
  backend.kill('SIGTERM');
  await sleep(500);
  rmSync(work, { recursive: true, force: true });
}
