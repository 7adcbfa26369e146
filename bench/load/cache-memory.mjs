#!/usr/bin/env node
/**
 * Cache memory (issue #6 acceptance): the memory Flusso's worker holds after 100,000 distinct
 * URLs of a small cacheable object, against the configured --cache-max-bytes.
 *
 *   npm run build && flock /tmp/flusso-bench.lock node bench/load/cache-memory.mjs
 *   URLS=100000 OBJECT_BYTES=100 CONCURRENCY=64 node bench/load/cache-memory.mjs --runs=short:64Mi,long:16Mi
 *   node bench/load/cache-memory.mjs --quick                    # 20,000 URLs per run
 *
 * Each run is a fresh Flusso (--workers 1, pinned to cpu1; this client and the nginx backend on
 * cpu0), so every run starts from the same baseline. A run is `urls:bound`:
 *   urls   short: /obj/<i> · long: /obj/<i>?q=<about 2 KiB> (every URL distinct)
 *   bound  the --cache-max-bytes, or `off`: the same URLs through an uncached route (the control:
 *          what the proxy itself grows by under the same traffic)
 * Default runs: short:off, short:128Mi, short:64Mi, long:64Mi, short:16Mi (16Mi is far below the
 * working set, so the LRU must evict to stay bounded).
 *
 * Per run: warm-up (2,000 requests to a no-store URL on the same route, through the upstream
 * path, and 1,000 to one cacheable URL), then worker RSS `before`; every URL requested once by an
 * undici Pool (keep-alive, CONCURRENCY in flight), RSS sampled every 5% of the URLs; RSS `after`
 * at the end of the load and `settled` 3 s later, plus the worker's peak (VmHWM). Entries and
 * stored bytes come from /metrics (flusso_cache_entries, flusso_cache_stored_bytes) when Flusso
 * exports them; in any case a probe re-requests 1,000 evenly spaced URLs, newest first, and the
 * HIT share estimates how many of the URLs are still held (probing newest first keeps the
 * probe's own insertions from evicting URLs it has yet to probe).
 *
 * Verdicts: bounded = settled RSS − before ≤ bound + SLACK_MIB (default 32 MiB: V8's young
 * generation and allocator slack, fixed, not per entry); flat = RSS growth over the second half of
 * the URLs ≤ 10% of the bound + 8 MiB (meaningful only when the bound is full by then).
 *
 * HEAP_SNAPSHOT=1 also writes a V8 heap snapshot of the worker after each run (Flusso runs with
 * --heapsnapshot-signal=SIGUSR2) next to the results; `node bench/load/heap-top.mjs FILE` lists
 * what it holds by type. Snapshots of 100,000 entries are large: use URLS=20000 with it.
 *
 * Output: bench/results/<time>-<commit>-cache-memory.json (+ .md).
 */
import { mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Pool } from 'undici';
import {
  NCPU, Workspace, childPids, die, fmtTime, gitInfo, machineInfo, memOf, nginxCommon, parseArgs, pin, portsFree, requireBuild, requireTools,
  ROOT, resultStem, sleep, toolVersion, tree, waitReady, writeResults,
} from './lib.mjs';
import { singleBackendManifests } from './manifests.mjs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const args = parseArgs();
const QUICK = args.has('quick');
const URLS = Number(process.env.URLS ?? (QUICK ? 20_000 : 100_000));
const OBJECT_BYTES = Number(process.env.OBJECT_BYTES ?? 100);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const LONG_QUERY = Number(process.env.LONG_QUERY ?? 2048);
const SLACK = Number(process.env.SLACK_MIB ?? 32) * 2 ** 20;
const PROBES = Number(process.env.PROBES ?? 1000);
const BASE_PORT = Number(process.env.BASE_PORT ?? 18380);
const ADMIN_TOKEN = 'bench-cache-memory-token-0123';
const MiB = 2 ** 20;
const HEAP_SNAPSHOT = Boolean(process.env.HEAP_SNAPSHOT);

const RUNS = (args.get('runs') ?? 'short:off,short:128Mi,short:64Mi,long:64Mi,short:16Mi').split(',').map((r) => {
  const m = /^(short|long):(off|\d+(?:Ki|Mi|Gi))$/.exec(r);
  if (!m) die(`bad run ${r}: urls:bound, urls short|long, bound off or e.g. 64Mi`);
  return { name: r, urls: m[1], bound: m[2], boundBytes: m[2] === 'off' ? null : parseSize(m[2]) };
});
function parseSize(s) {
  const m = /^(\d+)(Ki|Mi|Gi)$/.exec(s);
  return Number(m[1]) * { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2]];
}

requireTools({ nginx: 'nginx-light', taskset: 'util-linux' }, { install: args.has('install') });
requireBuild();

const ws = new Workspace('flusso-bench-cachemem-');
const work = ws.dir;
const ports = { backend: BASE_PORT, flusso: BASE_PORT + 1, admin: BASE_PORT + 2, https: BASE_PORT + 3 };

const pad = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(LONG_QUERY / 36) + 1).slice(0, LONG_QUERY - 2 - 8);
const urlOf = (kind, i) => (kind === 'short' ? `/obj/${i}` : `/obj/${i}?q=${pad}${String(i).padStart(8, '0')}`);

function backendConf() {
  return `${nginxCommon(work, 'backend', 1)}
  tcp_nodelay on; default_type text/plain;
  server { listen 127.0.0.1:${ports.backend} reuseport;
    location /obj/ { add_header Cache-Control "public, max-age=3600"; return 200 "${'x'.repeat(OBJECT_BYTES - 1)}\\n"; }
    location = /nostore { add_header Cache-Control "no-store"; return 200 "${'x'.repeat(OBJECT_BYTES - 1)}\\n"; } } }
`;
}

/** startFlusso starts one Flusso for a run and returns { child, pids, worker }. */
async function startFlusso(run) {
  const dir = path.join(work, `manifests-${run.name.replace(':', '-')}`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'bench.yaml'), singleBackendManifests({ port: ports.backend, annotations: run.boundBytes === null ? {} : { 'flusso.dev/cache': 'true' } }));
  const maxObj = run.boundBytes === null ? [] : ['--cache-max-bytes', run.bound, '--cache-max-object-bytes', String(Math.min(run.boundBytes, 8 * MiB))];
  const child = ws.start(`flusso-${run.name}`, process.execPath, [
    'bin/flusso', '--source', 'file', '--manifests', dir, '--workers', '1', '--http-address', '127.0.0.1', '--http-port', String(ports.flusso),
    '--https-address', '127.0.0.1', '--https-port', String(ports.https), '--admin-port', String(ports.admin), '--admin-token', ADMIN_TOKEN, '--log-level', 'warn', ...maxObj,
  ], HEAP_SNAPSHOT ? { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2`.trim() } : process.env);
  await waitReady(`flusso-${run.name}`, `http://127.0.0.1:${ports.flusso}/nostore`, ws.logOf(`flusso-${run.name}`));
  const kids = childPids(child.pid);
  if (kids.length !== 1) die(`expected one worker process under the Flusso primary ${child.pid}, found ${kids.length}`);
  const pids = tree(child.pid);
  pin(pids, NCPU >= 2 ? '1' : '0');
  return { child, pids, worker: kids[0] };
}

/** load requests every path once with CONCURRENCY in flight; calls tick(done) as it goes. */
async function load(pool, paths, { tick, expectBytes }) {
  const counts = {};
  let next = 0;
  let done = 0;
  let bad = 0;
  let firstBad = null;
  async function one() {
    for (;;) {
      const i = next++;
      if (i >= paths.length) return;
      try {
        const { statusCode, headers, body } = await pool.request({ path: paths[i], method: 'GET' });
        const buf = Buffer.from(await body.arrayBuffer());
        const st = headers['x-cache-status'] ?? '(none)';
        counts[st] = (counts[st] ?? 0) + 1;
        if (statusCode !== 200 || buf.length !== expectBytes) {
          bad++;
          firstBad ??= `${paths[i].slice(0, 60)}: ${statusCode}, ${buf.length} B`;
        }
      } catch (err) {
        bad++;
        firstBad ??= `${paths[i].slice(0, 60)}: ${err.message}`;
      }
      done++;
      tick?.(done);
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, one));
  return { counts, bad, firstBad };
}

/** cacheMetrics reads the flusso_cache_* lines of /metrics; entries and stored bytes when present. */
async function cacheMetrics() {
  let all = [];
  try {
    const r = await fetch(`http://127.0.0.1:${ports.admin}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (r.ok) all = (await r.text()).split('\n');
  } catch {}
  const lines = all.filter((l) => l.startsWith('flusso_cache_'));
  // The worker's V8 heap in use (flushed about once a second): what of the RSS is JS objects.
  const heap = all.find((l) => l.startsWith('flusso_process_heap_used_bytes{') && !l.includes('"primary"'));
  const workerHeapUsed = heap === undefined ? null : Number(heap.slice(heap.lastIndexOf('}') + 1).trim().split(/\s+/)[0]);
  const total = (name) => {
    const ls = lines.filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    if (ls.length === 0) return null;
    const plain = ls.find((l) => l.startsWith(`${name} `));
    if (plain) return Number(plain.split(/\s+/)[1]);
    // Labelled only: per-route (ingress/route label) series sum to the total; a total series wins.
    const byRoute = ls.filter((l) => /\b(ingress|route)="/.test(l));
    const others = ls.filter((l) => !/\b(ingress|route)="/.test(l));
    const use = others.length > 0 ? others : byRoute;
    return use.reduce((a, l) => a + Number(l.slice(l.lastIndexOf('}') + 1).trim().split(/\s+/)[0]), 0);
  };
  return { lines, workerHeapUsed, entries: total('flusso_cache_entries'), storedBytes: total('flusso_cache_stored_bytes'), evictions: total('flusso_cache_evictions_total') };
}

/** heapSnapshot signals the worker to write a heap snapshot (into its cwd, ROOT) and moves it to bench/results/. */
async function heapSnapshot(worker, run) {
  const pattern = new RegExp(`^Heap\\.\\d+\\.\\d+\\.${worker}\\..*\\.heapsnapshot$`);
  process.kill(worker, 'SIGUSR2');
  let last = -1;
  for (let i = 0; i < 240; i++) {
    await sleep(500);
    const f = readdirSync(ROOT).find((x) => pattern.test(x));
    if (f === undefined) continue;
    const size = statSync(path.join(ROOT, f)).size;
    if (size > 0 && size === last) {
      mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
      const to = path.join('bench/results', `heap-${startedAt.replace(/[:.]/g, '-')}-${run.name.replace(':', '-')}.heapsnapshot`);
      renameSync(path.join(ROOT, f), path.join(ROOT, to));
      console.log(`  heap snapshot: ${to} (node bench/load/heap-top.mjs ${to})`);
      return to;
    }
    last = size;
  }
  console.error(`bench: no heap snapshot from worker ${worker} within 2 minutes`);
  return null;
}

const startedAt = new Date().toISOString();

async function measure(run, index) {
  const label = `[${index + 1}/${RUNS.length}] ${run.name.padEnd(12)}`;
  const { child, pids, worker } = await startFlusso(run);
  const pool = new Pool(`http://127.0.0.1:${ports.flusso}`, { connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 60_000 });
  try {
    // Warm-up: the upstream path (no-store: never stored) and the hit path of one URL.
    const warm = await load(pool, Array.from({ length: 2000 }, () => '/nostore'), { expectBytes: OBJECT_BYTES });
    const warmHit = await load(pool, Array.from({ length: 1000 }, () => '/obj/warm'), { expectBytes: OBJECT_BYTES });
    if (warm.bad + warmHit.bad > 0) die(`${run.name}: warm-up failed: ${warm.firstBad ?? warmHit.firstBad}`);
    if (run.boundBytes !== null && !warmHit.counts.HIT) die(`${run.name}: the cached route never answered X-Cache-Status: HIT for /obj/warm: ${JSON.stringify(warmHit.counts)}`);
    await sleep(1500);
    const m0 = await cacheMetrics();
    const before = memOf(worker);
    const primaryBefore = memOf(child.pid);
    const paths = Array.from({ length: URLS }, (_, i) => urlOf(run.urls, i));
    const samples = [{ done: 0, rss: before.rss }];
    const step = Math.max(1, Math.floor(URLS / 20));
    const t0 = Date.now();
    let lastPrint = 0;
    const res = await load(pool, paths, {
      expectBytes: OBJECT_BYTES,
      tick: (done) => {
        if (done % step !== 0 && done !== URLS) return;
        const rss = memOf(worker).rss;
        samples.push({ done, rss });
        const el = (Date.now() - t0) / 1000;
        if (Date.now() - lastPrint > 2000 || done === URLS) {
          lastPrint = Date.now();
          console.log(`${label} ${done.toLocaleString('en-US').padStart(7)}/${URLS.toLocaleString('en-US')} URLs  ${Math.round(done / el).toLocaleString('en-US')} req/s  worker RSS ${(rss / MiB).toFixed(1)} MiB  ETA ${fmtTime((el / done) * (URLS - done))}`);
        }
      },
    });
    const loadSeconds = (Date.now() - t0) / 1000;
    const after = memOf(worker);
    await sleep(3000);
    const settled = memOf(worker);
    const m1 = await cacheMetrics();
    const snapshot = HEAP_SNAPSHOT ? await heapSnapshot(worker, run) : null;
    // Probe: PROBES evenly spaced URLs, newest first; the HIT share estimates what is still held.
    const probePaths = [];
    for (let k = 0; k < PROBES; k++) probePaths.push(paths[URLS - 1 - Math.floor((k * URLS) / PROBES)]);
    const probeCounts = {};
    for (const p of probePaths) {
      const { headers, body } = await pool.request({ path: p, method: 'GET' });
      await body.arrayBuffer();
      const st = headers['x-cache-status'] ?? '(none)';
      probeCounts[st] = (probeCounts[st] ?? 0) + 1;
    }
    const half = samples.find((s) => s.done >= URLS / 2) ?? samples[0];
    const growth = settled.rss - before.rss;
    const r = {
      run: run.name,
      urls: run.urls,
      urlBytes: paths[URLS - 1].length,
      bound: run.bound,
      boundBytes: run.boundBytes,
      requests: URLS,
      loadSeconds,
      rps: URLS / loadSeconds,
      statuses: res.counts,
      bad: res.bad,
      firstBad: res.firstBad,
      rssBefore: before.rss,
      rssAfter: after.rss,
      rssSettled: settled.rss,
      rssPeak: settled.hwm,
      rssGrowth: growth,
      growthSecondHalf: after.rss - half.rss,
      secondHalfMin: Math.min(...samples.filter((x) => x.done >= URLS / 2).map((x) => x.rss)),
      secondHalfMax: Math.max(...samples.filter((x) => x.done >= URLS / 2).map((x) => x.rss)),
      primaryRssBefore: primaryBefore.rss,
      primaryRssAfter: memOf(child.pid).rss,
      metricsBefore: m0,
      metricsAfter: m1,
      heapUsedBefore: m0.workerHeapUsed,
      heapUsedAfter: m1.workerHeapUsed,
      entries: m1.entries,
      storedBytes: m1.storedBytes,
      evictions: m1.evictions,
      probe: probeCounts,
      heldEstimate: run.boundBytes === null ? 0 : Math.round(((probeCounts.HIT ?? 0) / PROBES) * URLS),
      samples,
      heapSnapshot: snapshot,
    };
    r.bounded = run.boundBytes === null ? null : growth <= run.boundBytes + SLACK;
    r.flat = run.boundBytes === null ? null : r.growthSecondHalf <= 0.1 * run.boundBytes + 8 * MiB;
    console.log(
      `${label} done: RSS ${(before.rss / MiB).toFixed(1)} → ${(after.rss / MiB).toFixed(1)} (settled ${(settled.rss / MiB).toFixed(1)}, peak ${(settled.hwm / MiB).toFixed(1)}) MiB, ` +
        `growth ${(growth / MiB).toFixed(1)} MiB${run.boundBytes ? ` = ${(growth / run.boundBytes).toFixed(2)}× bound` : ''}; statuses ${JSON.stringify(res.counts)}; ` +
        `probe ${JSON.stringify(probeCounts)}${m1.entries !== null ? `; metrics entries ${m1.entries}, stored ${(m1.storedBytes / MiB).toFixed(1)} MiB` : ''}` +
        `${res.bad ? `; ${res.bad} BAD (${res.firstBad})` : ''}`,
    );
    return r;
  } finally {
    await pool.close();
    await ws.stop(child);
    void pids;
  }
}

async function main() {
  const git = gitInfo();
  const meta = {
    startedAt,
    node: process.version,
    commit: git.commit,
    dirty: git.dirty,
    machine: machineInfo(),
    tools: { nginx: toolVersion('nginx', ['-v'], /nginx\/([\d.]+)/) },
    settings: { quick: QUICK, urls: URLS, objectBytes: OBJECT_BYTES, concurrency: CONCURRENCY, longQueryBytes: LONG_QUERY, slackMiB: SLACK / MiB, probes: PROBES, runs: RUNS.map((r) => r.name) },
  };
  console.log(`flusso cache memory: node ${meta.node}, ${meta.commit.slice(0, 12)}${git.dirty ? ' (dirty)' : ''}; ${URLS.toLocaleString('en-US')} distinct URLs × ${OBJECT_BYTES} B per run; runs ${RUNS.map((r) => r.name).join(', ')}`);
  await portsFree(Object.values(ports));
  writeFileSync(path.join(work, 'backend.conf'), backendConf());
  const backend = ws.start('backend', 'nginx', ['-p', work, '-e', `${work}/backend.err`, '-c', `${work}/backend.conf`]);
  await waitReady('backend', `http://127.0.0.1:${ports.backend}/obj/x`, ws.logOf('backend'));
  if (NCPU >= 2) {
    pin(tree(backend.pid), '0');
    pin([process.pid], '0');
  }
  const t0 = Date.now();
  const results = [];
  for (const [i, run] of RUNS.entries()) results.push(await measure(run, i));
  const md = markdown(meta, results);
  const out = writeResults(resultStem(meta.startedAt, meta.commit, `-cache-memory${QUICK ? '-quick' : ''}`), { meta, results }, md);
  console.log(`\n${md}\nwritten: ${out}.json (+ .md), ${fmtTime((Date.now() - t0) / 1000)}`);
  const failed = results.filter((r) => r.bad > 0 || r.bounded === false);
  if (failed.length > 0) {
    console.error(`\nbench: ${failed.map((r) => `${r.run}: ${r.bad > 0 ? `${r.bad} bad responses (${r.firstBad})` : ''}${r.bounded === false ? `RSS grew ${(r.rssGrowth / MiB).toFixed(1)} MiB > bound ${r.bound} + ${SLACK / MiB} MiB` : ''}`).join('; ')}`);
    return 1;
  }
  return 0;
}

function markdown(meta, results) {
  const mib = (x) => (typeof x === 'number' && Number.isFinite(x) ? (x / MiB).toFixed(1) : '–');
  const yn = (x) => (x === null ? '–' : x ? 'yes' : '**NO**');
  const st = (c) => Object.entries(c).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ');
  let out = `Cache memory: ${meta.settings.urls.toLocaleString('en-US')} distinct URLs of a ${meta.settings.objectBytes} B object (Cache-Control: public, max-age=3600) per run, each requested once, ` +
    `${meta.settings.concurrency} in flight; Flusso --workers 1, worker RSS from /proc; node ${meta.node}, commit ${meta.commit.slice(0, 12)}${meta.dirty ? '+dirty' : ''}. ` +
    `short = /obj/<i>, long = /obj/<i>?q=… (${results.find((r) => r.urls === 'long')?.urlBytes ?? '≈2 KiB'} B URL). bounded: growth ≤ bound + ${meta.settings.slackMiB} MiB; flat: growth over the second half ≤ 10% of bound + 8 MiB.\n\n`;
  out += '| run | bound | worker RSS before → after (settled) MiB | peak MiB | growth MiB | growth / bound | 2nd-half growth (min–max) MiB | V8 heap used before → after MiB | entries (metrics) | stored MiB (metrics) | held (probe est.) | responses | bounded | flat |\n';
  out += '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|:-:|:-:|\n';
  for (const r of results) {
    out += `| ${r.run} | ${r.bound} | ${mib(r.rssBefore)} → ${mib(r.rssAfter)} (${mib(r.rssSettled)}) | ${mib(r.rssPeak)} | ${mib(r.rssGrowth)} | ${r.boundBytes ? (r.rssGrowth / r.boundBytes).toFixed(2) : '–'} | ${mib(r.growthSecondHalf)} (${mib(r.secondHalfMin)}–${mib(r.secondHalfMax)}) | ${mib(r.heapUsedBefore)} → ${mib(r.heapUsedAfter)} | ` +
      `${r.entries ?? '–'} | ${mib(r.storedBytes)} | ${r.boundBytes === null ? '–' : r.heldEstimate.toLocaleString('en-US')} | ${st(r.statuses)}${r.bad ? ` ⚠ ${r.bad} bad` : ''} | ${yn(r.bounded)} | ${yn(r.flat)} |\n`;
  }
  return out;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
