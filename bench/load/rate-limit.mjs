#!/usr/bin/env node
/**
 * Pod-wide rate limits (issue 15 item 7, docs/rate-limits.md): an Ingress with
 * `nginx.ingress.kubernetes.io/limit-rps: "100"` (burst multiplier 1), driven by one client
 * address at a constant rate well above the limit, with 1, 2 and 4 workers. Target: the pod
 * lets through 100 rps ± 10 %, whatever the number of workers. nginx runs the same limit in the
 * same run (`limit_req zone=... rate=100r/s burst=100 nodelay`, as ingress-nginx renders it,
 * with as many worker processes) for reference.
 *
 * The client is open-loop: it starts requests on a fixed schedule (OFFERED rps) over
 * CONNECTIONS keep-alive connections, whatever the answers, so the connections spread over the
 * workers. After WARMUP seconds (the burst is spent), the 200s and 503s of the next SECONDS
 * seconds are counted; the achieved rate is 200s / SECONDS.
 *
 *   npm run bench:rate-limit        (under flock /tmp/flusso-bench.lock)
 *   node bench/load/rate-limit.mjs --workers=1,2,4 --offered=400 --seconds=5
 *
 * Options: --workers=LIST (default 1,2,4), --limit=RPS (default 100), --offered=RPS (default 400),
 * --connections=N (default 16), --warmup=S (default 2), --seconds=S (default 5), --no-nginx, --help.
 * Environment: BASE_PORT (default 18880).
 * Needs: a build (npm run build); nginx (/usr/sbin/nginx) unless --no-nginx. Loopback only.
 * Output: a Markdown table plus bench/results/<time>-<commit>-rate-limit.{json,md}.
 */
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { exitOnHelp } from './help.mjs';
import { die, gitInfo, machineInfo, nginxCommon, parseArgs, portsFree, requireBuild, resultStem, ROOT, safeRead, sleep, toolVersion, which, Workspace, writeResults } from './lib.mjs';
import { singleBackendManifests } from './manifests.mjs';

exitOnHelp(import.meta.url);
requireBuild();
const args = parseArgs();
const WORKERS = (args.get('workers') ?? '1,2,4').split(',').map(Number);
const LIMIT = Number(args.get('limit') ?? 100);
const OFFERED = Number(args.get('offered') ?? 400);
const CONNECTIONS = Number(args.get('connections') ?? 16);
const WARMUP_S = Number(args.get('warmup') ?? 2);
const SECONDS = Number(args.get('seconds') ?? 5);
const WITH_NGINX = !args.has('no-nginx');
const BASE_PORT = Number(process.env.BASE_PORT ?? 18880);
for (const [name, v] of [['limit', LIMIT], ['offered', OFFERED], ['connections', CONNECTIONS], ['seconds', SECONDS]]) if (!Number.isInteger(v) || v < 1) die(`bad --${name} (see --help)`);
if (!(WARMUP_S >= 0) || WORKERS.some((w) => !Number.isInteger(w) || w < 1 || w > 64)) die('bad --warmup or --workers (see --help)');
if (OFFERED <= LIMIT) die('--offered must be above --limit: the bench measures what the limit lets through');
const NGINX = which('nginx') || (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : '');
if (WITH_NGINX && NGINX === '') die('nginx not found (apt-get install nginx-light), or pass --no-nginx');

const HOST = 'limited.test';
const backendPort = BASE_PORT;
const ports = { flusso: BASE_PORT + 1, admin: BASE_PORT + 2, nginx: BASE_PORT + 3 };
await portsFree(Object.values(ports).concat(backendPort));
const ws = new Workspace('flusso-rate-limit-');

const backend = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('ok'));
});
backend.keepAliveTimeout = 60_000;
await new Promise((r) => backend.listen(backendPort, '127.0.0.1', r));

/**
 * drive offers OFFERED rps to `port` for WARMUP_S + SECONDS seconds and counts the answers of
 * the measured window by status. A request not answered by the end counts as lost.
 */
async function drive(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const counts = new Map();
  let started = 0;
  let lost = 0;
  const t0 = performance.now();
  const from = t0 + WARMUP_S * 1000;
  const until = from + SECONDS * 1000;
  const pending = new Set();
  await new Promise((done) => {
    const tick = setInterval(() => {
      const now = performance.now();
      const due = Math.floor(((Math.min(now, until) - t0) * OFFERED) / 1000);
      for (; started < due; started++) {
        const at = t0 + (started * 1000) / OFFERED;
        const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { Host: HOST }, agent }, (res) => {
          res.resume();
          res.on('end', () => {
            pending.delete(req);
            if (at >= from && at < until) counts.set(res.statusCode, (counts.get(res.statusCode) ?? 0) + 1);
          });
        });
        pending.add(req);
        req.on('error', () => {
          pending.delete(req);
          if (at >= from && at < until) lost++;
        });
      }
      if (now >= until) {
        clearInterval(tick);
        done();
      }
    }, 1);
  });
  // The last answers arrive; anything still open after 2 s is lost.
  for (let i = 0; i < 40 && pending.size > 0; i++) await sleep(50);
  lost += pending.size;
  for (const r of pending) r.destroy();
  agent.destroy();
  const ok = counts.get(200) ?? 0;
  return { offeredRps: OFFERED, sent: started, ok, limited: (counts.get(503) ?? 0) + (counts.get(429) ?? 0), other: [...counts].filter(([s]) => s !== 200 && s !== 503 && s !== 429), lost, achievedRps: ok / SECONDS };
}

async function waitPort(port, name, logFile) {
  for (let i = 0; i < 400; i++) {
    const up = await new Promise((r) => net.connect(port, '127.0.0.1').on('connect', function () { this.destroy(); r(true); }).on('error', () => r(false)));
    if (up) return;
    await sleep(50);
  }
  die(`${name} did not start; log:\n${safeRead(logFile)}`);
}

const results = [];
for (const workers of WORKERS) {
  const dir = ws.path(`m-${workers}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'app.yaml'), singleBackendManifests({ port: backendPort, host: HOST, annotations: { 'nginx.ingress.kubernetes.io/limit-rps': String(LIMIT), 'nginx.ingress.kubernetes.io/limit-burst-multiplier': '1' } }));
  const name = `flusso-${workers}`;
  const flusso = ws.start(name, process.execPath, [path.join(ROOT, 'bin/flusso'), '--source', 'file', '--manifests', dir, '--workers', String(workers),
    '--http-address', '127.0.0.1', '--http-port', String(ports.flusso), '--admin-port', String(ports.admin), '--log-level', 'error']);
  for (let i = 0; ; i++) {
    if (await fetch(`http://127.0.0.1:${ports.admin}/readyz`).then((r) => r.status === 200, () => false)) break;
    if (i > 400) die(`flusso did not start; log:\n${safeRead(ws.logOf(name))}`);
    await sleep(50);
  }
  const row = { proxy: 'flusso', workers, ...(await drive(ports.flusso)) };
  results.push(row);
  console.log(`flusso ${workers} worker(s): ${row.achievedRps.toFixed(1)} rps let through of ${OFFERED} offered (${row.ok} × 200, ${row.limited} limited, ${row.lost} lost)`);
  await ws.stop(flusso);

  if (WITH_NGINX) {
    const conf = ws.path(`nginx-${workers}.conf`);
    writeFileSync(conf, `${nginxCommon(ws.dir, `nginx-${workers}`, workers)}
  limit_req_zone $binary_remote_addr zone=bench:5m rate=${LIMIT}r/s;
  limit_req_status 503;
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${ports.nginx} reuseport;
    location / { limit_req zone=bench burst=${LIMIT} nodelay; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://backend; }
  }
}
`);
    const nginx = ws.start(`nginx-${workers}`, NGINX, ['-p', ws.dir, '-e', ws.path(`nginx-${workers}.err`), '-c', conf]);
    await waitPort(ports.nginx, 'nginx', ws.path(`nginx-${workers}.err`));
    const n = { proxy: 'nginx', workers, ...(await drive(ports.nginx)) };
    results.push(n);
    console.log(`nginx ${workers} worker(s): ${n.achievedRps.toFixed(1)} rps let through of ${OFFERED} offered (${n.ok} × 200, ${n.limited} limited, ${n.lost} lost)`);
    await ws.stop(nginx);
  }
}
backend.close();

const git = gitInfo();
const within = (r) => Math.abs(r.achievedRps - LIMIT) <= LIMIT * 0.1;
const md = [
  `Rate limit ${LIMIT} rps (burst multiplier 1), one client at ${OFFERED} rps over ${CONNECTIONS} keep-alive connections, counted over ${SECONDS} s after ${WARMUP_S} s (commit ${git.commit.slice(0, 8)}, Node ${process.version}${WITH_NGINX ? `, nginx ${toolVersion(NGINX, ['-v'], /nginx\/(\S+)/)}` : ''})`,
  '',
  '| proxy | workers | let through (rps) | within ±10 % | 200 | limited | lost |',
  '|---|---:|---:|---|---:|---:|---:|',
  ...results.map((r) => `| ${r.proxy} | ${r.workers} | ${r.achievedRps.toFixed(1)} | ${within(r) ? 'yes' : 'NO'} | ${r.ok} | ${r.limited} | ${r.lost} |`),
  '',
].join('\n');
console.log(`\n${md}`);
const stem = writeResults(resultStem(new Date().toISOString(), git.commit, '-rate-limit'), { git, machine: machineInfo(), limit: LIMIT, offered: OFFERED, connections: CONNECTIONS, warmupS: WARMUP_S, seconds: SECONDS, results }, md);
console.log(`results: ${stem}.{json,md}`);
process.exit(results.filter((r) => r.proxy === 'flusso').every(within) ? 0 : 1);
