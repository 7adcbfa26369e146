#!/usr/bin/env node
/**
 * Cache-hit throughput (issue #6 acceptance): Flusso's response cache against nginx proxy_cache,
 * same run, same 1 KiB and 16 KiB objects, reported as a ratio. For context, the same two proxies
 * uncached (Flusso on a route without the cache annotation; nginx as ingress-nginx ships it).
 *
 *   npm run bench:cache                       # 3 reps × 5 s, pinned (about 3 minutes)
 *   npm run bench:cache -- --quick            # 1 rep × 2 s (under 90 s)
 *   DURATION=10 REPS=5 CONNECTIONS=50 node bench/load/cache.mjs --modes=pinned,unpinned
 *   node bench/load/cache.mjs --setups=nginx-cache,flusso-cache --sizes=1k
 *
 * Every run is meant to be wrapped in `flock /tmp/flusso-bench.lock ...` on shared machines.
 * Needs wrk, nginx-light (or nginx), util-linux (taskset); `--install` apt-get installs them.
 *
 * Setups (each one process tree, 1 worker):
 *   nginx-cache   nginx, 1 worker, configured like ingress-nginx with caching turned on:
 *                 proxy_cache_path on tmpfs (/dev/shm, so hits never touch a disk), keys_zone 10m,
 *                 max_size 256m, proxy_cache_valid 200 1h, proxy_cache_lock on, proxy_buffering on
 *                 (nginx caches nothing with ingress-nginx's default proxy_buffering off), keep-alive
 *                 upstream, sendfile, add_header X-Cache-Status $upstream_cache_status.
 *   flusso-cache  Flusso --workers 1, Ingress annotated flusso.dev/cache: "true".
 *   flusso-proxy  Flusso --workers 1, the same Ingress without the annotation (uncached).
 *   nginx-proxy   nginx, 1 worker, uncached, as in run.mjs (ingress-nginx defaults).
 *   nginx-cache-ofc  (only with --setups) nginx-cache plus open_file_cache, which ingress-nginx does
 *                 not set: a hit then skips open()/close() of the cache file; nginx tuned further.
 *   e.g. --setups=nginx-cache,nginx-cache-ofc,flusso-cache,flusso-proxy,nginx-proxy
 * The backend (nginx, static files, sendfile) answers with Cache-Control: public, max-age=3600,
 * an ETag and Last-Modified.
 *
 * Checks: before measuring, every cached setup × size must answer X-Cache-Status: HIT (after at
 * most 5 warming requests) with the right body length for 5 requests in a row, else the run dies.
 * During every measured cached run the backend's request counter (stub_status) must not move: a
 * single upstream request means some response was not a hit. That is reported as ⚠, printed
 * loudly, and the script exits 1 after writing its results.
 *
 * Method as run.mjs: pinned = each proxy tree alone on cpu1,
 * wrk and the backend on cpu0; cells interleaved size → repetition → setup, the order reversed
 * on every repetition, each setup × size with an unrecorded warm-up first. CPU per request is
 * the proxy tree's utime+stime over the run divided by wrk's request count. "proxy CPU" near 100%
 * means the proxy was the bottleneck; well below means wrk's single core was (a lower bound).
 *
 * Output: bench/results/<time>-<commit>-cache.json (+ .md).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CLK_TCK, NCPU, Workspace, die, fmtTime, gitInfo, interleavedCells, loadKnobs, machineInfo, machineTicks, median, nginxCommon, parseArgs, pin, portsFree, requireBuild,
  requireTools, resultStem, toolVersion, tree, treeTicks, waitQuiet, waitReady, wrk, writeResults,
} from './lib.mjs';
import { singleBackendManifests } from './manifests.mjs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const args = parseArgs();
const { QUICK, DURATION, WARMUP, REPS, CONNECTIONS, BASE_PORT } = loadKnobs(args, 18280);
const ADMIN_TOKEN = 'bench-cache-token-0123456789';

const SIZES = { '1k': { label: '1 KiB', path: '/1k.bin', bytes: 1024 }, '16k': { label: '16 KiB', path: '/16k.bin', bytes: 16384 } };
const sizes = (args.get('sizes') ?? '1k,16k').split(',');
for (const s of sizes) if (!(s in SIZES)) die(`unknown size ${s} (1k, 16k)`);
const modes = (args.get('modes') ?? (NCPU >= 2 ? 'pinned' : 'unpinned')).split(',');
for (const m of modes) if (m !== 'pinned' && m !== 'unpinned') die(`unknown mode ${m} (pinned, unpinned)`);
const ALL_SETUPS = ['nginx-cache', 'flusso-cache', 'flusso-proxy', 'nginx-proxy', 'nginx-cache-ofc'];
const DEFAULT_SETUPS = ['nginx-cache', 'flusso-cache', 'flusso-proxy', 'nginx-proxy'];
const setups = (args.get('setups') ?? DEFAULT_SETUPS.join(',')).split(',');
for (const s of setups) if (!ALL_SETUPS.includes(s)) die(`unknown setup ${s} (${ALL_SETUPS.join(', ')})`);
const cached = (s) => s.includes('-cache');
/** A run whose proxy tree used at least this % of a core had the proxy as its limit. */
const SATURATED = Number(process.env.SATURATED_PCT ?? 90);

requireTools({ wrk: 'wrk', nginx: 'nginx-light', taskset: 'util-linux' }, { install: args.has('install') });
if (setups.some((s) => s.startsWith('flusso'))) requireBuild();

// --- environment ----------------------------------------------------------------------------

const ws = new Workspace('flusso-bench-cache-');
const work = ws.dir;
const shm = ws.ownDir(path.join('/dev/shm', `${path.basename(work)}-nginx-cache`));
const ports = { backend: BASE_PORT, backendStatus: BASE_PORT + 1 };
let nextPort = BASE_PORT + 2;
const portOf = (name) => (ports[name] ??= nextPort++);

mkdirSync(path.join(work, 'www'));
for (const z of Object.values(SIZES)) writeFileSync(path.join(work, 'www', z.path), randomBytes(z.bytes));
for (const f of ['www', ...Object.values(SIZES).map((z) => `www${z.path}`)]) chmodSync(path.join(work, f), 0o755);

function backendConf() {
  return `${nginxCommon(work, 'backend', 1)}
  sendfile on; tcp_nopush on; tcp_nodelay on; open_file_cache max=100; default_type application/octet-stream;
  server { listen 127.0.0.1:${ports.backend} reuseport; root ${work}/www;
    location / { add_header Cache-Control "public, max-age=3600"; } }
  server { listen 127.0.0.1:${ports.backendStatus}; location = /status { stub_status; } } }
`;
}

/** The upstream and proxy headers ingress-nginx sets (as run.mjs). */
const NGINX_PROXY = `proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $http_host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`;

function nginxConf(name) {
  const head = `${nginxCommon(work, name, 1)}
  sendfile on; tcp_nopush on; tcp_nodelay on;
  upstream backend { server 127.0.0.1:${ports.backend}; keepalive 64; keepalive_requests 100000000; }`;
  if (name === 'nginx-proxy')
    return `${head}
  server { listen 127.0.0.1:${portOf(name)} reuseport;
    location / { ${NGINX_PROXY} proxy_buffering off; } } }
`;
  const ofc = name === 'nginx-cache-ofc' ? '\n  open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s;' : '';
  return `${head}${ofc}
  proxy_cache_path ${path.join(shm, name)} levels=1:2 keys_zone=${name.replace(/-/g, '_')}:10m max_size=256m inactive=1h use_temp_path=off;
  server { listen 127.0.0.1:${portOf(name)} reuseport;
    location / { ${NGINX_PROXY}
      proxy_buffering on; proxy_cache ${name.replace(/-/g, '_')}; proxy_cache_valid 200 1h; proxy_cache_lock on; proxy_cache_use_stale updating;
      add_header X-Cache-Status $upstream_cache_status; } } }
`;
}

const servers = {};
function startAll() {
  writeFileSync(path.join(work, 'backend.conf'), backendConf());
  servers.backend = ws.start('backend', 'nginx', ['-p', work, '-e', `${work}/backend.err`, '-c', `${work}/backend.conf`]).pid;
  for (const s of setups) {
    if (s.startsWith('nginx')) {
      writeFileSync(path.join(work, `${s}.conf`), nginxConf(s));
      servers[s] = ws.start(s, 'nginx', ['-p', work, '-e', `${work}/${s}.err`, '-c', `${work}/${s}.conf`]).pid;
    } else {
      const dir = path.join(work, `manifests-${s}`);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'bench.yaml'), singleBackendManifests({ port: ports.backend, annotations: cached(s) ? { 'flusso.dev/cache': 'true' } : {} }));
      servers[s] = ws.start(s, process.execPath, [
        'bin/flusso', '--source', 'file', '--manifests', dir, '--workers', '1',
        '--http-address', '127.0.0.1', '--http-port', String(portOf(s)), '--admin-port', String(portOf(`${s}-admin`)),
        '--https-address', '127.0.0.1', '--https-port', String(portOf(`${s}-https`)), // never the default 8443 another Flusso may hold
        '--admin-token', ADMIN_TOKEN, '--log-level', 'warn',
      ]).pid;
    }
  }
}

// --- checks -------------------------------------------------------------------------------------

/** backendRequests reads the backend's total request counter (which counts this status request too). */
async function backendRequests() {
  const r = await fetch(`http://127.0.0.1:${ports.backendStatus}/status`);
  const m = /\n\s*\d+\s+\d+\s+(\d+)\s*\n/.exec(await r.text());
  if (!m) die('cannot read the backend stub_status');
  return Number(m[1]);
}

/** verifyHits warms one setup × size and dies unless 5 requests in a row are HITs of the right length. */
async function verifyHits(setup, size) {
  const url = `http://127.0.0.1:${portOf(setup)}${SIZES[size].path}`;
  const seen = [];
  for (let i = 0; i < 10; i++) {
    const r = await fetch(url);
    const body = Buffer.from(await r.arrayBuffer());
    const status = r.headers.get('x-cache-status');
    seen.push(`${r.status}/${status ?? '(no X-Cache-Status)'}/${body.length}B`);
    if (r.status !== 200 || body.length !== SIZES[size].bytes) die(`${setup} ${size}: ${url} answered ${seen.at(-1)}`);
    if (status !== 'HIT') {
      if (seen.length >= 5) die(`${setup} ${size}: no HIT after ${seen.length} requests to ${url}: ${seen.join(', ')}`);
      continue;
    }
    const tail = seen.slice(-5);
    if (tail.length === 5 && tail.every((x) => x.includes('/HIT/'))) return seen;
  }
  die(`${setup} ${size}: not 5 HITs in a row from ${url}: ${seen.join(', ')}`);
}

/** flussoCacheMetrics returns the flusso_cache_* lines of /metrics (absent until the metrics exist). */
async function flussoCacheMetrics(setup) {
  try {
    const r = await fetch(`http://127.0.0.1:${portOf(`${setup}-admin`)}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return (await r.text()).split('\n').filter((l) => l.startsWith('flusso_cache_'));
  } catch {
    return [];
  }
}

// --- run ----------------------------------------------------------------------------------------

async function main() {
  const git = gitInfo();
  const meta = {
    startedAt: new Date().toISOString(),
    node: process.version,
    commit: git.commit,
    dirty: git.dirty,
    machine: machineInfo(),
    tools: { wrk: toolVersion('wrk', ['-v'], /wrk ([\d.]+)/), nginx: toolVersion('nginx', ['-v'], /nginx\/([\d.]+)/) },
    settings: { quick: QUICK, durationS: DURATION, warmupS: WARMUP, reps: REPS, connections: CONNECTIONS, modes, sizes, setups },
    nginxCacheConf: nginxConf('nginx-cache'),
  };
  console.log(`flusso cache bench: node ${meta.node}, ${meta.commit.slice(0, 12)}${git.dirty ? ' (dirty)' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}`);
  console.log(`  wrk -t1 -c${CONNECTIONS} -d${DURATION}s × ${REPS} reps (+${WARMUP}s warm-up); modes ${modes.join(', ')}; sizes ${sizes.join(', ')}; setups ${setups.join(', ')}`);

  for (const s of setups) {
    portOf(s);
    if (s.startsWith('flusso')) (portOf(`${s}-admin`), portOf(`${s}-https`));
  }
  await portsFree(Object.values(ports));
  startAll();
  await waitReady('backend', `http://127.0.0.1:${ports.backend}${SIZES[sizes[0]].path}`, ws.logOf('backend'));
  for (const s of setups) for (const z of sizes) {
    const body = await waitReady(s, `http://127.0.0.1:${portOf(s)}${SIZES[z].path}`, ws.logOf(s));
    if (body.length !== SIZES[z].bytes) die(`${s} returned ${body.length} bytes for ${z}`);
  }
  const hitChecks = {};
  for (const s of setups.filter(cached)) for (const z of sizes) {
    hitChecks[`${s} ${z}`] = await verifyHits(s, z);
    console.log(`  ${s} ${SIZES[z].label}: ${hitChecks[`${s} ${z}`].map((x) => x.split('/')[1]).join(' ')}`);
  }
  const pidsOf = Object.fromEntries(Object.entries(servers).map(([k, pid]) => [k, tree(pid)]));

  const cells = interleavedCells(modes, sizes, () => setups, REPS);
  const totalSeconds = cells.reduce((a, c) => a + (c.rep === 0 ? WARMUP : DURATION) + 0.6, 0);
  let remaining = totalSeconds;
  const t0 = Date.now();
  const runs = [];
  const upstreamLeaks = [];
  let pinnedNow = null;
  let i = 0;
  for (const c of cells) {
    i++;
    const pinned = c.mode === 'pinned';
    if (pinnedNow !== pinned) {
      for (const [k, pids] of Object.entries(pidsOf)) pin(pids, pinned ? (k === 'backend' ? '0' : '1') : `0-${NCPU - 1}`);
      pinnedNow = pinned;
    }
    const url = `http://127.0.0.1:${portOf(c.setup)}${SIZES[c.size].path}`;
    const seconds = c.rep === 0 ? WARMUP : DURATION;
    const pids = pidsOf[c.setup];
    const quiet = await waitQuiet({ busyPct: 25, maxS: QUICK ? 2 : 10 });
    const up0 = await backendRequests();
    const cpu0 = treeTicks(pids);
    const m0 = machineTicks();
    const w = await wrk(url, { seconds, connections: CONNECTIONS, pinned });
    const cpu1 = treeTicks(pids);
    const m1 = machineTicks();
    const upstream = (await backendRequests()) - up0 - 1; // minus the second status request
    remaining -= seconds + 0.6;
    const elapsed = (Date.now() - t0) / 1000;
    const eta = remaining * (elapsed / Math.max(1, totalSeconds - remaining));
    const run = {
      ...c,
      ...w,
      upstreamRequests: upstream,
      busyBeforePct: quiet.busyPct,
      waitedForQuietS: quiet.waitedS,
      cpuUsPerReq: ((cpu1 - cpu0) / CLK_TCK / w.requests) * 1e6,
      proxyCpuPct: ((cpu1 - cpu0) / CLK_TCK / seconds) * 100,
      machineBusyPct: ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 * NCPU,
    };
    const leak = cached(c.setup) && upstream > 0;
    if (leak) upstreamLeaks.push(run);
    const tag = c.rep === 0 ? 'warm-up' : `rep ${c.rep}/${REPS}`;
    console.log(
      `[${String(i).padStart(String(cells.length).length)}/${cells.length}] ${c.mode.padEnd(8)} ${SIZES[c.size].label.padEnd(6)} ${c.setup.padEnd(12)} ${tag.padEnd(8)} ` +
        `${Math.round(w.rps).toLocaleString('en-US').padStart(8)} req/s  p50 ${w.p50.toFixed(2)} p99 ${w.p99.toFixed(2)} ms  ` +
        `${run.cpuUsPerReq.toFixed(1)} µs/req  cpu ${run.proxyCpuPct.toFixed(0)}%${quiet.busyPct >= 25 ? `  (machine ${quiet.busyPct.toFixed(0)}% busy before: noisy)` : ''}` +
        `${w.errors || w.non2xx ? `  ERRORS ${w.errors} non2xx ${w.non2xx}` : ''}${leak ? `  NOT ALL HITS: ${upstream} upstream requests` : ''}  ETA ${fmtTime(eta)}`,
    );
    if (c.rep > 0) runs.push(run);
  }
  // The caches must still answer HIT after the load.
  const hitChecksAfter = {};
  for (const s of setups.filter(cached)) for (const z of sizes) hitChecksAfter[`${s} ${z}`] = await verifyHits(s, z);
  const metrics = {};
  for (const s of setups.filter((x) => x.startsWith('flusso'))) metrics[s] = await flussoCacheMetrics(s);

  const summary = [];
  for (const mode of modes) for (const setup of setups) {
    const row = { mode, setup, sizes: {} };
    for (const size of sizes) {
      const rs = runs.filter((r) => r.mode === mode && r.setup === setup && r.size === size);
      row.sizes[size] = {
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
        proxyCpuPct: median(rs.map((r) => r.proxyCpuPct)),
        // Runs in which the proxy's core was saturated: on a shared box other users' load starves
        // wrk (cpu0) and lowers a run without the proxy being the limit.
        rpsSaturated: median(rs.filter((r) => r.proxyCpuPct >= SATURATED).map((r) => r.rps)),
        nSaturated: rs.filter((r) => r.proxyCpuPct >= SATURATED).length,
        n: rs.length,
        errors: rs.reduce((a, r) => a + r.errors + r.non2xx, 0),
        upstreamRequests: rs.reduce((a, r) => a + r.upstreamRequests, 0),
      };
    }
    summary.push(row);
  }
  const ratios = [];
  const PAIRS = [['flusso-cache', 'nginx-cache'], ['flusso-cache', 'nginx-cache-ofc'], ['flusso-cache', 'flusso-proxy'], ['nginx-cache', 'nginx-proxy'], ['flusso-proxy', 'nginx-proxy']];
  for (const mode of modes) for (const [a, b] of PAIRS) {
    const ra = summary.find((r) => r.mode === mode && r.setup === a);
    const rb = summary.find((r) => r.mode === mode && r.setup === b);
    if (!ra || !rb) continue;
    ratios.push({
      mode,
      ratio: `${a} / ${b}`,
      sizes: Object.fromEntries(sizes.map((z) => [z, ra.sizes[z].rps / rb.sizes[z].rps])),
      saturated: Object.fromEntries(sizes.map((z) => [z, ra.sizes[z].rpsSaturated / rb.sizes[z].rpsSaturated])),
    });
  }

  const md = markdown(meta, summary, ratios, upstreamLeaks);
  const out = writeResults(resultStem(meta.startedAt, meta.commit, `-cache${QUICK ? '-quick' : ''}`), { meta, hitChecks, hitChecksAfter, metrics, runs, summary, ratios, upstreamLeaks }, md);
  console.log(`\n${md}\nwritten: ${out}.json (+ .md), ${fmtTime((Date.now() - t0) / 1000)} of load`);
  if (upstreamLeaks.length > 0) {
    console.error(`\nbench: NOT EVERY MEASURED RESPONSE WAS A CACHE HIT: ${upstreamLeaks.map((r) => `${r.setup} ${r.size} ${r.mode} rep ${r.rep}: ${r.upstreamRequests} upstream requests`).join('; ')}`);
    return 1;
  }
  return 0;
}

function markdown(meta, summary, ratios, leaks) {
  const n = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  let out = `Cache hits: wrk -t1 -c${meta.settings.connections} -d${meta.settings.durationS}s, median of ${meta.settings.reps}; node ${meta.node}, commit ${meta.commit.slice(0, 12)}${meta.dirty ? '+dirty' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}, nginx ${meta.tools.nginx}. ` +
    `"saturated runs": only the runs whose proxy used ≥${SATURATED}% of its core (the others were held back by other load on the machine). ` +
    `Every cached setup answered X-Cache-Status: HIT before and after the load${leaks.length ? '; ⚠ = the backend saw requests during a measured run (not all hits)' : ' and the backend saw no request during any measured cached run'}.\n`;
  for (const mode of new Set(summary.map((r) => r.mode))) {
    out += `\n**${mode}**${mode === 'pinned' ? ' (proxy alone on cpu1; wrk + backend on cpu0)' : ''}\n\n`;
    out += `| setup | ${meta.settings.sizes.map((z) => `${SIZES[z].label} req/s | saturated runs: req/s (n) | p50 / p99 ms | CPU µs/req | proxy CPU`).join(' | ')} |\n`;
    out += `|---|${meta.settings.sizes.map(() => '---:|---:|---:|---:|---:').join('|')}|\n`;
    for (const r of summary.filter((x) => x.mode === mode)) {
      out += `| ${r.setup} | ${meta.settings.sizes
        .map((z) => {
          const c = r.sizes[z];
          const warn = `${c.errors ? ' ⚠errors' : ''}${cached(r.setup) && c.upstreamRequests ? ` ⚠${c.upstreamRequests} upstream` : ''}`;
          return `${n(c.rps)}${warn} | ${n(c.rpsSaturated)} (${c.nSaturated}/${c.n}) | ${f(c.p50)} / ${f(c.p99)} | ${f(c.cpuUsPerReq, 1)} | ${f(c.proxyCpuPct, 0)}%`;
        })
        .join(' | ')} |\n`;
    }
    const rs = ratios.filter((x) => x.mode === mode);
    if (rs.length > 0) {
      out += `\n| ratio (${mode}, median req/s) | ${meta.settings.sizes.map((z) => `${SIZES[z].label} | ${SIZES[z].label}, saturated runs`).join(' | ')} |\n|---|${meta.settings.sizes.map(() => '---:|---:').join('|')}|\n`;
      for (const r of rs) {
        const b = (x) => (r.ratio === 'flusso-cache / nginx-cache' ? `**${x}**` : x);
        out += `| ${b(r.ratio)} | ${meta.settings.sizes.map((z) => `${b(f(r.sizes[z]))} | ${f(r.saturated[z])}`).join(' | ')} |\n`;
      }
    }
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
