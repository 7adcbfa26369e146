#!/usr/bin/env node
/**
 * Slow uploads against Flusso, nginx and HAProxy in the same run (issue 14 item 3): while slow
 * clients hold request bodies open, a probe measures the latency of ordinary requests.
 *
 * Per proxy (2 Flusso workers with the defaults, 128 upstream connections per endpoint each;
 * nginx 2 workers as ingress-nginx renders it: request buffering on, 1m body limit; HAProxy 2
 * threads, keep-alive both sides), four attacks, one after another, each ATTACK_S seconds:
 *
 *   small-bodies  SLOW_CLIENTS connections, each a POST with Content-Length 4096 whose body
 *                 comes one byte every TRICKLE_MS (below every proxy's body buffer)
 *   large-bodies  SLOW_CLIENTS connections, each a POST with Content-Length 512 KiB: 24 KiB at
 *                 once (past a 16 KiB buffer), then one byte every TRICKLE_MS
 *   slowhttptest slow body (-B) and slowloris (-H), SLOW_CLIENTS connections, -i 1 -r 500 -s 8192
 *
 * The probe sends `GET /probe` on a new connection every PROBE_MS (open loop: a stalled proxy
 * makes probes pile up, as users would) from 3 s into the attack to its end, and records p50 /
 * p99 / max and how many failed (no 200 within 10 s). Target for Flusso: probe p99 < 50 ms.
 *
 *   npm run bench:slow-upload
 *   node bench/load/slow-upload.mjs --proxies=flusso --attacks=small-bodies,large-bodies
 *
 * With FLUSSO_BASELINE=<checkout> (built, e.g. a `git worktree` of an older commit), the proxy
 * `flusso-base` runs that checkout's bin/flusso the same way, in the same run.
 *
 * Options: --proxies=LIST (flusso,nginx,haproxy[,flusso-base]), --attacks=LIST (small-bodies,large-bodies,
 * slowhttptest-body,slowloris), --help. Environment: SLOW_CLIENTS (1000), ATTACK_S (15),
 * PROBE_MS (20), TRICKLE_MS (1000), BASE_PORT (18800).
 * Needs: a build (npm run build), nginx, haproxy and slowhttptest (apt-get install nginx-light
 * haproxy slowhttptest). Loopback only; every process it starts is stopped at exit.
 * Output: a Markdown table plus bench/results/<time>-<commit>-slow-upload.{json,md}.
 */
import { fork, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitOnHelp } from './help.mjs';
import { die, gitInfo, machineInfo, nginxCommon, parseArgs, portsFree, requireBuild, requireTools, resultStem, ROOT, safeRead, sleep, toolVersion, Workspace, writeResults } from './lib.mjs';
import { singleBackendManifests } from './manifests.mjs';

exitOnHelp(import.meta.url);
if (process.env.SLOW_UPLOAD_BACKEND !== undefined) await serveBackend(Number(process.env.SLOW_UPLOAD_BACKEND));
else await main();

/** serveBackend is the child process that answers every request once its body is whole. */
async function serveBackend(port) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok\n'));
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.maxConnections = 100_000;
  await new Promise((r) => server.listen(port, '127.0.0.1', 4096, r));
  process.send?.('ready');
  process.on('disconnect', () => process.exit(0));
}

async function main() {
  requireBuild();
  requireTools({ nginx: 'nginx-light', haproxy: 'haproxy', slowhttptest: 'slowhttptest' });
  const args = parseArgs();
  const BASELINE = process.env.FLUSSO_BASELINE;
  const PROXIES = (args.get('proxies') ?? (BASELINE === undefined ? 'flusso,nginx,haproxy' : 'flusso,flusso-base,nginx,haproxy')).split(',');
  const ATTACKS = (args.get('attacks') ?? 'small-bodies,large-bodies,slowhttptest-body,slowloris').split(',');
  const SLOW_CLIENTS = Number(process.env.SLOW_CLIENTS ?? 1000);
  const ATTACK_S = Number(process.env.ATTACK_S ?? 15);
  const PROBE_MS = Number(process.env.PROBE_MS ?? 20);
  const TRICKLE_MS = Number(process.env.TRICKLE_MS ?? 1000);
  const BASE_PORT = Number(process.env.BASE_PORT ?? 18800);
  const KNOWN_ATTACKS = ['small-bodies', 'large-bodies', 'slowhttptest-body', 'slowloris'];
  if (PROXIES.includes('flusso-base') && BASELINE === undefined) die('flusso-base needs FLUSSO_BASELINE=<checkout>');
  if (PROXIES.some((p) => !['flusso', 'flusso-base', 'nginx', 'haproxy'].includes(p)) || ATTACKS.some((a) => !KNOWN_ATTACKS.includes(a))) die('bad --proxies or --attacks (see --help)');
  if (![SLOW_CLIENTS, ATTACK_S, PROBE_MS, TRICKLE_MS].every((n) => Number.isInteger(n) && n > 0) || ATTACK_S < 5) die('SLOW_CLIENTS, PROBE_MS, TRICKLE_MS must be positive integers and ATTACK_S at least 5');

  const ports = { backend: BASE_PORT, flusso: BASE_PORT + 1, admin: BASE_PORT + 2, nginx: BASE_PORT + 3, haproxy: BASE_PORT + 4, 'flusso-base': BASE_PORT + 5, adminBase: BASE_PORT + 6 };
  await portsFree(Object.values(ports));
  const ws = new Workspace('flusso-slow-upload-');
  const self = fileURLToPath(import.meta.url);
  const backend = fork(self, [], { env: { ...process.env, SLOW_UPLOAD_BACKEND: String(ports.backend) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  ws.children.push(backend);
  await new Promise((resolve, reject) => {
    backend.once('message', resolve);
    backend.once('exit', () => reject(new Error('backend exited')));
  });

  /** startProxy starts one proxy and waits until it answers the probe. */
  async function startProxy(name) {
    let child;
    if (name === 'flusso' || name === 'flusso-base') {
      mkdirSync(ws.path('manifests'), { recursive: true });
      writeFileSync(ws.path('manifests/app.yaml'), singleBackendManifests({ port: ports.backend }));
      const root = name === 'flusso' ? ROOT : path.resolve(BASELINE);
      child = ws.start(name, process.execPath, [path.join(root, 'bin/flusso'), '--source', 'file', '--manifests', ws.path('manifests'), '--workers', '2',
        '--http-address', '127.0.0.1', '--http-port', String(ports[name]), '--admin-port', String(name === 'flusso' ? ports.admin : ports.adminBase), '--log-level', 'warn']);
    } else if (name === 'nginx') {
      // ingress-nginx's rendering: client_max_body_size 1m, client_body_buffer_size 8k, request buffering on (nginx's default).
      writeFileSync(ws.path('nginx.conf'), `${nginxCommon(ws.dir, 'nginx', 2).replace('worker_connections 8192', 'worker_connections 16384')}
  upstream backend { server 127.0.0.1:${ports.backend}; keepalive 320; }
  server { listen 127.0.0.1:${ports.nginx} reuseport; client_max_body_size 1m; client_body_buffer_size 8k; client_body_timeout 60s;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $http_host; } } }
`);
      child = ws.start('nginx', 'nginx', ['-p', ws.dir, '-e', ws.path('nginx.err'), '-c', ws.path('nginx.conf')]);
    } else {
      writeFileSync(ws.path('haproxy.cfg'), `global
  nbthread 2
  maxconn 9000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-request 60s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend fe
  bind 127.0.0.1:${ports.haproxy}
  default_backend be
backend be
  server s1 127.0.0.1:${ports.backend}
`);
      child = ws.start('haproxy', 'haproxy', ['-db', '-f', ws.path('haproxy.cfg')]);
    }
    for (let i = 0; i < 200; i++) {
      if ((await probeOnce(ports[name])).ok) return child;
      await sleep(50);
    }
    die(`${name} does not answer; log:\n${safeRead(ws.logOf(name))}`);
  }

  /** probeOnce sends GET /probe on a new connection: { ok, ms }. */
  function probeOnce(port) {
    return new Promise((resolve) => {
      const t = performance.now();
      const req = http.get({ host: '127.0.0.1', port, path: '/probe', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ ok: res.statusCode === 200, ms: performance.now() - t }));
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve({ ok: false, ms: performance.now() - t }));
    });
  }

  /** startProbe runs probes every PROBE_MS until stopped; returns { stop(): Promise<samples> }. */
  function startProbe(port) {
    const samples = [];
    const pending = new Set();
    const timer = setInterval(() => {
      const p = probeOnce(port).then((r) => {
        samples.push(r);
        pending.delete(p);
      });
      pending.add(p);
    }, PROBE_MS);
    return {
      async stop() {
        clearInterval(timer);
        await Promise.all(pending);
        return samples;
      },
    };
  }

  /** slowClients opens SLOW_CLIENTS connections over 2 s, each a POST whose body trickles; returns stop(). */
  function slowClients(port, contentLength, firstBytes) {
    const sockets = new Set();
    let closedByProxy = 0;
    let stopped = false;
    const timers = [];
    for (let i = 0; i < SLOW_CLIENTS; i++) {
      timers.push(
        setTimeout(() => {
          if (stopped) return;
          const s = net.connect(port, '127.0.0.1');
          sockets.add(s);
          let sent = 0;
          s.on('connect', () => {
            s.write(`POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Type: application/octet-stream\r\nContent-Length: ${contentLength}\r\n\r\n`);
            if (firstBytes > 0) s.write(Buffer.alloc(firstBytes, 'a'));
            sent = firstBytes;
            const t = setInterval(() => {
              if (sent >= contentLength - 1 || s.destroyed) return clearInterval(t); // never finish
              s.write('a');
              sent++;
            }, TRICKLE_MS);
            timers.push(t);
          });
          s.on('data', () => {});
          s.on('error', () => {});
          s.on('close', () => {
            if (!stopped) closedByProxy++;
            sockets.delete(s);
          });
        }, (i * 2000) / SLOW_CLIENTS),
      );
    }
    return () => {
      stopped = true;
      for (const t of timers) {
        clearTimeout(t);
        clearInterval(t);
      }
      const open = sockets.size;
      for (const s of sockets) s.destroy();
      return { open, closedByProxy };
    };
  }

  /** runSlowhttptest starts slowhttptest for ATTACK_S seconds against port; returns stop(). */
  function runSlowhttptest(port, mode) {
    const argv = [mode === 'slowloris' ? '-H' : '-B', '-c', String(SLOW_CLIENTS), '-i', '1', '-r', '500', '-s', '8192', '-t', mode === 'slowloris' ? 'GET' : 'POST',
      '-u', `http://127.0.0.1:${port}/upload`, '-x', '10', '-p', '3', '-l', String(ATTACK_S + 2)];
    const out = [];
    const child = spawn('slowhttptest', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    ws.children.push(child);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => out.push(d));
    const exited = new Promise((r) => child.once('exit', r));
    return async () => {
      child.expectedExit = true;
      child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
      const text = Buffer.concat(out).toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
      const last = (re) => [...text.matchAll(re)].at(-1)?.[1];
      return { command: `slowhttptest ${argv.join(' ')}`, connected: Number(last(/connected:\s+(\d+)/g) ?? NaN), closed: Number(last(/closed:\s+(\d+)/g) ?? NaN), pending: Number(last(/pending:\s+(\d+)/g) ?? NaN), serviceAvailable: last(/service available:\s+(\w+)/g) ?? '?' };
    };
  }

  const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))];
  const results = [];
  for (const name of PROXIES) {
    const child = await startProxy(name);
    const port = ports[name];
    for (const attack of ATTACKS) {
      const baseline = [];
      for (let i = 0; i < 50; i++) baseline.push(await probeOnce(port));
      const stopAttack =
        attack === 'small-bodies' ? slowClients(port, 4096, 0)
          : attack === 'large-bodies' ? slowClients(port, 512 * 1024, 24 * 1024)
            : runSlowhttptest(port, attack === 'slowloris' ? 'slowloris' : 'body');
      await sleep(3000);
      const probe = startProbe(port);
      await sleep((ATTACK_S - 3) * 1000);
      const samples = await probe.stop();
      const attackInfo = await stopAttack();
      const ok = samples.filter((s) => s.ok).map((s) => s.ms).sort((a, b) => a - b);
      const base = baseline.filter((s) => s.ok).map((s) => s.ms).sort((a, b) => a - b);
      const row = {
        proxy: name, attack, probes: samples.length, failed: samples.length - ok.length,
        p50Ms: pct(ok, 0.5), p99Ms: pct(ok, 0.99), maxMs: ok.at(-1), baselineP99Ms: pct(base, 0.99), attackInfo,
      };
      results.push(row);
      console.log(`${name} ${attack}: probe p50 ${row.p50Ms?.toFixed(1)} ms, p99 ${row.p99Ms?.toFixed(1)} ms, max ${row.maxMs?.toFixed(1)} ms, ${row.failed}/${row.probes} failed; idle p99 ${row.baselineP99Ms?.toFixed(1)} ms; ${JSON.stringify(attackInfo)}`);
      await sleep(2000); // the proxy closes what the attack left
    }
    await ws.stop(child);
  }
  backend.disconnect();

  const git = gitInfo();
  const f = (x) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(1));
  const info = (r) => ('open' in r.attackInfo ? `${r.attackInfo.open} open at the end, ${r.attackInfo.closedByProxy} closed by the proxy` : `slowhttptest: ${r.attackInfo.connected} connected, ${r.attackInfo.closed} closed, service available ${r.attackInfo.serviceAvailable}`);
  const md = [
    `Slow uploads, ${SLOW_CLIENTS} slow clients, ${ATTACK_S} s per attack, probe every ${PROBE_MS} ms on a new connection (commit ${git.commit.slice(0, 8)}${git.dirty ? '+dirty' : ''}, Node ${process.version}, nginx ${toolVersion('nginx', ['-v'], /nginx\/(\S+)/)}, HAProxy ${toolVersion('haproxy', ['-v'], /version ([\d.]+)/)}, 2 workers / threads each)`,
    '',
    '| proxy | attack | probe p50 / p99 / max ms | probes failed | idle p99 ms | attack at the end |',
    '|---|---|---:|---:|---:|---|',
    ...results.map((r) => `| ${r.proxy} | ${r.attack} | ${f(r.p50Ms)} / ${f(r.p99Ms)} / ${f(r.maxMs)} | ${r.failed}/${r.probes} | ${f(r.baselineP99Ms)} | ${info(r)} |`),
    '',
    ...[...new Set(results.filter((r) => 'command' in r.attackInfo).map((r) => `\`${r.attackInfo.command.replace(/:\d+\//, ':PORT/')}\``))],
  ].join('\n');
  console.log(`\n${md}`);
  const startedAt = new Date().toISOString();
  writeResults(resultStem(startedAt, git.commit, '-slow-upload'), { startedAt, git, machine: machineInfo(), settings: { SLOW_CLIENTS, ATTACK_S, PROBE_MS, TRICKLE_MS }, results }, md);
  process.exit(0);
}
