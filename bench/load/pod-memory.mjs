#!/usr/bin/env node
/**
 * Pod memory (issue 16 item 2): what a whole Flusso (the primary and its N workers, as one pod
 * runs it) holds idle and with every worker's response cache full, to size the Deployment's
 * memory request and limit (docs/deploy.md).
 *
 *   npm run build && flock /tmp/flusso-bench.lock node bench/load/pod-memory.mjs
 *   WORKERS=1,2,4 BOUND=128Mi OBJECT_BYTES=65536 node bench/load/pod-memory.mjs
 *   node bench/load/pod-memory.mjs --small                 # also a fill of 1 KiB objects (many entries) with 2 workers
 *
 * Per worker count N (a fresh Flusso each, default flags but ports, --workers N and
 * --cache-max-bytes BOUND, one cached Ingress in front of an nginx backend on loopback):
 *   idle   after a warm-up (2,000 requests through the upstream path and 1,000 HITs of one URL),
 *          3 s settled;
 *   full   after distinct cacheable URLs of OBJECT_BYTES were requested (rounds of CONCURRENCY new
 *          keep-alive connections, which the kernel spreads over the workers) until /metrics shows the
 *          stored bytes of all workers at 97 % of the summed bounds or more, 3 s settled.
 * The tree includes the spare worker --spare-worker keeps (on by default): it is part of the pod.
 * For each: RSS and PSS (/proc/PID/smaps_rollup) summed over the process tree, per process, and
 * the peak (VmHWM summed). PSS counts pages shared between processes (the node binary's text) once
 * per share, as the memory cgroup charges them once; summed RSS counts them once per process and
 * is the conservative figure. The requests also give the peak a working set of connections,
 * parsers and buffers.
 *
 * With CONNS=N (e.g. 5000), the full state is measured once more with N more client connections
 * open, each having had one request answered (/nostore, 1 KiB) and held keep-alive: what the
 * traffic allowance of the memory limit has to cover per connection.
 *
 * Output: bench/results/<time>-<commit>-pod-memory.json (+ .md).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Pool } from 'undici';
import {
  childPids, die, fmtTime, gitInfo, machineInfo, memOf, nginxCommon, parseArgs, portsFree, requireBuild, requireTools, resultStem, sleep, toolVersion,
  tree, waitReady, Workspace, writeResults,
} from './lib.mjs';
import { singleBackendManifests } from './manifests.mjs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const args = parseArgs();
const WORKERS = (process.env.WORKERS ?? '1,2,4').split(',').map(Number);
const BOUND = process.env.BOUND ?? '128Mi';
const OBJECT_BYTES = Number(process.env.OBJECT_BYTES ?? 65536);
const SMALL_BYTES = 1024;
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const BASE_PORT = Number(process.env.BASE_PORT ?? 18480);
const CONNS = Number(process.env.CONNS ?? 0);
const TOKEN = 'bench-pod-memory-token-0123';
const MiB = 2 ** 20;
const boundBytes = (() => {
  const m = /^(\d+)(Ki|Mi|Gi)$/.exec(BOUND);
  if (!m) die(`BOUND must be a size such as 128Mi, not ${BOUND}`);
  return Number(m[1]) * { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2]];
})();
if (WORKERS.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) die(`WORKERS must be a list of worker counts from 1 to 64, not ${process.env.WORKERS}`);

requireTools({ nginx: 'nginx-light' }, { install: args.has('install') });
requireBuild();

const ws = new Workspace('flusso-bench-podmem-');
const work = ws.dir;
const ports = { backend: BASE_PORT, flusso: BASE_PORT + 1, admin: BASE_PORT + 2, https: BASE_PORT + 3 };

/** pssOf reads a process's proportional set size (kB lines of smaps_rollup), NaN when gone. */
function pssOf(pid) {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

/** anonOf reads RssAnon and RssFile (+ RssShmem) of a process from /proc/PID/status. */
function anonOf(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(st)?.[1] ?? NaN) * 1024;
    return { anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
  } catch {
    return { anon: NaN, file: NaN };
  }
}

/** podMemory sums the tree of the primary (bin/flusso execs node, so the tree is the primary and its workers). */
function podMemory(primary) {
  const pids = tree(primary);
  const per = pids.map((pid) => ({ pid, role: pid === primary ? 'primary' : 'worker', ...memOf(pid), pss: pssOf(pid), ...anonOf(pid) }));
  const sum = (k) => per.reduce((a, p) => a + p[k], 0);
  // Anonymous memory is each process's own; file pages (the node binary, mostly) are shared and
  // charged once: the largest process's is the estimate.
  return { rss: sum('rss'), pss: sum('pss'), hwm: sum('hwm'), anon: sum('anon'), fileShared: Math.max(...per.map((p) => p.file)), processes: per };
}

async function metric(name) {
  const r = await fetch(`http://127.0.0.1:${ports.admin}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (!r.ok) die(`/metrics answered ${r.status}`);
  return (await r.text()).split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** drive requests `paths` with CONCURRENCY in flight and counts X-Cache-Status; `stop()` ends it early. */
async function drive(pool, paths, expectBytes, stop = () => false) {
  const counts = {};
  let next = 0;
  let bad = null;
  async function lane() {
    while (next < paths.length && !stop() && bad === null) {
      const p = paths[next++];
      const { statusCode, headers, body } = await pool.request({ path: p, method: 'GET' });
      const n = (await body.arrayBuffer()).byteLength;
      if (statusCode !== 200 || n !== expectBytes) bad = `${p}: ${statusCode}, ${n} B`;
      const st = headers['x-cache-status'] ?? '(none)';
      counts[st] = (counts[st] ?? 0) + 1;
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  if (bad !== null) die(`bad answer: ${bad}`);
  return counts;
}

async function measure(workers, objectBytes) {
  const name = `${workers}w-${objectBytes}B`;
  const dir = path.join(work, `m-${name}`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'bench.yaml'), singleBackendManifests({ port: ports.backend, annotations: { 'flusso.dev/cache': 'true' } }));
  const child = ws.start(`flusso-${name}`, process.execPath, [
    'bin/flusso', '--source', 'file', '--manifests', dir, '--workers', String(workers), '--http-address', '127.0.0.1', '--http-port', String(ports.flusso),
    '--https-address', '127.0.0.1', '--https-port', String(ports.https), '--admin-port', String(ports.admin), '--admin-token', TOKEN, '--log-level', 'warn',
    '--cache-max-bytes', BOUND,
  ]);
  // /readyz: every worker listens (the proxy answering means one does; connections made before
  // the others listen all land on it).
  await waitReady(`flusso-${name}`, `http://127.0.0.1:${ports.admin}/readyz`, ws.logOf(`flusso-${name}`));
  await waitReady(`flusso-${name}`, `http://127.0.0.1:${ports.flusso}/nostore`, ws.logOf(`flusso-${name}`));
  // --spare-worker (on by default) keeps one more worker process, loaded and not listening.
  const processes = childPids(child.pid).length;
  if (processes < workers) die(`expected ${workers} workers (and a spare) under ${child.pid}, found ${processes}`);
  const pool = new Pool(`http://127.0.0.1:${ports.flusso}`, { connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 60_000 });
  try {
    const file = objectBytes === OBJECT_BYTES ? 'big' : 'small';
    await drive(pool, Array.from({ length: 2000 }, () => '/nostore'), SMALL_BYTES);
    const warm = await drive(pool, Array.from({ length: 1000 }, () => `/obj/${file}/warm`), objectBytes);
    if (!warm.HIT) die(`${name}: no HIT in the warm-up: ${JSON.stringify(warm)}`);
    await sleep(3000);
    const idle = podMemory(child.pid);
    const maxBytes = await metric('flusso_cache_max_bytes');
    if (maxBytes !== workers * boundBytes) die(`${name}: flusso_cache_max_bytes ${maxBytes}, expected ${workers} × ${boundBytes}`);
    // Fill until the summed stored bytes reach 97 % of the summed bounds (each worker is under its own).
    const t0 = Date.now();
    let stored = 0;
    let round = 0;
    let sent = 0;
    const perRound = Math.ceil(maxBytes / objectBytes / 4);
    while (stored < 0.97 * maxBytes) {
      if (++round > 40) die(`${name}: the caches did not fill: ${stored} of ${maxBytes} bytes after ${sent} URLs`);
      const paths = Array.from({ length: perRound }, (_, i) => `/obj/${file}/${round}-${i}`);
      // Fresh connections every round: the kernel spreads connections (not requests) over the
      // workers; new ones keep the spread even.
      const fresh = new Pool(`http://127.0.0.1:${ports.flusso}`, { connections: CONCURRENCY, pipelining: 1 });
      await drive(fresh, paths, objectBytes);
      await fresh.close();
      sent += paths.length;
      await sleep(1200); // the workers ship their cache figures once a second
      stored = await metric('flusso_cache_stored_bytes');
      console.log(`  ${name}: ${sent.toLocaleString('en-US')} URLs, stored ${(stored / MiB).toFixed(1)} of ${(maxBytes / MiB).toFixed(0)} MiB, tree RSS ${(podMemory(child.pid).rss / MiB).toFixed(1)} MiB`);
    }
    await sleep(3000);
    const full = podMemory(child.pid);
    const entries = await metric('flusso_cache_entries');
    stored = await metric('flusso_cache_stored_bytes');
    let connected = null;
    if (CONNS > 0) connected = await withConnections(child.pid, CONNS);
    const r = { name, workers, workerProcesses: processes, connected, objectBytes, bound: BOUND, boundBytes, idle, full, storedBytes: stored, entries, urls: sent, fillSeconds: (Date.now() - t0) / 1000 };
    console.log(`${name}: idle RSS ${(idle.rss / MiB).toFixed(1)} MiB (PSS ${(idle.pss / MiB).toFixed(1)}, anon ${(idle.anon / MiB).toFixed(1)}), full anon ${(full.anon / MiB).toFixed(1)}, full RSS ${(full.rss / MiB).toFixed(1)} MiB (PSS ${(full.pss / MiB).toFixed(1)}, peak ${(full.hwm / MiB).toFixed(1)}); ${entries} entries, ${(stored / MiB).toFixed(1)} MiB stored`);
    return r;
  } finally {
    await pool.close();
    await ws.stop(child);
  }
}

/** withConnections opens n keep-alive connections, one answered request each, measures the pod, and closes them. */
async function withConnections(primary, n) {
  const sockets = [];
  const one = () =>
    new Promise((resolve, reject) => {
      const s = net.connect(ports.flusso, '127.0.0.1');
      let got = '';
      s.on('error', reject);
      s.on('connect', () => s.write('GET /nostore HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
      s.on('data', (c) => {
        got += c.toString('latin1');
        const head = got.indexOf('\r\n\r\n');
        if (head >= 0 && got.length >= head + 4 + SMALL_BYTES) resolve(s);
      });
      sockets.push(s);
    });
  try {
    for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, one));
    await sleep(3000);
    const m = podMemory(primary);
    console.log(`  with ${n} connections: anon ${(m.anon / MiB).toFixed(1)} MiB, PSS ${(m.pss / MiB).toFixed(1)} MiB`);
    return { connections: n, ...m };
  } finally {
    for (const s of sockets) s.destroy();
  }
}

function markdown(meta, results) {
  const mib = (x) => (x / MiB).toFixed(0);
  let out = `Pod memory: Flusso's primary and workers summed (RSS, PSS from /proc), --cache-max-bytes ${BOUND} per worker; node ${meta.node}, commit ${meta.commit.slice(0, 12)}${meta.dirty ? '+dirty' : ''}, ${JSON.stringify(meta.machine)}\n\n`;
  out += '| workers (processes) | object | idle RSS | idle PSS | idle anon | full RSS | full PSS | full anon | file pages (shared) | peak (VmHWM) | entries | stored | full − idle anon per worker |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  for (const r of results) {
    out += `| ${r.workers} (${r.workerProcesses}) | ${r.objectBytes} B | ${mib(r.idle.rss)} MiB | ${mib(r.idle.pss)} MiB | ${mib(r.idle.anon)} MiB | ${mib(r.full.rss)} MiB | ${mib(r.full.pss)} MiB | ${mib(r.full.anon)} MiB | ${mib(r.full.fileShared)} MiB | ${mib(r.full.hwm)} MiB | ${r.entries.toLocaleString('en-US')} | ${mib(r.storedBytes)} MiB | ${mib((r.full.anon - r.idle.anon) / r.workers)} MiB |\n`;
  }
  for (const r of results.filter((x) => x.connected !== null)) {
    out += `\n${r.name}: with ${r.connected.connections.toLocaleString('en-US')} more keep-alive connections (one request each): anon ${mib(r.connected.anon)} MiB, PSS ${mib(r.connected.pss)} MiB (+${mib(r.connected.anon - r.full.anon)} MiB anon over full, ${((r.connected.anon - r.full.anon) / r.connected.connections / 1024).toFixed(1)} KiB a connection)\n`;
  }
  return out;
}

async function main() {
  const git = gitInfo();
  const meta = { startedAt: new Date().toISOString(), node: process.version, commit: git.commit, dirty: git.dirty, machine: machineInfo(), tools: { nginx: toolVersion('nginx', ['-v'], /nginx\/([\d.]+)/) }, settings: { workers: WORKERS, bound: BOUND, objectBytes: OBJECT_BYTES, concurrency: CONCURRENCY, small: args.has('small'), connections: CONNS } };
  await portsFree(Object.values(ports));
  writeFileSync(path.join(work, 'big'), 'x'.repeat(OBJECT_BYTES));
  writeFileSync(path.join(work, 'small'), 'x'.repeat(SMALL_BYTES));
  writeFileSync(path.join(work, 'backend.conf'), `${nginxCommon(work, 'backend', 1)}
  tcp_nodelay on; default_type text/plain;
  server { listen 127.0.0.1:${ports.backend} reuseport; root ${work};
    location /obj/big/ { add_header Cache-Control "public, max-age=3600"; try_files /big =404; }
    location /obj/small/ { add_header Cache-Control "public, max-age=3600"; try_files /small =404; }
    location = /nostore { add_header Cache-Control "no-store"; try_files /small =404; } } }
`);
  ws.start('backend', 'nginx', ['-p', work, '-e', `${work}/backend.err`, '-c', `${work}/backend.conf`]);
  await waitReady('backend', `http://127.0.0.1:${ports.backend}/obj/big/x`, ws.logOf('backend'));
  const t0 = Date.now();
  const results = [];
  for (const n of WORKERS) results.push(await measure(n, OBJECT_BYTES));
  if (args.has('small')) results.push(await measure(2, SMALL_BYTES));
  const md = markdown(meta, results);
  const out = writeResults(resultStem(meta.startedAt, meta.commit, '-pod-memory'), { meta, results }, md);
  console.log(`\n${md}\nwritten: ${out}.json (+ .md), ${fmtTime((Date.now() - t0) / 1000)}`);
  return 0;
}

process.exit(await main());
