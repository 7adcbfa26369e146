#!/usr/bin/env node
/**
 * HTTP/2 load benchmark (issue 12, docs/http2.md): the HTTPS port's two fronts against nginx
 * with `http2` on, same certificate (EC P-256, CA-signed), same backend (nginx answering 100 B),
 * same run. Pinned as bench/load/tls.mjs: each proxy alone on cpu1 (one Flusso worker, one nginx
 * worker), clients and backend on cpu0.
 *
 *   npm run bench:http2                  # about 2 minutes
 *   npm run bench:http2 -- --quick       # 1 repetition, 2 s runs
 *   DURATION=10 REPS=5 CONNECTIONS=50 H2_CLIENTS=10 STREAMS=10 npm run bench:http2
 *
 * Setups:
 * - nginx-1: nginx 1 worker, `listen … ssl http2`, as ingress-nginx renders a TLS host.
 * - flusso-h2: Flusso with --http2 on (the default): node:http2 with HTTP/1.1 allowed.
 * - flusso-uws: Flusso with --http2 off: the uWebSockets.js SSLApp (HTTP/1.1 only).
 * Tests:
 * - h2: `h2load -c H2_CLIENTS -m STREAMS` (10 streams per connection), 100 B responses: requests
 *   per second, mean request time, CPU µs per request of the proxy's process tree.
 * - h1: `wrk -t1 -cCONNECTIONS` over TLS (HTTP/1.1 keep-alive), 100 B: what the front choice
 *   costs HTTP/1.1 clients.
 *
 * Cells interleaved (test → repetition → setup), an unrecorded warm-up per setup × test, medians
 * of REPS (3). Needs wrk, h2load, nginx and taskset (Debian: wrk nghttp2-client nginx-light
 * util-linux) and a build. Output: bench/results/<time>-<commit>-http2.json and .md.
 */
import { mkdirSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exitOnHelp } from './help.mjs';
import {
  CLK_TCK, NCPU, Workspace, die, gitInfo, interleavedCells, loadKnobs, machineInfo, median, nginxCommon, parseArgs, pin, portsFree, procStat,
  requireBuild, requireTools, resultStem, sleep, toolVersion, tree, waitQuiet, wrk, writeResults,
} from './lib.mjs';
import { defaultSslCiphers, flussoHealth, h2load, httpsGet, makePki, nginxTlsServer, tlsIngressManifests, tlsSecretYaml } from './tls-lib.mjs';

exitOnHelp(import.meta.url);
const args = parseArgs();
const knobs = loadKnobs(args, 18560);
const { QUICK, DURATION, WARMUP, CONNECTIONS, BASE_PORT } = knobs;
const REPS = Number(process.env.REPS ?? (QUICK ? 1 : 3));
const H2_CLIENTS = Number(process.env.H2_CLIENTS ?? 10);
const STREAMS = Number(process.env.STREAMS ?? 10);
const HOST = 'localhost';
const SECRET = 'bench-h2';
const TESTS = { h2: 'HTTP/2, h2load, 100 B', h1: 'HTTP/1.1 over TLS, wrk, 100 B' };
const SETUPS = ['nginx-1', 'flusso-h2', 'flusso-uws'];
const setupsOf = (test) => (test === 'h2' ? ['nginx-1', 'flusso-h2'] : SETUPS);
if (NCPU < 2) die('needs 2 cores: the proxy pinned alone on cpu1, clients and backend on cpu0');
requireTools({ wrk: 'wrk', h2load: 'nghttp2-client', nginx: 'nginx-light', taskset: 'util-linux' }, { install: args.has('install') });
requireBuild();

const ws = new Workspace('flusso-bench-h2-');
const work = ws.dir;
const ports = { backend: BASE_PORT };
let nextPort = BASE_PORT + 1;
const portOf = (name) => (ports[name] ??= nextPort++);
const servers = {};

async function startAll() {
  const pki = await makePki();
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
  const tlsServer = nginxTlsServer({ listenPort: portOf('nginx-1'), backendPort: ports.backend, host: HOST, certFile: `${work}/tls.crt`, keyFile: `${work}/tls.key`, ciphers });
  writeFileSync(path.join(work, 'nginx-1.conf'), `${nginxCommon(work, 'nginx-1', 1)}\n${tlsServer.replace('ssl reuseport;', 'ssl http2 reuseport; http2_max_concurrent_streams 128;')}`);
  servers['nginx-1'] = ws.start('nginx-1', 'nginx', ['-p', work, '-e', `${work}/nginx-1.err`, '-c', `${work}/nginx-1.conf`]).pid;
  for (const s of ['flusso-h2', 'flusso-uws']) {
    servers[s] = ws.start(s, process.execPath, [
      'bin/flusso', '--source', 'file', '--manifests', `${work}/manifests`, '--workers', '1', '--http2', s === 'flusso-h2' ? 'on' : 'off',
      '--http-address', '127.0.0.1', '--http-port', String(portOf(`${s}-http`)), '--https-address', '127.0.0.1', '--https-port', String(portOf(s)),
      '--admin-port', String(portOf(`${s}-admin`)), '--default-ssl-certificate', `default/${SECRET}`, '--log-level', 'warn',
    ]).pid;
  }
  return readFileSync(path.join(work, 'ca.crt'));
}

async function main() {
  const git = gitInfo();
  const meta = {
    startedAt: new Date().toISOString(), node: process.version, commit: git.commit, dirty: git.dirty, machine: machineInfo(),
    tools: { wrk: toolVersion('wrk', ['-v'], /wrk (\S+)/), h2load: toolVersion('h2load', ['--version'], /nghttp2\/(\S+)/), nginx: toolVersion('nginx', ['-V'], /nginx\/([\d.]+)/) },
    settings: { quick: QUICK, durationS: DURATION, warmupS: WARMUP, reps: REPS, connections: CONNECTIONS, h2Clients: H2_CLIENTS, streams: STREAMS },
  };
  for (const s of SETUPS) portOf(s);
  for (const s of ['flusso-h2', 'flusso-uws']) (portOf(`${s}-http`), portOf(`${s}-admin`));
  await portsFree(Object.values(ports));
  const ca = await startAll();
  for (const s of SETUPS) {
    let got = null;
    for (let i = 0; i < 200 && got?.status !== 200; i++) {
      got = await httpsGet(`https://${HOST}:${portOf(s)}/small`, { ca }).catch(() => null);
      if (got?.status !== 200) await sleep(50);
    }
    if (got?.status !== 200 || got.body.length !== 100) die(`${s} does not serve /small; log:\n${readFileSync(ws.logOf(s), 'utf8').slice(-3000)}`);
  }
  const cells = interleavedCells(Object.keys(TESTS), ['100b'], (test) => setupsOf(test), REPS);
  const runs = [];
  for (const c of cells) {
    if (c.setup !== 'nginx-1') for (let i = 0; i < 100 && !(await flussoHealth(portOf(`${c.setup}-admin`)))?.listening; i++) await sleep(100);
    for (const s of SETUPS) pin(tree(servers[s]), '1');
    pin(tree(servers.backend), '0');
    const pids = tree(servers[c.setup]);
    const seconds = c.rep === 0 ? WARMUP : DURATION;
    // Other users' processes on a shared box skew a cell: wait (bounded) for a quiet machine, and say so when it was not.
    const quiet = await waitQuiet({ busyPct: 25, maxS: QUICK ? 2 : 10 });
    const t0 = pids.map((p) => procStat(p)?.ticks ?? NaN);
    const url = `https://${HOST}:${portOf(c.setup)}/small`;
    let r;
    try {
      r = c.mode === 'h2' ? await h2load(url, { clients: H2_CLIENTS, streams: STREAMS, seconds }) : await wrk(url, { seconds, connections: CONNECTIONS, pinned: true });
    } catch (err) {
      r = { rps: 0, requests: 0, errors: NaN, note: String(err).slice(0, 300) };
    }
    const ticks = pids.map((p) => procStat(p)?.ticks ?? NaN).reduce((a, t, k) => a + t - t0[k], 0);
    const run = { test: c.mode, setup: c.setup, rep: c.rep, busyBeforePct: quiet.busyPct, ...r, cpuUsPerReq: r.requests > 0 ? (ticks / CLK_TCK / r.requests) * 1e6 : NaN, proxyCpuPct: (ticks / CLK_TCK / seconds) * 100 };
    console.log(`${c.mode} ${c.setup.padEnd(10)} ${c.rep === 0 ? 'warm-up' : `rep ${c.rep}`}  ${Math.round(run.rps)} req/s  ${run.cpuUsPerReq.toFixed(1)} µs/req  proxy ${run.proxyCpuPct.toFixed(0)}%${r.protocol ? `  ${r.protocol}` : ''}${r.errors ? `  ERRORS ${r.errors}` : ''}${r.note ? `  ${r.note}` : ''}${quiet.busyPct >= 25 ? `  (machine ${quiet.busyPct.toFixed(0)}% busy before: noisy)` : ''}`);
    if (c.rep > 0) runs.push(run);
  }
  const summary = [];
  for (const test of Object.keys(TESTS)) for (const setup of setupsOf(test)) {
    const rs = runs.filter((r) => r.test === test && r.setup === setup);
    summary.push({ test, setup, rps: median(rs.map((r) => r.rps)), cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)), proxyCpuPct: median(rs.map((r) => r.proxyCpuPct)), latencyMs: median(rs.map((r) => r.meanMs ?? r.p50)), errors: rs.reduce((a, r) => a + (Number.isFinite(r.errors) ? r.errors : 1), 0), noisy: rs.filter((r) => r.busyBeforePct >= 25).length });
  }
  const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  let md = `HTTP/2 and HTTP/1.1 on the HTTPS port, pinned (proxy alone on cpu1), ${DURATION} s runs, median of ${REPS}; h2load -c${H2_CLIENTS} -m${STREAMS}; wrk -t1 -c${CONNECTIONS}\n` +
    `node ${meta.node}, commit ${meta.commit.slice(0, 12)}${meta.dirty ? '+dirty' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}; nginx ${meta.tools.nginx}; h2load ${meta.tools.h2load}; wrk ${meta.tools.wrk}\n\n` +
    '| test | setup | req/s | latency ms (h2: mean, h1: p50) | CPU µs/req (proxy) | proxy CPU % | errors | noisy cells | vs nginx (req/s) | vs nginx (CPU/req) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  for (const r of summary) {
    const n = summary.find((x) => x.test === r.test && x.setup === 'nginx-1');
    md += `| ${TESTS[r.test]} | ${r.setup} | ${f(r.rps)} | ${f(r.latencyMs, 2)} | ${f(r.cpuUsPerReq, 1)} | ${f(r.proxyCpuPct)} | ${r.errors} | ${r.noisy}/${REPS} | ${f(r.rps / n.rps, 2)} | ${f(n.cpuUsPerReq / r.cpuUsPerReq, 2)} |\n`;
  }
  const out = writeResults(resultStem(meta.startedAt, meta.commit, `-http2${QUICK ? '-quick' : ''}`), { meta, runs, summary }, md);
  console.log(`\n${md}\nwritten: ${out}.json (+ .md)`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
