#!/usr/bin/env node
/**
 * Timeouts on time (issue 14 item 7): how long after a request's last byte the 504 of
 * `--upstream-response-timeout` comes, against nginx's `proxy_read_timeout` in the same run.
 * The backend accepts, reads the request and never answers. SAMPLES requests per setting, one
 * after another on new connections, idle proxy; then the same with LOAD_CONNECTIONS requests
 * hanging at once (many deadlines armed together).
 *
 * Reported per proxy and setting: the time from the request's last byte to the 504, min /
 * median / p99 / max, and the worst lateness as a percentage of the setting (target: within 5 %);
 * and, at the backend, from the request's arrival to the proxy closing that connection (the
 * timer alone, without the proxy's accepting, reading and forwarding).
 *
 *   npm run bench:timeouts
 *   node bench/load/timeouts.mjs --timeouts=1s,3s --samples=10
 *
 * Options: --timeouts=LIST (default 1s,3s), --samples=N (default 8), --help.
 * Environment: LOAD_CONNECTIONS (default 200), BASE_PORT (default 18780).
 * Needs: a build (npm run build) and nginx (/usr/sbin/nginx). Loopback only.
 * Output: a Markdown table plus bench/results/<time>-<commit>-timeouts.{json,md}.
 */
import net from 'node:net';
import path from 'node:path';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { exitOnHelp } from './help.mjs';
import { die, gitInfo, machineInfo, median, nginxCommon, parseArgs, portsFree, requireBuild, resultStem, ROOT, safeRead, sleep, toolVersion, which, Workspace, writeResults } from './lib.mjs';
import { singleBackendManifests } from './manifests.mjs';

exitOnHelp(import.meta.url);
requireBuild();
const args = parseArgs();
const SETTINGS = (args.get('timeouts') ?? '1s,3s').split(',').map((t) => ({ text: t, ms: parseDuration(t) }));
const SAMPLES = Number(args.get('samples') ?? 8);
const LOAD = Number(process.env.LOAD_CONNECTIONS ?? 200);
const BASE_PORT = Number(process.env.BASE_PORT ?? 18780);
if (SETTINGS.some((s) => !(s.ms > 0)) || !Number.isInteger(SAMPLES) || SAMPLES < 1 || !Number.isInteger(LOAD) || LOAD < 1) die('bad --timeouts, --samples or LOAD_CONNECTIONS (see --help)');
const NGINX = which('nginx') || (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : '');
if (NGINX === '') die('nginx not found (apt-get install nginx-light)');

function parseDuration(t) {
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(t);
  return m === null ? NaN : Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

const HOST = 'timeout.test';
const backendPort = BASE_PORT;
await portsFree([BASE_PORT, BASE_PORT + 1, BASE_PORT + 2, BASE_PORT + 3]);
const ws = new Workspace('flusso-timeouts-');

// The backend reads requests and never answers; it closes what the proxy closes.
// Each connection's time from the request's arrival to the proxy's close is the timer alone,
// without the proxy's front side (accepting, reading and forwarding the request).
const hanging = new Set();
let upstreamSide = [];
const backend = net.createServer((s) => {
  hanging.add(s);
  let at = 0;
  s.on('data', () => {
    if (at === 0) at = performance.now();
  });
  s.on('close', () => {
    hanging.delete(s);
    if (at !== 0) upstreamSide.push(performance.now() - at);
  });
  s.on('error', () => {});
});
await new Promise((r) => backend.listen(backendPort, '127.0.0.1', r));

/** once sends one GET on a new connection and resolves { status, ms } from its last byte to the response head. */
function once(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let t0 = 0;
    let buf = '';
    c.setNoDelay(true);
    c.on('connect', () => c.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`, () => (t0 = performance.now())));
    c.on('data', (d) => {
      if (buf === '') {
        const ms = performance.now() - t0;
        buf = d.toString('latin1');
        resolve({ status: Number(buf.slice(9, 12)), ms });
        c.destroy();
      }
    });
    c.on('error', () => resolve({ status: 0, ms: NaN }));
    c.on('close', () => resolve({ status: 0, ms: NaN }));
  });
}

const results = [];
for (const setting of SETTINGS) {
  const port = { flusso: BASE_PORT + 1, nginx: BASE_PORT + 3 };
  mkdirSync(ws.path(`m-${setting.text}`), { recursive: true });
  writeFileSync(ws.path(`m-${setting.text}/app.yaml`), singleBackendManifests({ port: backendPort, host: HOST }));
  const flusso = ws.start(`flusso-${setting.text}`, process.execPath, [path.join(ROOT, 'bin/flusso'), '--source', 'file', '--manifests', ws.path(`m-${setting.text}`),
    '--workers', '2', '--http-address', '127.0.0.1', '--http-port', String(port.flusso), '--admin-port', String(BASE_PORT + 2), '--admin-public-read', 'true',
    '--upstream-response-timeout', setting.text, '--log-level', 'error']);
  writeFileSync(ws.path(`nginx-${setting.text}.conf`), `${nginxCommon(ws.dir, `nginx-${setting.text}`, 2)}
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port.nginx} reuseport;
    location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_read_timeout ${setting.ms}ms; proxy_pass http://backend; }
  }
}
`);
  const nginx = ws.start(`nginx-${setting.text}`, NGINX, ['-p', ws.dir, '-e', ws.path(`nginx-${setting.text}.err`), '-c', ws.path(`nginx-${setting.text}.conf`)]);
  for (let i = 0; ; i++) {
    const ready = await fetch(`http://127.0.0.1:${BASE_PORT + 2}/readyz`).then((r) => r.status === 200, () => false);
    const up = await new Promise((r) => net.connect(port.nginx, '127.0.0.1').on('connect', function () { this.destroy(); r(true); }).on('error', () => r(false)));
    if (ready && up) break;
    if (i > 200) die(`proxies did not start; flusso log:\n${safeRead(ws.logOf(`flusso-${setting.text}`))}`);
    await sleep(50);
  }
  for (const [name, p] of Object.entries(port)) {
    const idle = [];
    upstreamSide = [];
    for (let i = 0; i < SAMPLES; i++) idle.push(await once(p));
    await sleep(200); // the proxy's closes of its upstream connections arrive
    const idleUpstream = upstreamSide;
    upstreamSide = [];
    const loaded = await Promise.all(Array.from({ length: LOAD }, () => once(p)));
    await sleep(200);
    const loadedUpstream = upstreamSide;
    for (const [mode, samples, upstream] of [['one at a time', idle, idleUpstream], [`${LOAD} at once`, loaded, loadedUpstream]]) {
      const ms = samples.filter((s) => s.status === 504).map((s) => s.ms).sort((a, b) => a - b);
      const row = {
        proxy: name, setting: setting.text, settingMs: setting.ms, mode, answered504: ms.length, requests: samples.length,
        minMs: ms[0], medianMs: median(ms), p99Ms: ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))], maxMs: ms.at(-1),
      };
      row.worstLatePct = ((row.maxMs - setting.ms) / setting.ms) * 100;
      const up = upstream.sort((a, b) => a - b);
      row.upstreamMedianMs = median(up);
      row.upstreamMaxMs = up.at(-1);
      row.upstreamWorstLatePct = ((row.upstreamMaxMs - setting.ms) / setting.ms) * 100;
      results.push(row);
      console.log(`${name} ${setting.text} ${mode}: ${row.answered504}/${row.requests} 504, median ${row.medianMs?.toFixed(0)} ms, max ${row.maxMs?.toFixed(0)} ms (${row.worstLatePct.toFixed(1)} % late); upstream side max ${row.upstreamMaxMs?.toFixed(0)} ms`);
    }
  }
  await ws.stop(flusso);
  await ws.stop(nginx);
}
backend.close();
for (const s of hanging) s.destroy();

const git = gitInfo();
const f = (x) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(0));
const md = [
  `Response timeout: request's last byte → 504 (commit ${git.commit.slice(0, 8)}, Node ${process.version}, nginx ${toolVersion(NGINX, ['-v'], /nginx\/(\S+)/)}, 2 workers each)`,
  '',
  '| proxy | setting | requests | 504s | client: last byte → 504, min / median / p99 / max ms | worst lateness | backend: request → close, median / max ms | worst lateness |',
  '|---|---|---|---:|---:|---:|---:|---:|',
  ...results.map((r) => `| ${r.proxy} | ${r.setting} | ${r.mode} | ${r.answered504}/${r.requests} | ${f(r.minMs)} / ${f(r.medianMs)} / ${f(r.p99Ms)} / ${f(r.maxMs)} | ${r.worstLatePct.toFixed(1)} % | ${f(r.upstreamMedianMs)} / ${f(r.upstreamMaxMs)} | ${r.upstreamWorstLatePct.toFixed(1)} % |`),
].join('\n');
console.log(`\n${md}`);
const startedAt = new Date().toISOString();
writeResults(resultStem(startedAt, git.commit, '-timeouts'), { startedAt, git, machine: machineInfo(), results }, md);
process.exit(0);
