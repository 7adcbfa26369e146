#!/usr/bin/env node
// Counts the Prometheus series Flusso exposes before and after N requests (default 100,000) to
// random hosts and paths, half of them to a routed host with random paths: the count must not
// grow with traffic, because label values come only from configured objects.
//
//   npm run build && node bench/load/metrics-series.mjs            # REQUESTS=100000 CONCURRENCY=50
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { singleBackendManifests } from './manifests.mjs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const REQUESTS = Number(process.env.REQUESTS ?? 100_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 50);
const BASE = Number(process.env.BASE_PORT ?? 18280);
const TOKEN = 'metrics-series-bench-token';
const work = mkdtempSync(path.join(tmpdir(), 'flusso-series-'));
const say = (s) => process.stdout.write(`${s}\n`);

const backend = http.createServer((req, res) => res.end('ok\n')).listen(BASE, '127.0.0.1');
writeFileSync(path.join(work, 'all.yaml'), singleBackendManifests({ port: BASE, host: 'app.test', namespace: 'bench', name: 'app' }));
const flusso = spawn(process.execPath, ['bin/flusso', '--source', 'file', '--manifests', work, '--http-address', '127.0.0.1', '--http-port', String(BASE + 1), '--https-address', '127.0.0.1', '--https-port', String(BASE + 3), '--admin-port', String(BASE + 2), '--admin-token', TOKEN, '--log-level', 'warn'], { stdio: 'inherit' });

const get = (port, host, p, headers = {}) =>
  new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, headers: { host, ...headers }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const scrape = async () => {
  const res = await fetch(`http://127.0.0.1:${BASE + 2}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return (await res.text()).split('\n').filter((l) => l && !l.startsWith('#'));
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rnd = () => Math.random().toString(36).slice(2);

try {
  for (let i = 0; i < 200; i++) {
    const r = await fetch(`http://127.0.0.1:${BASE + 2}/readyz`).catch(() => null);
    if (r?.ok) break;
    await sleep(100);
  }
  // One request of each kind first, so every label set the traffic can touch exists before counting.
  await get(BASE + 1, 'app.test', '/warm');
  await get(BASE + 1, `${rnd()}.invalid`, '/warm');
  await sleep(2500);
  const before = await scrape();
  let sent = 0;
  let failed = 0;
  const started = Date.now();
  const lane = async () => {
    while (sent < REQUESTS) {
      const i = sent++;
      const host = i % 2 ? 'app.test' : `${rnd()}.${rnd()}.invalid`;
      const status = await get(BASE + 1, host, `/${rnd()}/${i}?q=${rnd()}`).catch(() => 0);
      if (status !== 200 && status !== 404) failed++;
      if (i % 20_000 === 0) say(`  ${i.toLocaleString()} / ${REQUESTS.toLocaleString()} requests`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  await sleep(2500); // two stats flushes
  const after = await scrape();
  const added = after.filter((l) => !before.some((b) => b.split(' ')[0] === l.split(' ')[0]));
  say(`requests: ${REQUESTS.toLocaleString()} (half to random hosts, all with random paths) in ${((Date.now() - started) / 1000).toFixed(1)} s, ${failed} failed`);
  say(`series before: ${before.length}, after: ${after.length}, new series: ${added.length}`);
  for (const l of added.slice(0, 10)) say(`  new: ${l}`);
} finally {
  flusso.kill('SIGTERM');
  backend.close();
  agent.destroy();
  await sleep(500);
  rmSync(work, { recursive: true, force: true });
}
