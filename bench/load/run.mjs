#!/usr/bin/env node
/**
 * Load benchmark (issue #5): Flusso against nginx (configured like ingress-nginx) and HAProxy
 * (configured like the HAProxy ingress controller), all on loopback, driven by wrk in the same
 * run, in interleaved repetitions with warm-ups, pinned and unpinned.
 *
 *   npm run bench                      # full run (about 12 minutes on a 2-core box)
 *   npm run bench -- --quick           # under two minutes: 1 repetition, 2 s runs
 *   DURATION=10 REPS=5 CONNECTIONS=50 npm run bench
 *   node bench/load/run.mjs --modes=pinned --sizes=100b,16k --setups=nginx-1,flusso-1
 *   node bench/load/run.mjs --metrics-cost        # adds nometrics-1 (--metrics false): what counting costs
 *   node bench/load/run.mjs --compat-cost         # adds compat-1 (--metrics-ingress-nginx-compat): what that family costs
 *   node bench/load/run.mjs --annotations-cost    # adds annot-1: the route with ingress-nginx annotations in force
 *                                                 # (use-regex path + rewrite-target, enable-cors, limit-rps never reached)
 *   ANNOTATIONS=rewrite,cors node bench/load/run.mjs --annotations-cost   # annot-1 with only those of rewrite, cors, limit, allow
 *   node bench/load/run.mjs --baseline=/tmp/flusso-old   # adds base-1: another Flusso tree (bin/, dist/,
 *                                                        # node_modules/) in the same run, for before/after
 *   node bench/load/run.mjs --baseline=/tmp/flusso-old --baseline-node=/usr/bin/node
 *                                                        # ... run on another Node.js (a build of another runtime)
 *
 * Needs the Debian packages wrk, nginx-light (or nginx), haproxy and util-linux (taskset);
 * `--install` runs `apt-get install -y` for the missing ones. Needs a build (npm run build).
 *
 * Method (README.md, "Development", and docs/upstream-client.md): the backend is nginx serving 100 B (`return`),
 * 16 KiB and 1 MiB (static files, sendfile). Pinned: each proxy alone on cpu1, wrk and the
 * backend on cpu0 (taskset). Unpinned: everything floats. Cells are interleaved: mode → size →
 * repetition → setup, the setup order reversed on every repetition; each setup × size gets an
 * unrecorded warm-up first. CPU per request is the utime+stime delta (/proc/<pid>/stat) of the
 * proxy's whole process tree over the run, divided by wrk's request count.
 *
 * Output: bench/results/<time>-<commit>.json (every run plus the medians) and the same name
 * with .md (the Markdown table, also printed at the end). bench/results/ is gitignored.
 */
import path from 'node:path';
import { mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  CLK_TCK, NCPU, Workspace, die, fmtTime, gitInfo, interleavedCells, loadKnobs, machineInfo, machineTicks, median, nginxCommon as nginxHead, parseArgs, pin,
  portsFree, requireBuild, requireTools, resultStem, toolVersion, tree, treeTicks, waitReady as waitReadyAt, wrk as wrkAt, writeResults,
} from './lib.mjs';
import { annotatedBackendManifests, singleBackendManifests } from './manifests.mjs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const args = parseArgs();
const { QUICK, DURATION, WARMUP, REPS, CONNECTIONS, BASE_PORT } = loadKnobs(args, 18180);
const N = Number(process.env.WORKERS ?? NCPU);

const SIZES = { '100b': { label: '100 B', path: '/small' }, '16k': { label: '16 KiB', path: '/16k.bin' }, '1m': { label: '1 MiB', path: '/1m.bin' } };
const sizes = (args.get('sizes') ?? '100b,16k,1m').split(',');
for (const s of sizes) if (!(s in SIZES)) die(`unknown size ${s} (100b, 16k, 1m)`);
const canPin = NCPU >= 2;
const modes = (args.get('modes') ?? (canPin ? 'pinned,unpinned' : 'unpinned')).split(',');

/** Setups per mode: pinned compares one process (one thread) each on one core. */
const SETUPS_PINNED = ['nginx-1', 'haproxy-1', 'flusso-1'];
const SETUPS_UNPINNED = QUICK ? ['nginx-1', 'haproxy-1', 'flusso-1', `flusso-${N}`] : ['nginx-1', 'haproxy-1', 'flusso-1', `nginx-${N}`, `haproxy-${N}`, `flusso-${N}`];
const BASELINE = args.has('baseline') ? path.resolve(args.get('baseline')) : null;
const BASELINE_NODE = args.get('baseline-node') ?? process.execPath;
if (BASELINE !== null) {
  SETUPS_PINNED.push('base-1');
  SETUPS_UNPINNED.splice(3, 0, 'base-1');
}
// --metrics-cost adds `nometrics-1`: the same Flusso with --metrics false, to price request counting.
const METRICS_COST = args.has('metrics-cost');
if (METRICS_COST) {
  SETUPS_PINNED.push('nometrics-1');
  SETUPS_UNPINNED.splice(3, 0, 'nometrics-1');
}
// --compat-cost adds `compat-1`: the same Flusso with the ingress-nginx-compatible metric family on.
const COMPAT_COST = args.has('compat-cost');
if (COMPAT_COST) {
  SETUPS_PINNED.push('compat-1');
  SETUPS_UNPINNED.splice(3, 0, 'compat-1');
}
// --annotations-cost adds `annot-1`: the same Flusso serving a route with ingress-nginx annotations
// (a regex path with rewrite-target, enable-cors with "*", a limit-rps it never reaches, an allow-list;
// docs/annotations.md).
const ANNOTATIONS_COST = args.has('annotations-cost');
if (ANNOTATIONS_COST) {
  SETUPS_PINNED.push('annot-1');
  SETUPS_UNPINNED.splice(3, 0, 'annot-1');
}
const onlySetups = args.has('setups') ? new Set(args.get('setups').split(',')) : null;
const setupsFor = (mode) => [...new Set(mode === 'pinned' ? SETUPS_PINNED : SETUPS_UNPINNED)].filter((s) => onlySetups === null || onlySetups.has(s));

// --- prerequisites ------------------------------------------------------------------------

requireTools({ wrk: 'wrk', nginx: 'nginx-light', haproxy: 'haproxy', taskset: 'util-linux' }, { install: args.has('install') });
requireBuild();

// --- environment ----------------------------------------------------------------------------

const ws = new Workspace('flusso-bench-');
const work = ws.dir;

const ports = { backend: BASE_PORT };
let nextPort = BASE_PORT + 1;
const portOf = (name) => (ports[name] ??= nextPort++);

mkdirSync(path.join(work, 'www'));
writeFileSync(path.join(work, 'www/16k.bin'), randomBytes(16 * 1024));
writeFileSync(path.join(work, 'www/1m.bin'), randomBytes(1024 * 1024));
for (const f of ['www', 'www/16k.bin', 'www/1m.bin']) chmodSync(path.join(work, f), 0o755);

const nginxCommon = (name, workers) => nginxHead(work, name, workers);

function backendConf() {
  return `${nginxCommon('backend', 1)}
  sendfile on; tcp_nopush on; tcp_nodelay on; open_file_cache max=100; default_type application/octet-stream;
  server { listen 127.0.0.1:${ports.backend} reuseport; root ${work}/www;
    location = /small { return 200 "${'x'.repeat(99)}\\n"; } } }
`;
}

/** nginx the way ingress-nginx proxies: HTTP/1.1 upstream keep-alive, proxy_buffering off, reuseport. */
function nginxConf(name, workers) {
  return `${nginxCommon(name, workers)}
  upstream backend { server 127.0.0.1:${ports.backend}; keepalive 64; keepalive_requests 100000000; }
  server { listen 127.0.0.1:${portOf(name)} reuseport;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $http_host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_buffering off; } } }
`;
}

/** HAProxy the way the HAProxy ingress controller proxies: keep-alive both sides, forwardfor, connection reuse. */
function haproxyConf(name, threads) {
  return `global
  nbthread ${threads}
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend fe
  bind 127.0.0.1:${portOf(name)}
  default_backend be
backend be
  server s1 127.0.0.1:${ports.backend}
`;
}

function manifests() {
  return singleBackendManifests({ port: ports.backend });
}

/** annotatedManifests: the annot-1 setup's route (manifests.mjs, annotatedBackendManifests). */
function annotatedManifests() {
  return annotatedBackendManifests({ port: ports.backend, groups: process.env.ANNOTATIONS ?? 'rewrite,cors,limit,allow' });
}

const start = (name, cmd, argv) => ws.start(name, cmd, argv);

/** servers maps a setup name to its root pid (the process tree counted for CPU). */
const servers = {};
function startAll() {
  writeFileSync(path.join(work, 'backend.conf'), backendConf());
  servers.backend = start('backend', 'nginx', ['-p', work, '-e', `${work}/backend.err`, '-c', `${work}/backend.conf`]).pid;
  const all = new Set(modes.flatMap(setupsFor));
  mkdirSync(path.join(work, 'manifests'));
  writeFileSync(path.join(work, 'manifests/bench.yaml'), manifests());
  if (ANNOTATIONS_COST) {
    mkdirSync(path.join(work, 'manifests-annot'));
    writeFileSync(path.join(work, 'manifests-annot/bench.yaml'), annotatedManifests());
  }
  for (const s of all) {
    const [kind, n] = s.split('-');
    if (kind === 'nginx') {
      writeFileSync(path.join(work, `${s}.conf`), nginxConf(s, n));
      servers[s] = start(s, 'nginx', ['-p', work, '-e', `${work}/${s}.err`, '-c', `${work}/${s}.conf`]).pid;
    } else if (kind === 'haproxy') {
      writeFileSync(path.join(work, `${s}.cfg`), haproxyConf(s, n));
      servers[s] = start(s, 'haproxy', ['-db', '-f', `${work}/${s}.cfg`]).pid;
    } else {
      servers[s] = start(s, kind === 'base' ? BASELINE_NODE : process.execPath, [
        kind === 'base' ? path.join(BASELINE, 'bin/flusso') : 'bin/flusso', '--source', 'file', '--manifests', `${work}/${kind === 'annot' ? 'manifests-annot' : 'manifests'}`, '--workers', n,
        '--http-address', '127.0.0.1', '--http-port', String(portOf(s)), '--admin-port', String(portOf(`${s}-admin`)),
        '--https-address', '127.0.0.1', '--https-port', String(portOf(`${s}-https`)), // never the default 8443 another Flusso may hold
        '--log-level', 'warn',
        ...(kind === 'nometrics' ? ['--metrics', 'false'] : []),
        ...(kind === 'compat' ? ['--metrics-ingress-nginx-compat'] : []),
        // ANNOTATIONS=headers: the custom-headers ConfigMap's names (manifests.mjs).
        ...(kind === 'annot' ? ['--global-allowed-response-headers', 'X-Frame-Options,X-Content-Type-Options'] : []),
      ]).pid;
    }
  }
  return [...all];
}

// --- wrk ----------------------------------------------------------------------------------------

const wrk = (url, seconds, pinned) => wrkAt(url, { seconds, connections: CONNECTIONS, pinned });
const waitReady = (name, url) => waitReadyAt(name, url, ws.logOf(name));

// --- run ----------------------------------------------------------------------------------------

async function main() {
  const git = gitInfo();
  const meta = {
    startedAt: new Date().toISOString(),
    node: process.version,
    commit: git.commit,
    dirty: git.dirty,
    machine: machineInfo(),
    tools: {
      wrk: toolVersion('wrk', ['-v'], /wrk ([\d.]+)/),
      nginx: toolVersion('nginx', ['-v'], /nginx\/([\d.]+)/),
      haproxy: toolVersion('haproxy', ['-v'], /version ([\d.]+)/),
    },
    baseline: BASELINE,
    baselineNode: BASELINE === null ? null : toolVersion(BASELINE_NODE, ['--version'], /v([\d.]+)/),
    settings: { quick: QUICK, durationS: DURATION, warmupS: WARMUP, reps: REPS, connections: CONNECTIONS, workersN: N, modes, sizes },
  };
  console.log(`flusso bench: node ${meta.node}, ${meta.commit.slice(0, 12)}${git.dirty ? ' (dirty)' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}`);
  console.log(`  wrk -t1 -c${CONNECTIONS} -d${DURATION}s × ${REPS} reps (+${WARMUP}s warm-up); modes ${modes.join(', ')}; sizes ${sizes.join(', ')}`);

  for (const s of new Set(modes.flatMap(setupsFor))) {
    portOf(s);
    if (s.startsWith('flusso') || s.startsWith('base')) (portOf(`${s}-admin`), portOf(`${s}-https`));
  }
  await portsFree(Object.values(ports));
  const all = startAll();
  const expected = { '100b': 100, '16k': 16384, '1m': 1048576 };
  await waitReady('backend', `http://127.0.0.1:${ports.backend}/small`);
  for (const s of all) for (const z of sizes) {
    const body = await waitReady(s, `http://127.0.0.1:${portOf(s)}${SIZES[z].path}`);
    if (body.length !== expected[z]) die(`${s} returned ${body.length} bytes for ${z}`);
  }
  const pidsOf = Object.fromEntries(Object.entries(servers).map(([k, pid]) => [k, tree(pid)]));

  const cells = interleavedCells(modes, sizes, setupsFor, REPS);
  const totalSeconds = cells.reduce((a, c) => a + (c.rep === 0 ? WARMUP : DURATION) + 0.3, 0);
  let remaining = totalSeconds;
  const t0 = Date.now();
  const runs = [];
  let pinnedNow = null;
  let i = 0;
  for (const c of cells) {
    i++;
    const pinned = c.mode === 'pinned';
    if (pinnedNow !== pinned) {
      // Pinned: every proxy on cpu1 (only the one under load is busy), backend on cpu0.
      const allCpus = `0-${NCPU - 1}`;
      for (const [k, pids] of Object.entries(pidsOf)) pin(pids, pinned ? (k === 'backend' ? '0' : '1') : allCpus);
      pinnedNow = pinned;
    }
    const url = `http://127.0.0.1:${portOf(c.setup)}${SIZES[c.size].path}`;
    const seconds = c.rep === 0 ? WARMUP : DURATION;
    const pids = pidsOf[c.setup];
    const cpu0 = treeTicks(pids);
    const be0 = treeTicks(pidsOf.backend);
    const m0 = machineTicks();
    const w = await wrk(url, seconds, pinned);
    const cpu1 = treeTicks(pids);
    const be1 = treeTicks(pidsOf.backend);
    const m1 = machineTicks();
    remaining -= seconds + 0.3;
    const elapsed = (Date.now() - t0) / 1000;
    const eta = remaining * (elapsed / Math.max(1, totalSeconds - remaining));
    const run = {
      ...c,
      ...w,
      cpuUsPerReq: ((cpu1 - cpu0) / CLK_TCK / w.requests) * 1e6,
      proxyCpuPct: ((cpu1 - cpu0) / CLK_TCK / seconds) * 100,
      backendCpuPct: ((be1 - be0) / CLK_TCK / seconds) * 100,
      machineBusyPct: ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 * NCPU,
    };
    const tag = c.rep === 0 ? 'warm-up' : `rep ${c.rep}/${REPS}`;
    console.log(
      `[${String(i).padStart(String(cells.length).length)}/${cells.length}] ${c.mode.padEnd(8)} ${SIZES[c.size].label.padEnd(6)} ${c.setup.padEnd(10)} ${tag.padEnd(8)} ` +
        `${Math.round(w.rps).toLocaleString('en-US').padStart(8)} req/s  p50 ${w.p50.toFixed(2)} p99 ${w.p99.toFixed(2)} ms  ` +
        `${run.cpuUsPerReq.toFixed(1)} µs/req${w.errors || w.non2xx ? `  ERRORS ${w.errors} non2xx ${w.non2xx}` : ''}  ETA ${fmtTime(eta)}`,
    );
    if (c.rep > 0) runs.push(run);
  }

  // Medians and ratios.
  const summary = [];
  for (const mode of modes) for (const setup of setupsFor(mode)) {
    const row = { mode, setup, sizes: {} };
    for (const size of sizes) {
      const rs = runs.filter((r) => r.mode === mode && r.setup === setup && r.size === size);
      row.sizes[size] = {
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
        proxyCpuPct: median(rs.map((r) => r.proxyCpuPct)),
        errors: rs.reduce((a, r) => a + r.errors + r.non2xx, 0),
      };
    }
    summary.push(row);
  }
  const ratios = [];
  for (const mode of modes) {
    const pairs = [['flusso-1', 'nginx-1'], ['flusso-1', 'haproxy-1']];
    if (BASELINE !== null) pairs.push(['base-1', 'nginx-1'], ['base-1', 'haproxy-1'], ['flusso-1', 'base-1']);
    if (METRICS_COST) pairs.push(['flusso-1', 'nometrics-1']);
    if (COMPAT_COST) pairs.push(['compat-1', 'flusso-1']);
    if (ANNOTATIONS_COST) pairs.push(['annot-1', 'flusso-1']);
    if (mode === 'unpinned' && N !== 1) pairs.push([`flusso-${N}`, `nginx-${N}`], [`flusso-${N}`, `haproxy-${N}`]);
    for (const [a, b] of pairs) {
      const ra = summary.find((r) => r.mode === mode && r.setup === a);
      const rb = summary.find((r) => r.mode === mode && r.setup === b);
      if (!ra || !rb) continue;
      ratios.push({ mode, ratio: `${a} / ${b}`, sizes: Object.fromEntries(sizes.map((z) => [z, ra.sizes[z].rps / rb.sizes[z].rps])) });
    }
  }

  const md = markdown(meta, summary, ratios);
  const out = writeResults(resultStem(meta.startedAt, meta.commit, QUICK ? '-quick' : ''), { meta, runs, summary, ratios }, md);
  console.log(`\n${md}\nwritten: ${out}.json (+ .md), ${fmtTime((Date.now() - t0) / 1000)} of load`);
}

function markdown(meta, summary, ratios) {
  const n = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  let out = `wrk -t1 -c${meta.settings.connections} -d${meta.settings.durationS}s, median of ${meta.settings.reps}; node ${meta.node}, commit ${meta.commit.slice(0, 12)}${meta.dirty ? '+dirty' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}, nginx ${meta.tools.nginx}, HAProxy ${meta.tools.haproxy}\n`;
  for (const mode of new Set(summary.map((r) => r.mode))) {
    out += `\n**${mode}**${mode === 'pinned' ? ' (proxy alone on cpu1; wrk + backend on cpu0)' : ''}\n\n`;
    out += `| setup | ${meta.settings.sizes.map((z) => `${SIZES[z].label} req/s | p50 / p99 ms | CPU µs/req`).join(' | ')} |\n`;
    out += `|---|${meta.settings.sizes.map(() => '---:|---:|---:').join('|')}|\n`;
    for (const r of summary.filter((x) => x.mode === mode)) {
      out += `| ${r.setup} | ${meta.settings.sizes
        .map((z) => {
          const c = r.sizes[z];
          return `${n(c.rps)}${c.errors ? ' ⚠' : ''} | ${f(c.p50)} / ${f(c.p99)} | ${f(c.cpuUsPerReq, 1)}`;
        })
        .join(' | ')} |\n`;
    }
    const rs = ratios.filter((x) => x.mode === mode);
    if (rs.length > 0) {
      out += `\n| ratio (${mode}) | ${meta.settings.sizes.map((z) => SIZES[z].label).join(' | ')} |\n|---|${meta.settings.sizes.map(() => '---:').join('|')}|\n`;
      for (const r of rs) out += `| ${r.ratio} | ${meta.settings.sizes.map((z) => f(r.sizes[z])).join(' | ')} |\n`;
    }
  }
  return out;
}

// The servers are child processes and keep the event loop alive: exit explicitly ('exit' cleans up).
main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
