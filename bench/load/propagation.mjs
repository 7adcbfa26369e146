#!/usr/bin/env node
/**
 * Propagation and memory (issue #5 §2): Flusso on the file source with 100, 1,000 and 10,000
 * Ingresses (each its own host, Service and EndpointSlice), N workers.
 *
 * - propagation: a manifest change until every worker serves it, measured as the time from
 *   the file write until /readyz shows every worker acked the new generation (a worker acks
 *   only after it swapped the new routing state in), then confirmed with a request through
 *   the proxy. Two kinds: a route change (a new Ingress with a new host) and an endpoint
 *   change (an EndpointSlice gets another address). p50 and max over REPS changes.
 * - memory: RSS of the primary and of each worker (/proc/<pid>/status VmRSS) once ready.
 *
 *   npm run build && node bench/load/propagation.mjs
 *   SIZES=100,1000 REPS=5 node bench/load/propagation.mjs
 *
 * Output: printed Markdown table plus bench/results/<time>-propagation.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bulkEndpointSlice, bulkManifests, bulkObjects } from './manifests.mjs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SIZES = (process.env.SIZES ?? '100,1000,10000').split(',').map(Number);
const REPS = Number(process.env.REPS ?? 5);
const WORKERS = Number(process.env.WORKERS ?? os.availableParallelism());
const BASE_PORT = Number(process.env.BASE_PORT ?? 18380);
const TIMEOUT_MS = 60_000;

const backend = http.createServer((req, res) => res.end('ok\n'));
await new Promise((r) => backend.listen(BASE_PORT, '127.0.0.1', r));

const bulk = (n) => bulkManifests(n, BASE_PORT);
const objects = (i, addresses) => bulkObjects(i, BASE_PORT, addresses);
const endpointSlice = (i, addresses) => bulkEndpointSlice(i, BASE_PORT, addresses);

async function getJson(url) {
  const r = await fetch(url);
  return { status: r.status, body: await r.json().catch(() => null) };
}
function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}
function proxyGet(port, host) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

const results = [];
let port = BASE_PORT + 1;
for (const n of SIZES) {
  const work = mkdtempSync(path.join(os.tmpdir(), 'flusso-prop-'));
  const dir = path.join(work, 'manifests');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'bulk.yaml'), bulk(n));
  const httpPort = port++;
  const adminPort = port++;
  const httpsPort = port++; // never the default 8443 another Flusso may hold
  const t0 = Date.now();
  const flusso = spawn(process.execPath, ['bin/flusso', '--source', 'file', '--manifests', dir, '--workers', String(WORKERS),
    '--http-address', '127.0.0.1', '--http-port', String(httpPort), '--https-address', '127.0.0.1', '--https-port', String(httpsPort), '--admin-port', String(adminPort), '--log-level', 'warn'],
  { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const readyz = `http://127.0.0.1:${adminPort}/readyz`;
  let ready = null;
  while (Date.now() - t0 < TIMEOUT_MS) {
    try {
      const r = await getJson(readyz);
      if (r.status === 200) {
        ready = r.body;
        break;
      }
    } catch {}
    await sleep(20);
  }
  if (ready === null) throw new Error(`flusso with ${n} Ingresses not ready after ${TIMEOUT_MS} ms`);
  const startupMs = Date.now() - t0;
  if ((await proxyGet(httpPort, `app-${n - 1}.bench.test`)) !== 200) throw new Error('the last Ingress does not serve');
  await sleep(1000); // let the first snapshot's garbage go
  const memory = { primaryMiB: rssMiB(flusso.pid), workersMiB: ready.workers.map((w) => rssMiB(w.pid)) };

  /** change writes a file and waits until every worker acked a newer generation, then until the proxy serves `check`. */
  async function change(file, text, check) {
    const before = (await getJson(readyz)).body.generation;
    const start = performance.now();
    writeFileSync(path.join(dir, file), text);
    let acked = NaN;
    while (performance.now() - start < TIMEOUT_MS) {
      const r = (await getJson(readyz)).body;
      if (r.generation > before && r.workers.length === WORKERS && r.workers.every((w) => w.generation >= r.generation)) {
        acked = performance.now() - start;
        break;
      }
      await sleep(2);
    }
    if (check !== null) {
      while (performance.now() - start < TIMEOUT_MS && (await proxyGet(httpPort, check)) !== 200) await sleep(2);
    }
    return acked;
  }
  const route = [];
  const endpoint = [];
  for (let r = 0; r < REPS; r++) {
    const id = n + r;
    route.push(await change(`route-${r}.yaml`, objects(id, ['127.0.0.1']).join('\n---\n') + '\n', `app-${id}.bench.test`));
    await sleep(300);
    endpoint.push(await change(`endpoint-${r}.yaml`, endpointSlice(r, ['127.0.0.1', `127.0.0.${r + 2}`]).replace(`svc-${r}-1`, `svc-${r}-extra`) + '\n', null));
    await sleep(300);
  }
  flusso.kill('SIGTERM');
  await new Promise((r) => flusso.on('exit', r));
  rmSync(work, { recursive: true, force: true });
  const row = {
    ingresses: n,
    startupMs,
    routeP50Ms: pct(route, 0.5),
    routeMaxMs: Math.max(...route),
    endpointP50Ms: pct(endpoint, 0.5),
    endpointMaxMs: Math.max(...endpoint),
    ...memory,
    route,
    endpoint,
  };
  results.push(row);
  console.log(
    `${n} Ingresses: ready in ${startupMs} ms; route change p50 ${row.routeP50Ms.toFixed(0)} / max ${row.routeMaxMs.toFixed(0)} ms; ` +
      `endpoint change p50 ${row.endpointP50Ms.toFixed(0)} / max ${row.endpointMaxMs.toFixed(0)} ms; RSS primary ${memory.primaryMiB.toFixed(0)} MiB, workers ${memory.workersMiB.map((m) => m.toFixed(0)).join(' / ')} MiB`,
  );
}
backend.close();

let md = `Propagation (file write → every worker acked; ${REPS} changes each, ${WORKERS} workers) and memory; node ${process.version}\n\n`;
md += '| Ingresses | ready after start ms | route change p50 / max ms | endpoint change p50 / max ms | RSS primary MiB | RSS per worker MiB |\n|---:|---:|---:|---:|---:|---:|\n';
for (const r of results)
  md += `| ${r.ingresses.toLocaleString('en-US')} | ${r.startupMs} | ${r.routeP50Ms.toFixed(0)} / ${r.routeMaxMs.toFixed(0)} | ${r.endpointP50Ms.toFixed(0)} / ${r.endpointMaxMs.toFixed(0)} | ${r.primaryMiB.toFixed(0)} | ${r.workersMiB.map((m) => m.toFixed(0)).join(' / ')} |\n`;
console.log(`\n${md}`);
mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
const file = path.join(ROOT, 'bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}-propagation.json`);
writeFileSync(file, JSON.stringify({ node: process.version, workers: WORKERS, reps: REPS, results, markdown: md }, null, 2));
console.log(`written: ${path.relative(ROOT, file)}`);
