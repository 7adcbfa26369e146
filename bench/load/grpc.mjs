#!/usr/bin/env node
/**
 * gRPC unary load benchmark (issue 12, docs/http2.md): Flusso with
 * `nginx.ingress.kubernetes.io/backend-protocol: GRPC` against nginx with `grpc_pass` (as
 * ingress-nginx renders that annotation), same @grpc/grpc-js backend (grpc-backend.mjs, h2c),
 * same certificate, same run. Each proxy alone on cpu1 (one worker); the client and the backend
 * on cpu0.
 *
 *   npm run bench:grpc                   # about 1 minute
 *   npm run bench:grpc -- --quick        # 1 repetition, 2 s runs
 *   DURATION=10 REPS=5 H2_CLIENTS=10 STREAMS=10 npm run bench:grpc
 *
 * The client is h2load sending gRPC unary calls (POST /flusso.bench.Echo/Unary, a 100 B message
 * in its 5-byte gRPC frame, content-type application/grpc, te: trailers), H2_CLIENTS connections
 * × STREAMS streams each, so the client costs little next to the proxies. Before measuring, one
 * call through each proxy with @grpc/grpc-js checks that it is a real gRPC answer (grpc-status 0,
 * the message echoed). Reported: calls per second, mean call time, CPU µs per call of the
 * proxy's process tree, and the ratios to nginx.
 *
 * Needs h2load, nginx and taskset (Debian: nghttp2-client nginx-light util-linux) and a build.
 * Output: bench/results/<time>-<commit>-grpc.json and .md.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { exitOnHelp } from './help.mjs';
import {
  CLK_TCK, NCPU, ROOT, Workspace, die, gitInfo, interleavedCells, loadKnobs, machineInfo, median, nginxCommon, parseArgs, pin, portsFree, procStat,
  requireBuild, requireTools, resultStem, sleep, toolVersion, tree, waitQuiet, writeResults,
} from './lib.mjs';
import { defaultSslCiphers, flussoHealth, h2load, makePki, tlsSecretYaml } from './tls-lib.mjs';

exitOnHelp(import.meta.url);
const args = parseArgs();
const { QUICK, DURATION, WARMUP, BASE_PORT } = loadKnobs(args, 18620);
const REPS = Number(process.env.REPS ?? (QUICK ? 1 : 3));
const H2_CLIENTS = Number(process.env.H2_CLIENTS ?? 10);
const STREAMS = Number(process.env.STREAMS ?? 10);
const HOST = 'localhost';
const SETUPS = ['nginx-1', 'flusso-1'];
const METHOD = '/flusso.bench.Echo/Unary';
if (NCPU < 2) die('needs 2 cores: the proxy pinned alone on cpu1, the client and backend on cpu0');
requireTools({ h2load: 'nghttp2-client', nginx: 'nginx-light', taskset: 'util-linux' }, { install: args.has('install') });
requireBuild();

const ws = new Workspace('flusso-bench-grpc-');
const work = ws.dir;
const ports = { backend: BASE_PORT, 'nginx-1': BASE_PORT + 1, 'flusso-1': BASE_PORT + 2, 'flusso-1-http': BASE_PORT + 3, 'flusso-1-admin': BASE_PORT + 4 };
const servers = {};
const message = Buffer.alloc(100, 0x61);
const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);

function manifests() {
  return `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: flusso }
spec: { controller: flusso.dev/ingress-controller }
---
apiVersion: v1
kind: Service
metadata: { name: grpc, namespace: default }
spec: { ports: [{ port: 80, targetPort: ${ports.backend} }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: grpc-1, namespace: default, labels: { kubernetes.io/service-name: grpc } }
addressType: IPv4
ports: [{ name: "", port: ${ports.backend}, protocol: TCP }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: grpc, namespace: default, annotations: { nginx.ingress.kubernetes.io/backend-protocol: GRPC } }
spec:
  ingressClassName: flusso
  tls: [{ hosts: [${HOST}], secretName: bench-grpc }]
  rules: [{ host: ${HOST}, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: grpc, port: { number: 80 } } } }] } }]
`;
}

/** check makes one unary call through `port` with @grpc/grpc-js: a real gRPC answer or the bench dies. */
function check(port, ca) {
  const id = (b) => b;
  const Client = grpc.makeGenericClientConstructor({ unary: { path: METHOD, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } }, 'Echo');
  const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createSsl(ca), { 'grpc.ssl_target_name_override': HOST, 'grpc.default_authority': HOST });
  return new Promise((resolve, reject) => {
    c.unary(message, { deadline: Date.now() + 5000 }, (err, res) => {
      c.close();
      if (err) reject(err);
      else if (!res.equals(message)) reject(new Error('the echo differs'));
      else resolve();
    });
  });
}

async function main() {
  const git = gitInfo();
  const meta = {
    startedAt: new Date().toISOString(), node: process.version, commit: git.commit, dirty: git.dirty, machine: machineInfo(),
    tools: { h2load: toolVersion('h2load', ['--version'], /nghttp2\/(\S+)/), nginx: toolVersion('nginx', ['-V'], /nginx\/([\d.]+)/), grpcJs: JSON.parse(readFileSync(path.join(ROOT, 'node_modules/@grpc/grpc-js/package.json'), 'utf8')).version },
    settings: { quick: QUICK, durationS: DURATION, warmupS: WARMUP, reps: REPS, h2Clients: H2_CLIENTS, streams: STREAMS, messageBytes: message.length },
  };
  await portsFree(Object.values(ports));
  writeFileSync(path.join(work, 'call.bin'), frame);
  const pki = await makePki();
  const pair = pki.issue([HOST]);
  for (const [f, text] of [['tls.crt', pair.certPem], ['tls.key', pair.keyPem]]) writeFileSync(path.join(work, f), text, { mode: 0o600 });
  const backend = ws.start('backend', process.execPath, [path.join(ROOT, 'bench/load/grpc-backend.mjs'), String(ports.backend)]);
  servers.backend = backend.pid;
  const ciphers = await defaultSslCiphers();
  writeFileSync(path.join(work, 'nginx-1.conf'), `${nginxCommon(work, 'nginx-1', 1)}
  upstream grpcb { server 127.0.0.1:${ports.backend}; keepalive 64; }
  ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers ${ciphers}; ssl_session_cache shared:SSL:10m; ssl_session_tickets on;
  server { listen 127.0.0.1:${ports['nginx-1']} ssl http2 reuseport; server_name ${HOST}; http2_max_concurrent_streams 128;
    ssl_certificate ${work}/tls.crt; ssl_certificate_key ${work}/tls.key;
    location / { grpc_pass grpc://grpcb; grpc_set_header X-Forwarded-For $remote_addr; } } }
`);
  servers['nginx-1'] = ws.start('nginx-1', 'nginx', ['-p', work, '-e', `${work}/nginx-1.err`, '-c', `${work}/nginx-1.conf`]).pid;
  mkdirSync(path.join(work, 'manifests'));
  chmodSync(path.join(work, 'manifests'), 0o755);
  writeFileSync(path.join(work, 'manifests/app.yaml'), manifests());
  writeFileSync(path.join(work, 'manifests/secret.yaml'), tlsSecretYaml({ name: 'bench-grpc', pair }));
  servers['flusso-1'] = ws.start('flusso-1', process.execPath, [
    'bin/flusso', '--source', 'file', '--manifests', `${work}/manifests`, '--workers', '1', '--http-address', '127.0.0.1', '--http-port', String(ports['flusso-1-http']),
    '--https-address', '127.0.0.1', '--https-port', String(ports['flusso-1']), '--admin-port', String(ports['flusso-1-admin']), '--log-level', 'warn',
  ]).pid;
  const ca = Buffer.from(pki.caPem);
  for (const s of SETUPS) {
    let last = null;
    for (let i = 0; i < 100; i++) {
      try {
        await check(ports[s], ca);
        last = null;
        break;
      } catch (err) {
        last = err;
        await sleep(100);
      }
    }
    if (last !== null) die(`${s}: a unary call through it failed: ${last}\n${readFileSync(ws.logOf(s), 'utf8').slice(-2000)}`);
  }
  const cells = interleavedCells(['unary'], ['100b'], () => SETUPS, REPS);
  const runs = [];
  for (const c of cells) {
    if (c.setup === 'flusso-1') for (let i = 0; i < 100 && !(await flussoHealth(ports['flusso-1-admin']))?.listening; i++) await sleep(100);
    for (const s of SETUPS) pin(tree(servers[s]), '1');
    pin(tree(servers.backend), '0');
    const pids = tree(servers[c.setup]);
    const seconds = c.rep === 0 ? WARMUP : DURATION;
    // Other users' processes on a shared box skew a cell: wait (bounded) for a quiet machine, and say so when it was not.
    const quiet = await waitQuiet({ busyPct: 25, maxS: QUICK ? 2 : 10 });
    const t0 = pids.map((p) => procStat(p)?.ticks ?? NaN);
    let r;
    try {
      r = await h2load(`https://${HOST}:${ports[c.setup]}${METHOD}`, { clients: H2_CLIENTS, streams: STREAMS, seconds, args: ['-d', path.join(work, 'call.bin'), '-H', 'content-type: application/grpc', '-H', 'te: trailers'] });
    } catch (err) {
      r = { rps: 0, requests: 0, errors: NaN, note: String(err).slice(0, 300) };
    }
    const ticks = pids.map((p) => procStat(p)?.ticks ?? NaN).reduce((a, t, k) => a + t - t0[k], 0);
    const run = { setup: c.setup, rep: c.rep, busyBeforePct: quiet.busyPct, ...r, cpuUsPerCall: r.requests > 0 ? (ticks / CLK_TCK / r.requests) * 1e6 : NaN, proxyCpuPct: (ticks / CLK_TCK / seconds) * 100 };
    console.log(`unary ${c.setup.padEnd(9)} ${c.rep === 0 ? 'warm-up' : `rep ${c.rep}`}  ${Math.round(run.rps)} calls/s  ${run.cpuUsPerCall.toFixed(1)} µs/call  proxy ${run.proxyCpuPct.toFixed(0)}%${r.errors ? `  ERRORS ${r.errors}` : ''}${r.note ? `  ${r.note}` : ''}${quiet.busyPct >= 25 ? `  (machine ${quiet.busyPct.toFixed(0)}% busy before: noisy)` : ''}`);
    if (c.rep > 0) runs.push(run);
  }
  const summary = SETUPS.map((setup) => {
    const rs = runs.filter((r) => r.setup === setup);
    return { setup, rps: median(rs.map((r) => r.rps)), meanMs: median(rs.map((r) => r.meanMs)), cpuUsPerCall: median(rs.map((r) => r.cpuUsPerCall)), proxyCpuPct: median(rs.map((r) => r.proxyCpuPct)), errors: rs.reduce((a, r) => a + (Number.isFinite(r.errors) ? r.errors : 1), 0), noisy: rs.filter((r) => r.busyBeforePct >= 25).length };
  });
  const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const n = summary[0];
  let md = `gRPC unary calls (100 B message), pinned (proxy alone on cpu1), ${DURATION} s runs, median of ${REPS}; h2load -c${H2_CLIENTS} -m${STREAMS}\n` +
    `node ${meta.node}, commit ${meta.commit.slice(0, 12)}${meta.dirty ? '+dirty' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}; nginx ${meta.tools.nginx} grpc_pass; @grpc/grpc-js ${meta.tools.grpcJs} backend; h2load ${meta.tools.h2load}\n\n` +
    '| setup | calls/s | mean ms | CPU µs/call (proxy) | proxy CPU % | errors | noisy cells | vs nginx (calls/s) | vs nginx (CPU/call) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  for (const r of summary) md += `| ${r.setup} | ${f(r.rps)} | ${f(r.meanMs, 2)} | ${f(r.cpuUsPerCall, 1)} | ${f(r.proxyCpuPct)} | ${r.errors} | ${r.noisy}/${REPS} | ${f(r.rps / n.rps, 2)} | ${f(n.cpuUsPerCall / r.cpuUsPerCall, 2)} |\n`;
  const out = writeResults(resultStem(meta.startedAt, meta.commit, `-grpc${QUICK ? '-quick' : ''}`), { meta, runs, summary }, md);
  console.log(`\n${md}\nwritten: ${out}.json (+ .md)`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
