#!/usr/bin/env node
/**
 * WebSocket load benchmark (issue #12): messages per second and round-trip p50/p99 through
 * Flusso and through nginx configured as ingress-nginx proxies a WebSocket (proxy_http_version
 * 1.1, `Upgrade` and `Connection` set from the request, proxy_read_timeout and
 * proxy_send_timeout 60 s, proxy_buffering off), in the same run, same backend.
 *
 *   npm run bench:websocket                  # full run: about 1.5 minutes on a quiet 2-core box
 *   npm run bench:websocket -- --quick       # under a minute: 1 repetition, 3 s runs
 *   DURATION=10 REPS=5 CONNECTIONS=50 SIZE=1024 THREADS=2 npm run bench:websocket
 *   flock /tmp/flusso-bench.lock npm run bench:websocket   # as every bench: one at a time per box
 *
 * Load: CONNECTIONS (50) WebSockets, each a closed loop of one message of SIZE (1 KiB) binary
 * bytes in flight: send, wait for the echo, check it (length and sequence number), send the
 * next. The round trip of each message is its latency (client → proxy → backend → proxy →
 * client). The client is this script: `ws` clients spread over THREADS (2) worker_threads.
 * The backend is a uWebSockets.js echo server (C++; this script run with --echo-backend), so
 * neither it nor the client is slower than the proxy per message; the output gives the CPU of
 * each so that can be checked.
 *
 * Pinned as bench/load/run.mjs and bench/load/tls.mjs: each proxy (its whole process tree) alone
 * on cpu1; the client threads and the backend on cpu0. Flusso runs with one worker (--workers 1),
 * nginx with one worker process. Cells interleaved (repetition → setup, the order reversed every
 * other repetition), an unrecorded warm-up per setup, medians of REPS; each cell first waits
 * (bounded) for a quiet machine. CPU per message is the utime+stime delta (/proc/<pid>/stat) of
 * the proxy's tree over the measured window divided by the messages echoed (one message each
 * way per round trip counts once).
 *
 * Needs nginx and taskset (Debian: nginx-light util-linux; --install) and a build (npm run build).
 * Output: bench/results/<time>-<commit>-websocket.json and .md.
 */
import { writeFileSync, mkdirSync, chmodSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const SELF = fileURLToPath(import.meta.url);

const USAGE = `usage: node bench/load/websocket.mjs [--quick] [--setups=LIST] [--install] [--help]
       npm run bench:websocket [-- --quick]

WebSocket proxy load bench (issue #12): messages/s, round-trip p50/p99 and proxy CPU per message,
Flusso vs nginx configured as ingress-nginx, same uWS echo backend, same run, pinned (proxy on
cpu1; the ws client threads and the backend on cpu0).

  --quick          1 repetition, 3 s runs
  --setups=LIST    nginx-1,flusso-1 (default: both)
  --install        apt-get install nginx-light util-linux when missing
  --echo-backend=PORT   (internal) run the uWS echo backend on 127.0.0.1:PORT

environment (defaults): DURATION (5, --quick 3), WARMUP (2), REPS (3, --quick 1), CONNECTIONS (50),
  SIZE (1024 bytes), THREADS (2 client worker_threads), BASE_PORT (18580)
Run it under \`flock /tmp/flusso-bench.lock\` on a shared machine.
Results in bench/results/*-websocket.{json,md}.
`;

if (!isMainThread) clientThread();
else if (process.argv.some((a) => a.startsWith('--echo-backend'))) await echoBackend();
else await main();

// --- the echo backend (its own process) -------------------------------------------------------

async function echoBackend() {
  const port = Number(process.argv.find((a) => a.startsWith('--echo-backend=')).split('=')[1]);
  const { loadUws } = await import('../../dist/shared/uws-native.js');
  const uWS = loadUws();
  uWS
    .App()
    .ws('/*', {
      compression: uWS.DISABLED,
      maxPayloadLength: 16 * 1024 * 1024,
      idleTimeout: 0,
      message: (ws, message, isBinary) => {
        ws.send(message, isBinary);
      },
    })
    .get('/healthz', (res) => res.end('ok'))
    .listen('127.0.0.1', port, (token) => {
      if (!token) {
        console.error(`echo backend: cannot listen on ${port}`);
        process.exit(1);
      }
      console.log(`echo backend on ${port}`);
    });
}

// --- a client thread ----------------------------------------------------------------------------

function clientThread() {
  const WebSocket = createRequire(import.meta.url)('ws');
  const { size } = workerData;
  let sockets = [];
  let running = false;
  let count = 0;
  let errors = 0;
  let closes = 0;
  let lat = new Float64Array(1 << 16);
  let inFlight = 0;
  let idle = null;

  function record(ms) {
    if (count === lat.length) {
      const bigger = new Float64Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[count++] = ms;
  }

  function sendNext(s) {
    s.seq++;
    s.payload.writeUInt32BE(s.seq, 0);
    s.sentAt = performance.now();
    inFlight++;
    s.ws.send(s.payload, { binary: true, compress: false });
  }

  parentPort.on('message', (m) => {
    if (m.type === 'open') {
      let opened = 0;
      let failed = 0;
      for (let i = 0; i < m.conns; i++) {
        const ws = new WebSocket(m.url, { headers: { host: m.host }, perMessageDeflate: false });
        const s = { ws, seq: 0, sentAt: 0, payload: Buffer.alloc(size, 0x61) };
        sockets.push(s);
        ws.on('message', (data) => {
          inFlight--;
          const ms = performance.now() - s.sentAt;
          if (data.length !== size || data.readUInt32BE(0) !== s.seq) errors++;
          if (running) {
            record(ms);
            sendNext(s);
          } else if (inFlight === 0 && idle !== null) idle();
        });
        ws.on('close', () => {
          if (running) closes++;
        });
        ws.once('open', () => {
          if (++opened + failed === m.conns) parentPort.postMessage({ type: 'opened', opened, failed });
        });
        ws.once('error', () => {
          if (ws.readyState !== WebSocket.OPEN && opened + ++failed === m.conns) parentPort.postMessage({ type: 'opened', opened, failed });
        });
      }
    } else if (m.type === 'run') {
      count = errors = closes = 0;
      running = true;
      for (const s of sockets) if (s.ws.readyState === WebSocket.OPEN) sendNext(s);
      setTimeout(() => {
        running = false;
        const done = () => {
          idle = null;
          const out = lat.slice(0, count);
          parentPort.postMessage({ type: 'done', count, errors, closes, lat: out }, [out.buffer]);
        };
        if (inFlight === 0) done();
        else {
          idle = done;
          setTimeout(() => idle?.(), 2000); // an echo that never comes does not hang the bench
        }
      }, m.ms);
    } else if (m.type === 'close') {
      for (const s of sockets) s.ws.terminate();
      sockets = [];
      inFlight = 0;
      parentPort.postMessage({ type: 'closed' });
    }
  });
}

// --- the bench ----------------------------------------------------------------------------------

async function main() {
  const lib = await import('./lib.mjs');
  const { CLK_TCK, NCPU, ROOT, Workspace, die, fmtTime, gitInfo, interleavedCells, machineInfo, machineTicks, median, nginxCommon, parseArgs, pin, portsFree, procStat, requireBuild, requireTools, resultStem, sleep, toolVersion, tree, waitQuiet, writeResults } = lib;
  const { singleBackendManifests } = await import('./manifests.mjs');
  const { flussoHealth } = await import('./tls-lib.mjs');

  const args = parseArgs();
  if (args.has('help')) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const QUICK = args.has('quick');
  const DURATION = Number(process.env.DURATION ?? (QUICK ? 3 : 5));
  const WARMUP = Number(process.env.WARMUP ?? 2);
  const REPS = Number(process.env.REPS ?? (QUICK ? 1 : 3));
  const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
  const SIZE = Number(process.env.SIZE ?? 1024);
  const THREADS = Math.max(1, Number(process.env.THREADS ?? 2));
  const BASE_PORT = Number(process.env.BASE_PORT ?? 18580);
  const HOST = 'ws.bench.test';
  if (NCPU < 2) die('needs 2 cores: the proxy pinned alone on cpu1, the clients and the backend on cpu0');
  if (SIZE < 8) die('SIZE must be at least 8 bytes (a sequence number rides in each message)');
  const SETUPS = ['nginx-1', 'flusso-1'].filter((s) => !args.has('setups') || args.get('setups').split(',').includes(s));
  const isFlusso = (s) => s.startsWith('flusso');

  requireTools({ nginx: 'nginx-light', taskset: 'util-linux' }, { install: args.has('install') });
  requireBuild();

  const ws = new Workspace('flusso-bench-ws-');
  const work = ws.dir;
  const ports = { backend: BASE_PORT };
  let nextPort = BASE_PORT + 1;
  const portOf = (name) => (ports[name] ??= nextPort++);
  for (const s of SETUPS) {
    portOf(s);
    if (isFlusso(s)) (portOf(`${s}-https`), portOf(`${s}-admin`));
  }
  await portsFree(Object.values(ports));

  // Servers.
  const servers = {};
  servers.backend = ws.start('backend', process.execPath, [SELF, `--echo-backend=${ports.backend}`]).pid;
  mkdirSync(path.join(work, 'manifests'));
  chmodSync(path.join(work, 'manifests'), 0o755);
  writeFileSync(path.join(work, 'manifests/app.yaml'), singleBackendManifests({ port: ports.backend, host: HOST }));
  for (const s of SETUPS) {
    if (isFlusso(s)) {
      servers[s] = ws.start(s, process.execPath, [
        'bin/flusso', '--source', 'file', '--manifests', `${work}/manifests`, '--workers', '1',
        '--http-address', '127.0.0.1', '--http-port', String(portOf(s)), '--https-address', '127.0.0.1', '--https-port', String(portOf(`${s}-https`)),
        '--admin-port', String(portOf(`${s}-admin`)), '--websocket-idle-timeout', '60s', '--log-level', 'warn',
      ]).pid;
    } else {
      // As ingress-nginx renders a location: the Connection map, HTTP/1.1 upstream, the
      // forwarded fields, proxy_read/send_timeout 60 s (the WebSocket idle timeout), buffering off.
      writeFileSync(path.join(work, `${s}.conf`), `${nginxCommon(work, s, 1)}
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream backend { server 127.0.0.1:${ports.backend}; keepalive 320; }
  server {
    listen 127.0.0.1:${portOf(s)} reuseport;
    server_name ${HOST};
    location / {
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Request-ID $request_id;
      proxy_connect_timeout 5s;
      proxy_read_timeout 60s;
      proxy_send_timeout 60s;
      proxy_buffering off;
      proxy_request_buffering on;
      proxy_pass http://backend;
    }
  }
}
`);
      servers[s] = ws.start(s, 'nginx', ['-p', work, '-e', `${work}/${s}.err`, '-c', `${work}/${s}.conf`]).pid;
    }
  }

  // The client threads, on cpu0 with this process (threads inherit the mask of their creator).
  pin([process.pid], '0');
  const threads = [];
  for (let t = 0; t < THREADS; t++) {
    const w = new Worker(SELF, { workerData: { size: SIZE } });
    w.unref();
    threads.push(w);
  }
  const ask = (w, msg, reply) =>
    new Promise((resolve, reject) => {
      const onError = (err) => (w.off('message', onMessage), reject(err));
      const onMessage = (m) => {
        if (m.type === reply) (w.off('message', onMessage), w.off('error', onError), resolve(m));
      };
      w.on('message', onMessage);
      w.once('error', onError);
      w.postMessage(msg);
    });
  const share = (t) => Math.floor(CONNECTIONS / THREADS) + (t < CONNECTIONS % THREADS ? 1 : 0);

  async function openAll(setup) {
    const url = `ws://127.0.0.1:${portOf(setup)}/echo`;
    const r = await Promise.all(threads.map((w, t) => ask(w, { type: 'open', url, host: HOST, conns: share(t) }, 'opened')));
    return r.reduce((a, x) => a + x.opened, 0);
  }
  const closeAll = () => Promise.all(threads.map((w) => ask(w, { type: 'close' }, 'closed')));

  // Every setup answers an echo before anything is measured.
  for (const s of SETUPS) {
    let opened = 0;
    for (let i = 0; i < 100 && opened !== CONNECTIONS; i++) {
      await closeAll();
      opened = await openAll(s).catch(() => 0);
      if (opened !== CONNECTIONS) await sleep(100);
    }
    if (opened !== CONNECTIONS) die(`${s}: ${opened} of ${CONNECTIONS} WebSockets opened; log:\n${readFileSync(ws.logOf(s), 'utf8').slice(-3000)}`);
    const probe = await Promise.all(threads.map((w) => ask(w, { type: 'run', ms: 200 }, 'done')));
    if (probe.some((p) => p.errors > 0 || p.count === 0)) die(`${s}: the echo check failed (${JSON.stringify(probe.map((p) => ({ count: p.count, errors: p.errors })))})`);
    await closeAll();
  }

  const git = gitInfo();
  const meta = {
    startedAt: new Date().toISOString(),
    node: process.version,
    commit: git.commit,
    dirty: git.dirty,
    machine: machineInfo(),
    tools: {
      nginx: toolVersion('nginx', ['-V'], /nginx\/([\d.]+)/),
      uws: JSON.parse(readFileSync(path.join(ROOT, 'node_modules/uWebSockets.js/package.json'), 'utf8')).version,
      ws: JSON.parse(readFileSync(path.join(ROOT, 'node_modules/ws/package.json'), 'utf8')).version,
    },
    settings: { quick: QUICK, durationS: DURATION, warmupS: WARMUP, reps: REPS, connections: CONNECTIONS, sizeBytes: SIZE, threads: THREADS, setups: SETUPS },
  };
  console.log(`flusso WebSocket bench: node ${meta.node}, ${meta.commit.slice(0, 12)}${git.dirty ? ' (dirty)' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}`);
  console.log(`  ${CONNECTIONS} connections × 1 message of ${SIZE} B in flight; ${DURATION}s × ${REPS} reps (+${WARMUP}s warm-up); ${THREADS} client threads`);

  const cells = interleavedCells(['pinned'], ['1k'], () => SETUPS, REPS);
  const runs = [];
  const t0 = Date.now();
  let i = 0;
  for (const c of cells) {
    i++;
    if (isFlusso(c.setup)) {
      const deadline = Date.now() + 40_000;
      while (Date.now() < deadline && !(await flussoHealth(portOf(`${c.setup}-admin`)))?.listening) await sleep(100);
    }
    for (const s of SETUPS) pin(tree(servers[s]), '1');
    pin(tree(servers.backend), '0');
    const opened = await openAll(c.setup);
    const seconds = c.rep === 0 ? WARMUP : DURATION;
    const quiet = await waitQuiet({ busyPct: 25, maxS: QUICK ? 2 : 10 });
    const proxyPids = tree(servers[c.setup]);
    const backendPids = tree(servers.backend);
    const ticks = (pids) => pids.reduce((a, p) => a + (procStat(p)?.ticks ?? NaN), 0);
    const p0 = ticks(proxyPids);
    const b0 = ticks(backendPids);
    const c0 = process.cpuUsage();
    const m0 = machineTicks();
    const started = performance.now();
    const results = await Promise.all(threads.map((w) => ask(w, { type: 'run', ms: seconds * 1000 }, 'done')));
    const elapsedS = (performance.now() - started) / 1000;
    const m1 = machineTicks();
    const cpuClient = process.cpuUsage(c0);
    const proxyS = (ticks(proxyPids) - p0) / CLK_TCK;
    const backendS = (ticks(backendPids) - b0) / CLK_TCK;
    await closeAll();
    const messages = results.reduce((a, r) => a + r.count, 0);
    const all = new Float64Array(messages);
    let k = 0;
    for (const r of results) (all.set(r.lat, k), (k += r.count));
    all.sort();
    const q = (p) => (messages === 0 ? NaN : all[Math.min(messages - 1, Math.floor(p * messages))]);
    const run = {
      setup: c.setup, rep: c.rep, opened, messages, elapsedS,
      rate: messages / elapsedS,
      p50: q(0.5), p99: q(0.99), max: messages === 0 ? NaN : all[messages - 1],
      errors: results.reduce((a, r) => a + r.errors, 0) + (CONNECTIONS - opened),
      closes: results.reduce((a, r) => a + r.closes, 0),
      proxyCpuUsPerMsg: messages > 0 ? (proxyS / messages) * 1e6 : NaN,
      proxyCpuPct: (proxyS / elapsedS) * 100,
      backendCpuPct: (backendS / elapsedS) * 100,
      clientCpuPct: ((cpuClient.user + cpuClient.system) / 1e6 / elapsedS) * 100,
      busyBeforePct: quiet.busyPct,
      machineBusyPct: ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 * NCPU,
    };
    const tag = c.rep === 0 ? 'warm-up' : `rep ${c.rep}/${REPS}`;
    console.log(
      `[${String(i).padStart(String(cells.length).length)}/${cells.length}] ${c.setup.padEnd(9)} ${tag.padEnd(8)} ${Math.round(run.rate).toLocaleString('en-US').padStart(7)} msg/s` +
        `  p50 ${run.p50.toFixed(3)} p99 ${run.p99.toFixed(3)} ms  ${run.proxyCpuUsPerMsg.toFixed(1)} µs/msg  proxy ${run.proxyCpuPct.toFixed(0)}%  backend ${run.backendCpuPct.toFixed(0)}%  client ${run.clientCpuPct.toFixed(0)}%` +
        `${run.errors || run.closes ? `  ERRORS ${run.errors} closes ${run.closes}` : ''}${quiet.busyPct >= 25 ? `  (machine ${quiet.busyPct.toFixed(0)}% busy before: noisy)` : ''}`,
    );
    if (c.rep > 0) runs.push(run);
  }

  const summary = SETUPS.map((setup) => {
    const rs = runs.filter((r) => r.setup === setup);
    const med = (k) => median(rs.map((r) => r[k]));
    return {
      setup, rate: med('rate'), p50: med('p50'), p99: med('p99'), proxyCpuUsPerMsg: med('proxyCpuUsPerMsg'), proxyCpuPct: med('proxyCpuPct'),
      backendCpuPct: med('backendCpuPct'), clientCpuPct: med('clientCpuPct'), busyBeforePct: med('busyBeforePct'), machineBusyPct: med('machineBusyPct'),
      errors: rs.reduce((a, r) => a + r.errors + r.closes, 0), noisyCells: rs.filter((r) => r.busyBeforePct >= 25).length, cells: rs.length,
    };
  });
  const ng = summary.find((r) => r.setup === 'nginx-1');
  const ratios = summary.filter((r) => isFlusso(r.setup) && ng !== undefined).map((r) => ({
    ratio: `${r.setup} / nginx-1`, rate: r.rate / ng.rate, p99: r.p99 / ng.p99, cpu: ng.proxyCpuUsPerMsg / r.proxyCpuUsPerMsg,
  }));

  const n = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const s = meta.settings;
  let md = `WebSocket proxying, pinned (proxy alone on cpu1; ${s.threads} ws client threads + uWS echo backend on cpu0), ${s.connections} connections, ` +
    `1 message of ${s.sizeBytes} B in flight per connection (closed loop), ${s.durationS} s runs, median of ${s.reps}${s.quick ? ' (--quick)' : ''}\n` +
    `node ${meta.node}, commit ${meta.commit.slice(0, 12)}${meta.dirty ? '+dirty' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}; uWebSockets.js ${meta.tools.uws}; ws ${meta.tools.ws}; nginx ${meta.tools.nginx}\n`;
  md += `\n| setup | messages/s (round trips) | p50 / p99 ms | CPU µs/msg (proxy tree) | proxy CPU % | backend CPU % | client CPU % | machine busy % before / during (of ${meta.machine.cpus * 100}) | errors + closes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
  for (const r of summary) md += `| ${r.setup} | ${n(r.rate)} | ${f(r.p50, 3)} / ${f(r.p99, 3)} | ${f(r.proxyCpuUsPerMsg, 1)} | ${f(r.proxyCpuPct, 0)} | ${f(r.backendCpuPct, 0)} | ${f(r.clientCpuPct, 0)} | ${f(r.busyBeforePct, 0)} / ${f(r.machineBusyPct, 0)} | ${r.errors} |\n`;
  if (ratios.length > 0) {
    md += `\n| ratio | by messages/s | p99 (Flusso / nginx) | by CPU per message (nginx µs / Flusso µs) |\n|---|---:|---:|---:|\n`;
    for (const r of ratios) md += `| ${r.ratio} | ${f(r.rate)} | ${f(r.p99)} | ${f(r.cpu)} |\n`;
  }
  md += `\nA message is one round trip: client → proxy → backend → proxy → client, so the proxy moves two messages per count. ` +
    `When the proxy's core is not saturated (proxy CPU well under 100 %), cpu0 (clients + backend) sets the rate and CPU per message is the proxy's capacity ratio. ` +
    `${summary.reduce((a, r) => a + r.noisyCells, 0)} of ${summary.reduce((a, r) => a + r.cells, 0)} measured cells began with the machine at least 25 % busy.\n`;
  const out = writeResults(resultStem(meta.startedAt, meta.commit, `-websocket${QUICK ? '-quick' : ''}`), { meta, runs, summary, ratios }, md);
  console.log(`\n${md}\nwritten: ${out}.json (+ .md), ${fmtTime((Date.now() - t0) / 1000)} of load`);
  for (const w of threads) await w.terminate();
  process.exit(0);
}
