#!/usr/bin/env node
/**
 * Event-loop delay of the primary while it rebuilds a large table (issue #5 §3), with the
 * compile thread on and off in the same run: Flusso on the file source with INGRESSES
 * Ingresses (default 10,000), REPS route changes (a new Ingress each), and meanwhile a probe
 * that asks the admin server for /healthz every PROBE_MS (5 ms): how long it takes to answer
 * is what an operator (or a kubelet probe, or Prometheus) feels while the primary rebuilds.
 * The primary's own `flusso_event_loop_delay_seconds{process="primary",stat="max"}` (1 s
 * windows) is scraped every second as well.
 *
 *   npm run build && node bench/load/rebuild-loop-delay.mjs
 *   INGRESSES=5000 REPS=3 MODES=off,on node bench/load/rebuild-loop-delay.mjs
 *
 * Output: printed Markdown table plus bench/results/<time>-rebuild-loop-delay.json.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bulkManifests, bulkObjects } from './manifests.mjs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const INGRESSES = Number(process.env.INGRESSES ?? 10_000);
const REPS = Number(process.env.REPS ?? 5);
const MODES = (process.env.MODES ?? 'off,on').split(',');
const PROBE_MS = Number(process.env.PROBE_MS ?? 5);
const WORKERS = Number(process.env.WORKERS ?? os.availableParallelism());
const BASE_PORT = Number(process.env.BASE_PORT ?? 18480);
const TIMEOUT_MS = 120_000;
const TOKEN = 'bench-token-0123456789abcdef';

const backend = http.createServer((req, res) => res.end('ok\n'));
await new Promise((r) => backend.listen(BASE_PORT, '127.0.0.1', r));

const objects = (i) => bulkObjects(i, BASE_PORT);
const bulk = (n) => bulkManifests(n, BASE_PORT);

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
function get(port, urlPath, auth = false) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent, headers: auth ? { authorization: `Bearer ${TOKEN}` } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, q) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** probe asks /healthz every PROBE_MS (never two at once) and records [startedAt, latency ms]. */
function startProbe(port) {
  const samples = [];
  let stop = false;
  const done = (async () => {
    while (!stop) {
      const t = performance.now();
      try {
        await get(port, '/healthz');
        samples.push([t, performance.now() - t]);
      } catch {}
      const wait = PROBE_MS - (performance.now() - t);
      if (wait > 0) await sleep(wait);
    }
  })();
  return { samples, stop: async () => ((stop = true), await done) };
}

/** scrapeLoop reads the primary's event-loop delay max (1 s windows) every second. */
function startScrape(port) {
  const samples = [];
  let stop = false;
  const done = (async () => {
    while (!stop) {
      try {
        const r = await get(port, '/metrics', true);
        const m = /^flusso_event_loop_delay_seconds\{process="primary",stat="max"\} (\S+)$/m.exec(r.body);
        if (m) samples.push([performance.now(), Number(m[1]) * 1000]);
      } catch {}
      await sleep(1000);
    }
  })();
  return { samples, stop: async () => ((stop = true), await done) };
}

async function runMode(mode, port) {
  const work = mkdtempSync(path.join(os.tmpdir(), 'flusso-eld-'));
  const dir = path.join(work, 'manifests');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'bulk.yaml'), bulk(INGRESSES));
  const httpPort = port;
  const adminPort = port + 1;
  const httpsPort = port + 2; // never the default 8443 another Flusso may hold
  const t0 = Date.now();
  const flusso = spawn(process.execPath, ['bin/flusso', '--source', 'file', '--manifests', dir, '--workers', String(WORKERS), '--compile-offload', mode,
    '--http-address', '127.0.0.1', '--http-port', String(httpPort), '--https-address', '127.0.0.1', '--https-port', String(httpsPort), '--admin-port', String(adminPort), '--admin-token', TOKEN, '--log-level', 'warn'],
  { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    let ready = null;
    while (Date.now() - t0 < TIMEOUT_MS) {
      try {
        const r = await get(adminPort, '/readyz');
        if (r.status === 200) {
          ready = JSON.parse(r.body);
          break;
        }
      } catch {}
      await sleep(50);
    }
    if (ready === null) throw new Error(`flusso (${mode}) not ready after ${TIMEOUT_MS} ms`);
    await sleep(2000); // let the first snapshot's garbage go
    const probe = startProbe(adminPort);
    const scrape = startScrape(adminPort);
    await sleep(1000);
    const quietEnd = performance.now();
    const windows = [];
    for (let r = 0; r < REPS; r++) {
      const before = JSON.parse((await get(adminPort, '/readyz')).body).generation;
      const start = performance.now();
      writeFileSync(path.join(dir, `route-${r}.yaml`), objects(INGRESSES + r).join('\n---\n') + '\n');
      let end = NaN;
      while (performance.now() - start < TIMEOUT_MS) {
        const b = JSON.parse((await get(adminPort, '/readyz')).body);
        if (b.generation > before && b.workers.length === WORKERS && b.workers.every((w) => w.generation >= b.generation)) {
          end = performance.now();
          break;
        }
        await sleep(5);
      }
      windows.push([start, end]);
      await sleep(1500);
    }
    await probe.stop();
    await scrape.stop();
    const inWindow = (t) => windows.some(([s, e]) => t >= s && t <= e);
    const quiet = probe.samples.filter(([t]) => t < quietEnd).map(([, ms]) => ms);
    const busy = probe.samples.filter(([t]) => inWindow(t)).map(([, ms]) => ms);
    const loopMax = scrape.samples.filter(([t]) => t > quietEnd).map(([, ms]) => ms);
    return {
      mode,
      propagationMs: windows.map(([s, e]) => e - s),
      healthz: { quietP50Ms: pct(quiet, 0.5), p50Ms: pct(busy, 0.5), p99Ms: pct(busy, 0.99), maxMs: Math.max(...busy), samples: busy.length },
      primaryLoopDelayMaxMs: Math.max(...loopMax),
    };
  } finally {
    flusso.kill('SIGTERM');
    await new Promise((r) => flusso.on('exit', r));
    rmSync(work, { recursive: true, force: true });
  }
}

const results = [];
let port = BASE_PORT + 1;
for (const mode of MODES) {
  const row = await runMode(mode, port);
  port += 3;
  results.push(row);
  console.log(`${mode}: healthz during rebuilds p50 ${row.healthz.p50Ms.toFixed(1)} / p99 ${row.healthz.p99Ms.toFixed(1)} / max ${row.healthz.maxMs.toFixed(1)} ms (quiet p50 ${row.healthz.quietP50Ms.toFixed(1)}); primary loop delay max ${row.primaryLoopDelayMaxMs.toFixed(0)} ms; change → all acked p50 ${pct(row.propagationMs, 0.5).toFixed(0)} ms`);
}
backend.close();
agent.destroy();

const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
  } catch {
    return 'unknown';
  }
})();
const machine = `${os.cpus()[0]?.model ?? 'cpu'} × ${os.availableParallelism()}`;
let md = `Primary event-loop delay while rebuilding ${INGRESSES.toLocaleString('en-US')} Ingresses (${REPS} route changes, ${WORKERS} workers, /healthz every ${PROBE_MS} ms); node ${process.version}, ${commit}, ${machine}\n\n`;
md += '| compile offload | /healthz while rebuilding p50 / p99 / max ms | /healthz quiet p50 ms | primary event-loop delay max ms | route change → all workers acked p50 / max ms |\n|---|---:|---:|---:|---:|\n';
for (const r of results)
  md += `| ${r.mode} | ${r.healthz.p50Ms.toFixed(1)} / ${r.healthz.p99Ms.toFixed(1)} / ${r.healthz.maxMs.toFixed(1)} | ${r.healthz.quietP50Ms.toFixed(1)} | ${r.primaryLoopDelayMaxMs.toFixed(0)} | ${pct(r.propagationMs, 0.5).toFixed(0)} / ${Math.max(...r.propagationMs).toFixed(0)} |\n`;
console.log(`\n${md}`);
mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
const file = path.join(ROOT, 'bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}-rebuild-loop-delay.json`);
writeFileSync(file, JSON.stringify({ node: process.version, commit, machine, ingresses: INGRESSES, reps: REPS, workers: WORKERS, probeMs: PROBE_MS, results, markdown: md }, null, 2));
console.log(`written: ${path.relative(ROOT, file)}`);
