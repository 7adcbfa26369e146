#!/usr/bin/env node
/**
 * TLS load benchmark (issue #11): Flusso terminating HTTPS against nginx configured as
 * ingress-nginx terminates TLS for the same Ingress (TLS 1.2/1.3, Flusso's default cipher list,
 * shared session cache, tickets, upstream keep-alive), same certificate (EC P-256, CA-signed),
 * same backend, in the same run. Pinned as in bench/load/run.mjs: each proxy alone on cpu1, the
 * clients and the backend on cpu0.
 *
 *   npm run bench:tls                    # full run: about 3 minutes on a quiet 2-core box, up to 7 when it waits for quiet
 *   npm run bench:tls -- --quick         # about 1.5 minutes: 1 repetition, 2 s runs
 *   DURATION=10 REPS=5 CONNECTIONS=50 HANDSHAKE_CLIENTS=4 npm run bench:tls
 *   node bench/load/tls.mjs --tests=keepalive,full --setups=nginx-1,flusso-1
 *   node bench/load/tls.mjs --baseline=/tmp/flusso-other   # adds base-1: another Flusso tree
 *                                                          # (bin/, dist/, node_modules/)
 *
 * Tests (each a column group of the output):
 * - keepalive: `wrk -t1 -cN https://localhost:PORT/small`, 100 B responses on keep-alive
 *   connections: requests per second, p50/p99, CPU µs per request of the proxy's process tree.
 * - close: the same with `-H 'Connection: close'`: one request per TLS connection. wrk reuses
 *   its SSL object per connection slot (SSL_clear), so it offers the previous session and
 *   resumes (TLS 1.3 PSK from a ticket) wherever the server allows: this is the resumed figure.
 * - full: HANDSHAKE_CLIENTS parallel `openssl s_time -new`: a full TLS 1.3 handshake per
 *   connection (a client option: s_time never offers a session), no request.
 * - resume12: the same with `-reuse -tls1_2`: TLS 1.2 session-ID resumption, no request.
 *   (`s_time -reuse` over TLS 1.3 does not resume: it never reads the ticket.)
 * s_time sends no SNI, so Flusso runs with --default-ssl-certificate naming the same Secret and
 * both servers present the same certificate either way.
 *
 * Before measuring, a 1 s check run of every churning test goes through a relay that reads the
 * handshakes (tls-probe.mjs): connections per request, protocol, how many resumed. It is in the
 * output, so the "full" and "resumed" labels are facts of the run, not assumptions.
 *
 * Method as bench/load/run.mjs: cells interleaved (test → repetition → setup, the
 * setup order reversed every other repetition), an unrecorded warm-up per setup × test, medians
 * of REPS (3). A Flusso worker that dies is restarted by Flusso: every cell first waits (bounded)
 * until /readyz says every worker listens, re-pins the new worker, and reports restarts. Each
 * cell then waits (at most 10 s, 2 s with --quick) for the machine to be under 25 % busy, as
 * bench/load/cache.mjs does; the output counts the cells that started on a busy machine.
 *
 * Needs wrk, nginx, openssl and taskset (Debian: wrk nginx-light openssl util-linux; --install)
 * and a build (npm run build). Output: bench/results/<time>-<commit>-tls.json and .md.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CLK_TCK, NCPU, ROOT, Workspace, die, fmtTime, gitInfo, interleavedCells, loadKnobs, machineInfo, machineTicks, median, nginxCommon, parseArgs, pin,
  portsFree, procStat, requireBuild, requireTools, resultStem, sleep, toolVersion, tree, waitQuiet, wrk,
  writeResults,
} from './lib.mjs';
import { TlsProbe } from './tls-probe.mjs';
import { defaultSslCiphers, flussoHealth, httpsGet, makePki, nginxTlsServer, sTime, tlsIngressManifests, tlsSecretYaml } from './tls-lib.mjs';

const USAGE = `usage: node bench/load/tls.mjs [--quick] [--tests=LIST] [--setups=LIST] [--baseline=DIR] [--install] [--help]
       npm run bench:tls [-- --quick]

TLS termination load bench (issue #11): Flusso vs nginx configured as ingress-nginx, same
certificate and backend, same run, pinned (proxy on cpu1, clients and backend on cpu0).

  --quick          1 repetition, 2 s runs (about 1.5 minutes; the full run about 3, up to 7 on a busy machine)
  --tests=LIST     keepalive,close,full,resume12 (default: all)
  --setups=LIST    nginx-1,flusso-1[,base-1] (default: all)
  --baseline=DIR   adds base-1: another Flusso tree (bin/, dist/, node_modules/)
  --install        apt-get install wrk nginx-light openssl util-linux when missing

environment (defaults): DURATION (5, --quick 2), WARMUP (1), REPS (3, --quick 1), CONNECTIONS (50),
  HANDSHAKE_CLIENTS (4), BASE_PORT (18480)
Results in bench/results/*-tls.{json,md}.
`;
const args = parseArgs();
if (args.has('help')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const knobs = loadKnobs(args, 18480);
const { QUICK, DURATION, WARMUP, CONNECTIONS, BASE_PORT } = knobs;
const REPS = Number(process.env.REPS ?? (QUICK ? 1 : 3));
const HANDSHAKE_CLIENTS = Number(process.env.HANDSHAKE_CLIENTS ?? 4);
const HOST = 'localhost'; // wrk sends the URL's host as SNI; localhost resolves to 127.0.0.1 only here
const SECRET = 'bench-tls';

const TESTS = {
  keepalive: { label: 'keep-alive, 100 B', unit: 'req/s', target: 0.6 },
  close: { label: 'Connection: close (wrk), 1 request per connection', unit: 'req/s', target: 0.8 },
  full: { label: 'full TLS 1.3 handshakes (s_time -new)', unit: 'conn/s', target: 0.8 },
  resume12: { label: 'resumed TLS 1.2 handshakes (s_time -reuse -tls1_2)', unit: 'conn/s', target: 0.8 },
};
const tests = (args.get('tests') ?? Object.keys(TESTS).join(',')).split(',');
for (const t of tests) if (!(t in TESTS)) die(`unknown test ${t} (${Object.keys(TESTS).join(', ')})`);
if (NCPU < 2) die('needs 2 cores: the proxy pinned alone on cpu1, clients and backend on cpu0');

const BASELINE = args.has('baseline') ? path.resolve(args.get('baseline')) : null;
const SETUPS = ['nginx-1', 'flusso-1', ...(BASELINE === null ? [] : ['base-1'])].filter((s) => !args.has('setups') || args.get('setups').split(',').includes(s));
const isFlusso = (s) => !s.startsWith('nginx');

requireTools({ wrk: 'wrk', nginx: 'nginx-light', openssl: 'openssl', taskset: 'util-linux' }, { install: args.has('install') });
requireBuild();

const ws = new Workspace('flusso-bench-tls-');
const work = ws.dir;
const ports = { backend: BASE_PORT };
let nextPort = BASE_PORT + 1;
const portOf = (name) => (ports[name] ??= nextPort++);

// --- servers ------------------------------------------------------------------------------------

const servers = {};
let pki;

async function startAll() {
  pki = await makePki();
  const pair = pki.issue([HOST]);
  for (const [f, text] of [['tls.crt', pair.certPem], ['tls.key', pair.keyPem], ['ca.crt', pki.caPem]]) writeFileSync(path.join(work, f), text, { mode: 0o600 });
  const ciphers = await defaultSslCiphers();
  writeFileSync(path.join(work, 'backend.conf'), `${nginxCommon(work, 'backend', 1)}
  server { listen 127.0.0.1:${ports.backend} reuseport; location = /small { return 200 "${'x'.repeat(99)}\\n"; } } }
`);
  servers.backend = ws.start('backend', 'nginx', ['-p', work, '-e', `${work}/backend.err`, '-c', `${work}/backend.conf`]).pid;
  mkdirSync(path.join(work, 'manifests'));
  chmodSync(path.join(work, 'manifests'), 0o755);
  writeFileSync(path.join(work, 'manifests/app.yaml'), tlsIngressManifests({ port: ports.backend, host: HOST, secretName: SECRET }));
  writeFileSync(path.join(work, 'manifests/secret.yaml'), tlsSecretYaml({ name: SECRET, pair }));
  for (const s of SETUPS) {
    if (s === 'nginx-1') {
      writeFileSync(path.join(work, `${s}.conf`), `${nginxCommon(work, s, 1)}\n${nginxTlsServer({
        listenPort: portOf(s), backendPort: ports.backend, host: HOST, certFile: `${work}/tls.crt`, keyFile: `${work}/tls.key`, ciphers,
      })}`);
      servers[s] = ws.start(s, 'nginx', ['-p', work, '-e', `${work}/${s}.err`, '-c', `${work}/${s}.conf`]).pid;
    } else {
      const base = s === 'base-1';
      servers[s] = ws.start(s, process.execPath, [
        base ? path.join(BASELINE, 'bin/flusso') : 'bin/flusso', '--source', 'file', '--manifests', `${work}/manifests`, '--workers', '1',
        '--http-address', '127.0.0.1', '--http-port', String(portOf(`${s}-http`)), '--https-address', '127.0.0.1', '--https-port', String(portOf(s)),
        '--admin-port', String(portOf(`${s}-admin`)), '--default-ssl-certificate', `default/${SECRET}`, '--log-level', 'warn',
      ]).pid;
    }
  }
  return pair.fingerprint256;
}

/** ensureUp waits (bounded) until a Flusso's every worker listens, and returns its restarts so far. */
async function ensureUp(setup, timeoutMs = 40_000) {
  if (!isFlusso(setup)) return 0;
  const deadline = Date.now() + timeoutMs;
  let h = null;
  while (Date.now() < deadline) {
    h = await flussoHealth(portOf(`${setup}-admin`));
    if (h?.ready && h.listening) return h.restarts;
    await sleep(100);
  }
  return h?.restarts ?? NaN;
}

// --- one measurement ----------------------------------------------------------------------------

const urlOf = (setup) => `https://${HOST}:${portOf(setup)}/small`;

function load(test, port, seconds, pinned) {
  const url = `https://${HOST}:${port}/small`;
  switch (test) {
    case 'keepalive':
      return wrk(url, { seconds, connections: CONNECTIONS, pinned });
    case 'close':
      return wrk(url, { seconds, connections: CONNECTIONS, pinned, headers: ['Connection: close'] });
    case 'full':
      return sTime(port, { seconds, clients: HANDSHAKE_CLIENTS, extra: ['-new'], pinned });
    case 'resume12':
      return sTime(port, { seconds, clients: HANDSHAKE_CLIENTS, extra: ['-reuse', '-tls1_2'], pinned });
  }
  throw new Error(test);
}

/** probeClients runs each churning test for 1 s through a TlsProbe relay: what the client really did. */
async function probeClients() {
  const out = [];
  for (const test of tests) for (const setup of SETUPS) {
    await ensureUp(setup);
    const probe = new TlsProbe(portOf(setup));
    const port = await probe.start();
    let r;
    try {
      r = await load(test, port, 1, false);
    } catch (err) {
      r = { requests: 0, errors: NaN, note: String(err).slice(0, 200) };
    }
    await sleep(200);
    const p = probe.stats();
    await probe.close();
    out.push({ test, setup, requests: r.requests, errors: r.errors ?? 0, connections: p.connections, handshakes: p.classified, resumed: p.resumed, offered: p.resumptionOffered, protocols: p.protocols });
    console.log(`  check ${test.padEnd(9)} ${setup.padEnd(8)} ${r.requests} requests, ${p.connections} connections, ${p.classified} handshakes seen (${Object.entries(p.protocols).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}), ${p.resumed} resumed, errors ${r.errors ?? 0}`);
  }
  return out;
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
    tools: {
      wrk: toolVersion('wrk', ['-v'], /wrk (\S+)/),
      nginx: toolVersion('nginx', ['-V'], /nginx\/([\d.]+)/),
      nginxOpenssl: toolVersion('nginx', ['-V'], /(running with OpenSSL [^)]+|built with OpenSSL [\d.a-z]+)/),
      openssl: toolVersion('openssl', ['version'], /(OpenSSL [\d.a-z]+)/),
      uws: JSON.parse(readFileSync(path.join(ROOT, 'node_modules/uWebSockets.js/package.json'), 'utf8')).version,
    },
    baseline: BASELINE,
    settings: { quick: QUICK, durationS: DURATION, warmupS: WARMUP, reps: REPS, connections: CONNECTIONS, handshakeClients: HANDSHAKE_CLIENTS, tests, setups: SETUPS },
  };
  console.log(`flusso TLS bench: node ${meta.node}, ${meta.commit.slice(0, 12)}${git.dirty ? ' (dirty)' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}`);
  console.log(`  ${tests.join(', ')}; ${DURATION}s × ${REPS} reps (+${WARMUP}s warm-up); wrk -c${CONNECTIONS}; s_time × ${HANDSHAKE_CLIENTS}`);

  for (const s of SETUPS) {
    portOf(s);
    if (isFlusso(s)) (portOf(`${s}-http`), portOf(`${s}-admin`));
  }
  await portsFree(Object.values(ports));
  const fingerprint = await startAll();
  const ca = readFileSync(path.join(work, 'ca.crt'));
  for (const s of SETUPS) {
    let got = null;
    for (let i = 0; i < 200 && got?.status !== 200; i++) {
      got = await httpsGet(urlOf(s), { ca }).catch(() => null);
      if (got?.status !== 200) await sleep(50);
    }
    if (got?.status !== 200) die(`${s} does not serve ${urlOf(s)}; log:\n${readFileSync(ws.logOf(s), 'utf8').slice(-3000)}`);
    if (got.body.length !== 100) die(`${s} returned ${got.body.length} bytes`);
    if (got.fingerprint256 !== fingerprint) die(`${s} presents another certificate (${got.fingerprint256})`);
  }

  console.log('what the clients do (1 s each, unpinned, through a relay that reads the handshakes):');
  const checks = await probeClients();

  const cells = interleavedCells(tests, ['100b'], () => SETUPS, REPS);
  const t0 = Date.now();
  const runs = [];
  let i = 0;
  const totalS = cells.reduce((a, c) => a + (c.rep === 0 ? WARMUP : DURATION) + 0.6, 0);
  for (const c of cells) {
    i++;
    const restarts0 = await ensureUp(c.setup);
    // Pin again every cell: a restarted Flusso worker is a new process.
    for (const s of SETUPS) pin(tree(servers[s]), '1');
    pin(tree(servers.backend), '0');
    const pids = tree(servers[c.setup]);
    const seconds = c.rep === 0 ? WARMUP : DURATION;
    // Other users' processes on a shared box skew a cell: wait (bounded) for a quiet machine, and say so when it was not.
    const quiet = await waitQuiet({ busyPct: 25, maxS: QUICK ? 2 : 10 });
    const cpu0 = pids.map((p) => procStat(p)?.ticks ?? NaN);
    const m0 = machineTicks();
    let w;
    try {
      w = await load(c.mode, portOf(c.setup), seconds, true);
    } catch (err) {
      w = { rps: 0, requests: 0, p50: NaN, p99: NaN, errors: NaN, non2xx: 0, note: String(err).split('\n').slice(0, 3).join(' ') };
    }
    // A process that died during the run took its CPU time with it: then there is no figure.
    const cpu1 = pids.map((p) => procStat(p)?.ticks ?? NaN);
    const cpuTicks = cpu1.reduce((a, t, k) => a + t - cpu0[k], 0);
    const m1 = machineTicks();
    await sleep(isFlusso(c.setup) ? 300 : 0); // a worker that dies as the clients close is this cell's
    const restarts1 = isFlusso(c.setup) ? ((await flussoHealth(portOf(`${c.setup}-admin`)))?.restarts ?? NaN) : 0;
    const run = {
      test: c.mode, setup: c.setup, rep: c.rep, ...w,
      cpuUsPerReq: w.requests > 0 ? (cpuTicks / CLK_TCK / w.requests) * 1e6 : NaN,
      proxyCpuPct: (cpuTicks / CLK_TCK / seconds) * 100,
      machineBusyPct: ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 * NCPU,
      busyBeforePct: quiet.busyPct,
      waitedForQuietS: quiet.waitedS,
      restarts: restarts1 - restarts0,
    };
    const elapsed = (Date.now() - t0) / 1000;
    const tag = c.rep === 0 ? 'warm-up' : `rep ${c.rep}/${REPS}`;
    console.log(
      `[${String(i).padStart(String(cells.length).length)}/${cells.length}] ${c.mode.padEnd(9)} ${c.setup.padEnd(8)} ${tag.padEnd(8)} ` +
        `${Math.round(w.rps).toLocaleString('en-US').padStart(7)} ${TESTS[c.mode].unit}` +
        `${Number.isFinite(w.p50) ? `  p50 ${w.p50.toFixed(2)} p99 ${w.p99.toFixed(2)} ms` : ''}  ${run.cpuUsPerReq.toFixed(1)} µs/req  proxy ${run.proxyCpuPct.toFixed(0)}%` +
        `${w.errors || w.non2xx ? `  ERRORS ${w.errors}${w.non2xx ? ` non2xx ${w.non2xx}` : ''}` : ''}${run.restarts ? `  WORKER RESTARTS ${run.restarts}` : ''}${quiet.busyPct >= 25 ? `  (machine ${quiet.busyPct.toFixed(0)}% busy before: noisy)` : ''}${w.note ? `  (${w.note})` : ''}` +
        `  ETA ${fmtTime(Math.max(0, totalS - elapsed))}`,
    );
    if (c.rep > 0) runs.push(run);
  }

  const summary = [];
  for (const test of tests) for (const setup of SETUPS) {
    const rs = runs.filter((r) => r.test === test && r.setup === setup);
    summary.push({
      test, setup,
      rps: median(rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
      proxyCpuPct: median(rs.map((r) => r.proxyCpuPct)),
      busyBeforePct: median(rs.map((r) => r.busyBeforePct)),
      machineBusyPct: median(rs.map((r) => r.machineBusyPct)),
      noisyCells: rs.filter((r) => r.busyBeforePct >= 25).length,
      cells: rs.length,
      errors: rs.reduce((a, r) => a + (Number.isFinite(r.errors) ? r.errors : 1) + (r.non2xx ?? 0), 0),
      restarts: rs.reduce((a, r) => a + (Number.isFinite(r.restarts) ? r.restarts : 0), 0),
    });
  }
  const ratios = [];
  for (const test of tests) for (const a of SETUPS.filter(isFlusso)) {
    const ra = summary.find((r) => r.test === test && r.setup === a);
    const rb = summary.find((r) => r.test === test && r.setup === 'nginx-1');
    if (!ra || !rb) continue;
    ratios.push({ test, ratio: `${a} / nginx-1`, rps: ra.rps / rb.rps, cpu: rb.cpuUsPerReq / ra.cpuUsPerReq, target: TESTS[test].target });
  }
  const md = markdown(meta, checks, summary, ratios);
  const out = writeResults(resultStem(meta.startedAt, meta.commit, `-tls${QUICK ? '-quick' : ''}`), { meta, checks, runs, summary, ratios }, md);
  console.log(`\n${md}\nwritten: ${out}.json (+ .md), ${fmtTime((Date.now() - t0) / 1000)} of load`);
}

function markdown(meta, checks, summary, ratios) {
  const n = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const s = meta.settings;
  let out = `TLS termination, pinned (proxy alone on cpu1; clients + backend on cpu0), ${s.durationS} s runs, median of ${s.reps}` +
    `${s.quick ? ' (--quick)' : ''}; wrk -t1 -c${s.connections}; s_time × ${s.handshakeClients} clients\n` +
    `node ${meta.node}, commit ${meta.commit.slice(0, 12)}${meta.dirty ? '+dirty' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}; ` +
    `uWebSockets.js ${meta.tools.uws} (BoringSSL); nginx ${meta.tools.nginx} (${meta.tools.nginxOpenssl}); wrk ${meta.tools.wrk}; ${meta.tools.openssl} (s_time)` +
    `${meta.baseline ? `; base-1 = ${meta.baseline}` : ''}\n`;
  out += `\n| test | setup | rate | p50 / p99 ms | CPU µs/req (proxy tree) | proxy CPU % | machine busy % before / during (of ${meta.machine.cpus * 100}) | errors | worker restarts |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n`;
  for (const r of summary) {
    out += `| ${TESTS[r.test].label} | ${r.setup} | ${n(r.rps)} ${TESTS[r.test].unit}${r.errors || r.restarts ? ' ⚠' : ''} | ${f(r.p50)} / ${f(r.p99)} | ${f(r.cpuUsPerReq, 1)} | ${f(r.proxyCpuPct, 0)} | ${f(r.busyBeforePct, 0)} / ${f(r.machineBusyPct, 0)} | ${r.errors} | ${r.restarts} |\n`;
  }
  const noisy = summary.reduce((a, r) => a + r.noisyCells, 0);
  out += `\n${noisy} of ${summary.reduce((a, r) => a + r.cells, 0)} measured cells began with the machine at least 25 % busy with other processes (each waited up to ${s.quick ? 2 : 10} s for quiet first); "before" is the median over a 0.5 s window just before the cell, "during" includes the bench's own proxy, backend and clients.\n`;
  if (ratios.length > 0) {
    out += `\n| test | ratio | by rate | by CPU per request (nginx µs / Flusso µs) | target |\n|---|---|---:|---:|---:|\n`;
    for (const r of ratios) out += `| ${TESTS[r.test].label} | ${r.ratio} | ${f(r.rps)}${r.rps >= r.target ? ' ✓' : ' ✗'} | ${f(r.cpu)}${r.cpu >= r.target ? ' ✓' : ' ✗'} | ≥ ${r.target} |\n`;
    out += `\nWhen the proxy's core is not saturated (proxy CPU well under 100 %), the clients on cpu0 set the rate and the CPU-per-request ratio is the proxy's capacity ratio.\n`;
  }
  out += `\nWhat the clients did (1 s check runs through a relay reading each handshake):\n\n| test | setup | requests | TCP connections | handshakes seen | protocols | resumed | client errors |\n|---|---|---:|---:|---:|---|---:|---:|\n`;
  for (const c of checks) {
    out += `| ${c.test} | ${c.setup} | ${c.requests} | ${c.connections} | ${c.handshakes} | ${Object.entries(c.protocols).map(([k, v]) => `${k} ${v}`).join(', ') || '–'} | ${c.resumed} | ${c.errors} |\n`;
  }
  return out;
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
