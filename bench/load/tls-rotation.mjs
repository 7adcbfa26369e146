#!/usr/bin/env node
/**
 * Certificate rotation under HTTPS load (issue #11, item 7; docs/tls.md "Changes without dropped
 * connections"). Flusso (file source, WORKERS=2) serves one TLS Ingress whose Secret lives in a
 * manifest file of its own, in front of an nginx backend answering 100 B. The Secret file is
 * rewritten ROTATIONS times (a fresh CA-signed EC P-256 pair each time, written beside the
 * directory and renamed over the file, as a mounted Secret is swapped; one every 300-500 ms)
 * while load runs the whole time:
 *
 * - keep-alive: KEEPALIVE_CONNECTIONS long-lived connections (node https, keep-alive agent), each
 *   sending GET /small back to back;
 * - new connection: NEWCONN_CLIENTS loops, each sending one request per connection (node https,
 *   agent: false, `Connection: close`, no session cache: a full handshake per request), reading
 *   each connection's certificate;
 * - probes: PROBE_CLIENTS loops opening a new TLS connection (node:tls, SNI, no request) every
 *   PROBE_EVERY_MS, reading the certificate: when new connections see the new certificate.
 *
 * The load runs in worker threads, the rotations and probes on the main thread. Every request
 * must succeed (200 with 100 bytes; a socket, TLS or certificate-verification error, a timeout or
 * another status is a failure), no worker may restart (/readyz workers[].restarts, and the pids),
 * and every new connection (probe or load) started after every worker acked the rotation's
 * generation (/readyz workers[].generation, polled every 10 ms after the write) must see the new
 * certificate, never an older one. Time to apply is from the rename to the end of the handshake
 * of the first new connection that sees the new certificate; the time until /readyz shows every
 * worker acked is reported beside it. The next rotation waits until both have happened (at most
 * APPLY_TIMEOUT_MS; a rotation not applied by then counts as not applied).
 *
 *   npm run bench:tls-rotation              # 100 rotations, about a minute of load
 *   npm run bench:tls-rotation -- --quick   # 20 rotations
 *   ROTATIONS=100 INTERVAL_MS=300-500 KEEPALIVE_CONNECTIONS=8 NEWCONN_CLIENTS=4 npm run bench:tls-rotation
 *
 * Needs nginx (Debian: nginx-light; --install) and a build. Loopback only; ports BASE_PORT
 * (18880) to BASE_PORT + 3. Not pinned: this measures correctness and apply time, not capacity,
 * so the machine's other load shows up in the apply times (the machine's busy share is reported).
 * Output: bench/results/<time>-<commit>-tls-rotation.json and .md; on a failure, Flusso's log is
 * kept beside them as -flusso.log. Exits 1 when a check fails.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const now = () => performance.timeOrigin + performance.now(); // comparable across threads
const HOST = 'rotation.bench.test';
const PATH = '/small';
const BODY_BYTES = 100;
const REQUEST_TIMEOUT_MS = 5000;

const USAGE = `usage: node bench/load/tls-rotation.mjs [--quick] [--install] [--help]
       npm run bench:tls-rotation [-- --quick]

Certificate rotation under HTTPS load (issue #11): Flusso with WORKERS workers (file source) and an
nginx backend; the TLS Ingress's Secret file is rewritten with a fresh pair ROTATIONS times while
keep-alive and one-request-per-connection HTTPS load runs. Checks: 0 failed requests, 0 worker
restarts, every rotation applied, no new connection after the apply sees an old certificate.
Reports time to apply (median / p90 / max). Results in bench/results/*-tls-rotation.{json,md}.

  --quick      20 rotations instead of 100
  --install    apt-get install nginx-light when nginx is missing

environment (defaults): ROTATIONS (100, --quick 20), INTERVAL_MS (300-500), WORKERS (2),
  KEEPALIVE_CONNECTIONS (8), NEWCONN_CLIENTS (4), PROBE_CLIENTS (2), PROBE_EVERY_MS (10),
  APPLY_TIMEOUT_MS (5000), BASE_PORT (18880: backend, HTTP, HTTPS, admin)
`;

// --- load threads -----------------------------------------------------------------------------

/**
 * loadThread drives one kind of load until told to stop, then posts its counts: requests,
 * failures by reason (with a few samples), latency percentiles, connections opened and, for
 * the new-connection load, each connection's start time and certificate.
 */
async function loadThread({ kind, port, ca, clients }) {
  const failures = { count: 0, byReason: {}, samples: [] };
  const fail = (reason, detail) => {
    failures.count++;
    failures.byReason[reason] = (failures.byReason[reason] ?? 0) + 1;
    if (failures.samples.length < 20) failures.samples.push({ at: now(), reason, detail: String(detail).slice(0, 300) });
  };
  const latencies = [];
  const fps = new Map(); // fingerprint → index
  const fpIndex = (fp) => (fps.has(fp) ? fps.get(fp) : (fps.set(fp, fps.size), fps.size - 1));
  const conns = { opened: 0, starts: [], fp: [] }; // new-connection load: every connection
  const keepAliveFps = []; // keep-alive load: the certificate of every connection it opened
  let requests = 0;
  let stopping = false;
  const seenSockets = new WeakSet();
  const agent = kind === 'keepalive' ? new https.Agent({ keepAlive: true, maxSockets: clients, maxFreeSockets: clients }) : false;

  const once = () => new Promise((resolve) => {
    const t0 = now();
    let settled = false;
    const done = (ok, reason, detail) => {
      if (settled) return;
      settled = true;
      if (ok) latencies.push(now() - t0);
      else fail(reason, detail);
      resolve();
    };
    const req = https.request({
      host: '127.0.0.1', port, path: PATH, servername: HOST, ca, agent, timeout: REQUEST_TIMEOUT_MS,
      headers: kind === 'keepalive' ? { host: HOST } : { host: HOST, connection: 'close' },
    }, (res) => {
      let bytes = 0;
      res.on('data', (d) => (bytes += d.length));
      res.on('end', () => {
        requests++;
        if (res.statusCode !== 200) done(false, `status ${res.statusCode}`, `${res.statusCode} ${bytes} bytes`);
        else if (bytes !== BODY_BYTES) done(false, 'short body', `${bytes} bytes`);
        else done(true);
      });
      res.on('error', (err) => (requests++, done(false, err.code ?? 'response error', err.message)));
    });
    req.on('socket', (s) => {
      if (seenSockets.has(s)) return;
      seenSockets.add(s);
      conns.opened++;
      s.once('secureConnect', () => {
        const fp = fpIndex(s.getPeerCertificate()?.fingerprint256 ?? '');
        if (kind === 'newconn') (conns.starts.push(t0), conns.fp.push(fp));
        else keepAliveFps.push(fp);
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no response in ${REQUEST_TIMEOUT_MS} ms`), { code: 'TIMEOUT' })));
    req.on('error', (err) => {
      if (settled) return;
      requests++;
      done(false, err.code ?? 'error', err.message);
    });
    req.end();
  });

  const startedAt = now();
  const loops = Array.from({ length: clients }, async () => {
    while (!stopping) await once();
  });
  const progress = setInterval(() => parentPort.postMessage({ type: 'progress', requests, failures: failures.count }), 1000);
  await new Promise((resolve) => parentPort.once('message', resolve)); // 'stop'
  const stoppedAt = now();
  stopping = true;
  await Promise.all(loops);
  clearInterval(progress);
  if (agent) agent.destroy();
  latencies.sort((a, b) => a - b);
  parentPort.postMessage({
    type: 'result', kind, requests, startedAt, stoppedAt, failures, connectionsOpened: conns.opened,
    p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99),
    fingerprints: [...fps.keys()], newConnStarts: conns.starts, newConnFp: conns.fp, keepAliveFp: keepAliveFps,
  });
}

function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

// --- main -------------------------------------------------------------------------------------

async function main() {
  const lib = await import('./lib.mjs');
  const { ROOT, Workspace, die, fmtTime, gitInfo, machineInfo, machineTicks, median, memOf, nginxCommon, parseArgs, portsFree, procStat, requireBuild, requireTools, resultStem, sleep, toolVersion, tree, writeResults, NCPU, CLK_TCK } = lib;
  const args = parseArgs();
  if (args.has('help')) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  for (const k of args.keys()) if (!['quick', 'install'].includes(k)) die(`unknown argument --${k} (--help)`);
  const QUICK = args.has('quick');
  const ROTATIONS = Number(process.env.ROTATIONS ?? (QUICK ? 20 : 100));
  const [INTERVAL_MIN, intervalMax] = (() => {
    const [a, b] = (process.env.INTERVAL_MS ?? '300-500').split('-').map(Number);
    return [a, b ?? a];
  })();
  const WORKERS = Number(process.env.WORKERS ?? 2);
  const KEEPALIVE_CONNECTIONS = Number(process.env.KEEPALIVE_CONNECTIONS ?? 8);
  const NEWCONN_CLIENTS = Number(process.env.NEWCONN_CLIENTS ?? 4);
  const PROBE_CLIENTS = Number(process.env.PROBE_CLIENTS ?? 2);
  const PROBE_EVERY_MS = Number(process.env.PROBE_EVERY_MS ?? 10);
  const APPLY_TIMEOUT_MS = Number(process.env.APPLY_TIMEOUT_MS ?? 5000);
  const BASE_PORT = Number(process.env.BASE_PORT ?? 18880);
  const TOKEN = 'tls-rotation-bench-token';
  for (const [k, v] of Object.entries({ ROTATIONS, INTERVAL_MIN, intervalMax, WORKERS, KEEPALIVE_CONNECTIONS, NEWCONN_CLIENTS, PROBE_CLIENTS, PROBE_EVERY_MS, APPLY_TIMEOUT_MS, BASE_PORT }))
    if (!Number.isFinite(v) || v < 0) die(`${k} must be a number >= 0, got ${v}`);

  requireTools({ nginx: 'nginx-light' }, { install: args.has('install') });
  requireBuild();
  const { makePki, tlsIngressManifests, tlsSecretYaml } = await import('./tls-lib.mjs');

  const ports = { backend: BASE_PORT, http: BASE_PORT + 1, https: BASE_PORT + 2, admin: BASE_PORT + 3 };
  await portsFree(Object.values(ports));
  const ws = new Workspace('flusso-bench-tls-rotation-');
  const work = ws.dir;
  // Keys on a memory filesystem, as Flusso would put them itself (docs/tls.md "Key material"),
  // but in a directory of ours, so the files left after the rotations can be counted.
  const shm = existsSync('/dev/shm') ? ws.ownDir(path.join('/dev/shm', path.basename(work))) : work;
  const tlsDir = path.join(shm, 'tls');

  const git = gitInfo();
  const meta = {
    startedAt: new Date().toISOString(),
    node: process.version,
    commit: git.commit,
    dirty: git.dirty,
    machine: machineInfo(),
    tools: { nginx: toolVersion('nginx', ['-v'], /nginx\/([\d.]+)/), uws: JSON.parse(readFileSync(path.join(ROOT, 'node_modules/uWebSockets.js/package.json'), 'utf8')).version },
    settings: { quick: QUICK, rotations: ROTATIONS, intervalMs: [INTERVAL_MIN, intervalMax], workers: WORKERS, keepAliveConnections: KEEPALIVE_CONNECTIONS, newConnClients: NEWCONN_CLIENTS, probeClients: PROBE_CLIENTS, probeEveryMs: PROBE_EVERY_MS, applyTimeoutMs: APPLY_TIMEOUT_MS, ports },
  };
  console.log(`flusso TLS rotation bench: node ${meta.node}, ${meta.commit.slice(0, 12)}${git.dirty ? ' (dirty)' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}`);
  console.log(`  ${ROTATIONS} rotations every ${INTERVAL_MIN}-${intervalMax} ms; ${WORKERS} workers; load: ${KEEPALIVE_CONNECTIONS} keep-alive connections + ${NEWCONN_CLIENTS} new-connection loops; ${PROBE_CLIENTS} probe loops every ${PROBE_EVERY_MS} ms`);

  // Every pair is issued before the load starts, so the rotation loop spends no CPU on keys.
  const pki = await makePki();
  const pairs = Array.from({ length: ROTATIONS + 1 }, () => pki.issue([HOST]));
  const fpOf = new Map(pairs.map((p, i) => [p.fingerprint256, i])); // fingerprint → rotation index
  if (fpOf.size !== pairs.length) die('two issued pairs share a fingerprint');
  const ca = pki.caPem;

  // --- servers ---
  writeFileSync(path.join(work, 'backend.conf'), `${nginxCommon(work, 'backend', 1)}
  server { listen 127.0.0.1:${ports.backend} reuseport; location = ${PATH} { return 200 "${'x'.repeat(BODY_BYTES - 1)}\\n"; } } }
`);
  ws.start('backend', 'nginx', ['-p', work, '-e', `${work}/backend.err`, '-c', `${work}/backend.conf`]);
  const manifests = path.join(work, 'manifests');
  mkdirSync(manifests);
  const SECRET = 'rotation-tls';
  writeFileSync(path.join(manifests, 'app.yaml'), tlsIngressManifests({ port: ports.backend, host: HOST, secretName: SECRET }));
  const secretFile = path.join(manifests, 'secret.yaml');
  const writeSecret = (i) => {
    const staging = path.join(work, `secret-${i}.yaml`); // same filesystem, outside the watched directory
    writeFileSync(staging, tlsSecretYaml({ name: SECRET, pair: pairs[i] }));
    renameSync(staging, secretFile);
    return now();
  };
  writeSecret(0);
  const flussoArgs = ['bin/flusso', '--source', 'file', '--manifests', manifests, '--workers', String(WORKERS),
    '--http-address', '127.0.0.1', '--http-port', String(ports.http), '--https-address', '127.0.0.1', '--https-port', String(ports.https),
    '--admin-port', String(ports.admin), '--admin-token', TOKEN, '--tls-dir', tlsDir, '--log-level', 'info'];
  const flusso = ws.start('flusso', process.execPath, flussoArgs);
  const flussoLog = ws.logOf('flusso');

  const readyz = async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${ports.admin}/readyz`, { signal: AbortSignal.timeout(2000) });
      return await r.json();
    } catch {
      return null;
    }
  };
  const keepLog = (stem) => {
    const dest = path.join(ROOT, 'bench/results', `${stem}-flusso.log`);
    mkdirSync(path.dirname(dest), { recursive: true });
    copyFileSync(flussoLog, dest);
    return path.relative(ROOT, dest);
  };

  let h = null;
  for (let i = 0; i < 300 && !(h?.ready && h.workers.every((w) => w.listening)); i++) (await sleep(100), (h = await readyz()));
  if (!h?.ready) die(`Flusso is not ready after 30 s; log:\n${readFileSync(flussoLog, 'utf8').slice(-3000)}`);

  /** probe opens one new TLS connection (SNI, verified against the CA) and reads its certificate. */
  const probe = () => new Promise((resolve) => {
    const start = now();
    const s = tls.connect({ host: '127.0.0.1', port: ports.https, servername: HOST, ca, timeout: REQUEST_TIMEOUT_MS });
    let doneOnce = false;
    const done = (r) => {
      if (doneOnce) return;
      doneOnce = true;
      s.destroy();
      resolve({ start, end: now(), ...r });
    };
    s.once('secureConnect', () => {
      const fp = s.getPeerCertificate()?.fingerprint256 ?? '';
      done({ fp });
    });
    s.once('timeout', () => done({ error: 'TIMEOUT' }));
    s.once('error', (err) => done({ error: err.code ?? err.message }));
  });
  let first = null;
  for (let i = 0; i < 200; i++) {
    first = await probe();
    if (first.fp === pairs[0].fingerprint256) break;
    await sleep(50);
  }
  if (first?.fp !== pairs[0].fingerprint256) die(`Flusso does not serve the Secret's certificate on ${ports.https} (${JSON.stringify(first)}); log:\n${readFileSync(flussoLog, 'utf8').slice(-3000)}`);

  const h0 = await readyz();
  const restarts0 = h0.workers.reduce((a, w) => a + w.restarts, 0);
  const pids0 = h0.workers.map((w) => w.pid);
  const rss0 = pids0.map((p) => memOf(p).rss);

  // --- load ---
  const threads = {};
  const progress = { keepalive: { requests: 0, failures: 0 }, newconn: { requests: 0, failures: 0 } };
  const results = {};
  for (const [kind, clients] of [['keepalive', KEEPALIVE_CONNECTIONS], ['newconn', NEWCONN_CLIENTS]]) {
    if (clients === 0) continue;
    const t = new Worker(new URL(import.meta.url), { workerData: { kind, port: ports.https, ca, clients } });
    t.on('message', (m) => {
      if (m.type === 'progress') progress[kind] = m;
      else if (m.type === 'result') results[kind] = m;
    });
    t.on('error', (err) => die(`${kind} load thread: ${err.stack ?? err}`));
    threads[kind] = t;
  }
  const probes = [];
  let probing = true;
  const probeLoops = Array.from({ length: PROBE_CLIENTS }, async () => {
    while (probing) {
      const p = await probe();
      probes.push(p);
      const wait = PROBE_EVERY_MS - (p.end - p.start);
      if (wait > 0) await sleep(wait);
    }
  });
  await sleep(2000); // load and probes running before the first rotation

  const flussoPids = () => tree(flusso.pid);
  const cpuOf = (pids) => pids.reduce((a, p) => a + (procStat(p)?.ticks ?? 0), 0);
  const pidsAtStart = flussoPids();
  const cpu0 = cpuOf(pidsAtStart);
  const m0 = machineTicks();
  const loadStart = now();

  // --- rotations ---
  const rotations = [];
  for (let k = 1; k <= ROTATIONS; k++) {
    const before = await readyz();
    const g0 = before?.generation ?? NaN;
    const interval = INTERVAL_MIN + Math.random() * (intervalMax - INTERVAL_MIN);
    const fp = pairs[k].fingerprint256;
    let cursor = probes.length;
    const wrote = writeSecret(k);
    let acked = null;
    let generation = null;
    let seen = null;
    const deadline = wrote + APPLY_TIMEOUT_MS;
    while (now() < deadline && (acked === null || seen === null)) {
      if (acked === null) {
        const r = await readyz();
        if (r && r.generation > g0 && r.workers.every((w) => w.listening && w.generation >= r.generation)) (acked = now()), (generation = r.generation);
      }
      // probes is in the order the handshakes ended; none that ended before the write can have the new certificate.
      for (; seen === null && cursor < probes.length; cursor++) if (probes[cursor].fp === fp) seen = probes[cursor].end;
      await sleep(10);
    }
    const rot = { k, wrote, interval, g0, generation, seenMs: seen === null ? null : seen - wrote, ackedMs: acked === null ? null : acked - wrote, applied: seen !== null && acked !== null, seenAt: seen, ackedAt: acked };
    rotations.push(rot);
    if (k % 10 === 0 || !rot.applied)
      console.log(`  rotation ${String(k).padStart(3)}/${ROTATIONS}: ${rot.applied ? `new connections see it after ${rot.seenMs.toFixed(0)} ms, every worker acked after ${rot.ackedMs.toFixed(0)} ms` : `NOT APPLIED within ${APPLY_TIMEOUT_MS} ms (seen ${rot.seenMs?.toFixed(0) ?? '–'}, acked ${rot.ackedMs?.toFixed(0) ?? '–'})`}` +
        `; load so far: keep-alive ${progress.keepalive.requests} req, new-connection ${progress.newconn.requests} req, failed ${progress.keepalive.failures + progress.newconn.failures}`);
    const rest = wrote + interval - now();
    await sleep(Math.max(rest, 20)); // at least a few probes on the applied certificate before the next write
  }
  await sleep(1000); // probes and load after the last rotation
  const loadEnd = now();
  const cpu1 = cpuOf(pidsAtStart);
  const m1 = machineTicks();
  probing = false;
  await Promise.all(probeLoops);
  await Promise.all(Object.entries(threads).map(([kind, t]) => new Promise((resolve) => {
    const timer = setTimeout(() => die(`the ${kind} load thread did not stop`), REQUEST_TIMEOUT_MS + 5000);
    t.on('message', (m) => m.type === 'result' && (clearTimeout(timer), resolve()));
    t.postMessage('stop');
  })));
  for (const t of Object.values(threads)) await t.terminate();
  await sleep(300);

  // --- after ---
  const h1 = await readyz();
  const restarts1 = h1 ? h1.workers.reduce((a, w) => a + w.restarts, 0) : NaN;
  const pids1 = h1 ? h1.workers.map((w) => w.pid) : [];
  const rss1 = pids1.map((p) => memOf(p).rss);
  const certs = await fetch(`http://127.0.0.1:${ports.admin}/api/v1/certificates`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.json()).catch(() => null);
  const row = certs?.certificates?.find((c) => c.host === HOST);
  const keyFiles = existsSync(tlsDir) ? readdirSync(tlsDir).length : NaN;
  const logLines = readFileSync(flussoLog, 'utf8').split('\n').filter(Boolean);
  const leveled = logLines.map((l) => { try { return JSON.parse(l); } catch { return { level: 0, msg: l }; } });
  const warnLines = leveled.filter((l) => l.level >= 40 || l.level === 0);
  const flussoAlive = flusso.exitCode === null && flusso.signalCode === null;

  // --- analysis ---
  // A connection sees rotation j's certificate; it is stale when it started after every worker
  // acked a later rotation k > j (the acceptor of a worker hands a connection accepted after its
  // swap to the new TLS app: docs/tls.md "Changes without dropped connections").
  const ackedAts = rotations.map((r) => r.ackedAt ?? Infinity); // index k - 1
  const seenAts = rotations.map((r) => r.seenAt ?? Infinity);
  const newestBy = (ats, t) => {
    let k = 0;
    for (let i = 0; i < ats.length; i++) if (ats[i] <= t) k = i + 1;
    return k;
  };
  const classify = (start, fpString) => {
    const j = fpOf.get(fpString);
    if (j === undefined) return 'unknown';
    if (j < newestBy(ackedAts, start)) return 'stale';
    if (j < newestBy(seenAts, start)) return 'between';
    return 'ok';
  };
  const tally = (items) => items.reduce((a, [start, fp]) => ((a[classify(start, fp)] = (a[classify(start, fp)] ?? 0) + 1), a), { ok: 0, between: 0, stale: 0, unknown: 0 });
  const probeOk = probes.filter((p) => p.fp !== undefined);
  const probeErrors = probes.filter((p) => p.error !== undefined);
  const probeTally = tally(probeOk.map((p) => [p.start, p.fp]));
  const nc = results.newconn;
  const ncTally = nc ? tally(nc.newConnStarts.map((s, i) => [s, nc.fingerprints[nc.newConnFp[i]]])) : { ok: 0, between: 0, stale: 0, unknown: 0 };
  const isStale = (start, fp) => ['stale', 'unknown'].includes(classify(start, fp));
  const staleSamples = [
    ...probeOk.filter((p) => isStale(p.start, p.fp)).slice(0, 5).map((p) => ({ via: 'probe', start: p.start, rotation: fpOf.get(p.fp) ?? 'unknown' })),
    ...(nc ? nc.newConnStarts.map((start, i) => ({ start, fp: nc.fingerprints[nc.newConnFp[i]] })).filter((c) => isStale(c.start, c.fp)).slice(0, 5).map((c) => ({ via: 'new-connection load', start: c.start, rotation: fpOf.get(c.fp) ?? 'unknown' })) : []),
  ];
  const applied = rotations.filter((r) => r.applied);
  const seenSorted = applied.map((r) => r.seenMs).sort((a, b) => a - b);
  const ackedSorted = applied.map((r) => r.ackedMs).sort((a, b) => a - b);
  const ka = results.keepalive;
  const loadS = (loadEnd - loadStart) / 1000;
  const failed = (ka?.failures.count ?? 0) + (nc?.failures.count ?? 0);
  const summary = {
    rotations: ROTATIONS,
    applied: applied.length,
    seenMs: { median: median(seenSorted), p90: percentile(seenSorted, 0.9), max: seenSorted.at(-1) ?? NaN },
    ackedMs: { median: median(ackedSorted), p90: percentile(ackedSorted, 0.9), max: ackedSorted.at(-1) ?? NaN },
    intervalMs: { median: median(rotations.map((r) => r.interval)), actualMedian: median(rotations.slice(1).map((r, i) => r.wrote - rotations[i].wrote)) },
    load: {
      keepalive: ka && { requests: ka.requests, rps: ka.requests / ((ka.stoppedAt - ka.startedAt) / 1000), failed: ka.failures.count, byReason: ka.failures.byReason, p50: ka.p50, p99: ka.p99, connectionsOpened: ka.connectionsOpened, certificatesOfConnections: [...new Set(ka.keepAliveFp.map((i) => fpOf.get(ka.fingerprints[i]) ?? 'unknown'))] },
      newconn: nc && { requests: nc.requests, rps: nc.requests / ((nc.stoppedAt - nc.startedAt) / 1000), failed: nc.failures.count, byReason: nc.failures.byReason, p50: nc.p50, p99: nc.p99, connectionsOpened: nc.connectionsOpened, certificates: ncTally },
      probes: { connections: probes.length, errors: probeErrors.length, errorReasons: probeErrors.reduce((a, p) => ((a[p.error] = (a[p.error] ?? 0) + 1), a), {}), certificates: probeTally },
    },
    failedRequests: failed,
    failureSamples: [...(ka?.failures.samples ?? []), ...(nc?.failures.samples ?? [])],
    staleNewConnections: probeTally.stale + probeTally.unknown + ncTally.stale + ncTally.unknown,
    staleSamples,
    restarts: restarts1 - restarts0,
    pidsUnchanged: JSON.stringify(pids0) === JSON.stringify(pids1),
    pids: { before: pids0, after: pids1 },
    flussoAlive,
    workerRssMiB: { before: rss0.map((b) => b / 2 ** 20), after: rss1.map((b) => b / 2 ** 20) },
    keyFilesLeft: keyFiles,
    certificatesApi: row ? { status: row.status, serving: row.serving, fingerprintIsLast: row.certificate?.fingerprint256 === pairs[ROTATIONS].fingerprint256 } : null,
    flussoWarnLines: warnLines.length,
    flussoWarnSamples: warnLines.slice(0, 10).map((l) => ({ level: l.level, msg: l.msg, code: l.code, err: l.err?.message ?? l.error })),
    loadSeconds: loadS,
    flussoCpuPct: ((cpu1 - cpu0) / CLK_TCK / loadS) * 100,
    machineBusyPct: ((m1.busy - m0.busy) / (m1.total - m0.total)) * 100 * NCPU,
  };
  const checks = [
    ['every rotation applied', summary.applied === ROTATIONS],
    ['0 failed requests', failed === 0],
    ['0 worker restarts, same worker pids, primary alive', summary.restarts === 0 && summary.pidsUnchanged && flussoAlive],
    ['no new connection after the apply sees an older certificate', summary.staleNewConnections === 0],
    ['0 probe connection errors', probeErrors.length === 0],
    ['/api/v1/certificates serves the last pair', summary.certificatesApi?.fingerprintIsLast === true && summary.certificatesApi.status === 'ok'],
    ['time to apply ≤ 1 s (issue #11 item 7), max', summary.seenMs.max <= 1000 && summary.ackedMs.max <= 1000],
  ];
  summary.checks = checks.map(([name, ok]) => ({ name, ok }));
  const md = markdown(meta, summary, fmtTime);
  const stem = resultStem(meta.startedAt, meta.commit, `-tls-rotation${QUICK ? '-quick' : ''}`);
  const pass = checks.every(([, ok]) => ok);
  const log = pass ? null : keepLog(stem);
  const out = writeResults(stem, { meta, summary, rotations: rotations.map(({ seenAt, ackedAt, wrote, ...r }) => r), flussoArgs, keptLog: log }, md);
  console.log(`\n${md}\nwritten: ${out}.json (+ .md)${log ? `; Flusso's log: ${log}` : ''}`);
  if (!pass) console.log(`FAILED: ${checks.filter(([, ok]) => !ok).map(([n]) => n).join('; ')}`);
  return pass ? 0 : 1;
}

function markdown(meta, s, fmtTime) {
  const n = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
  const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const st = meta.settings;
  const mark = (ok) => (ok ? '✓' : '✗');
  let out = `TLS certificate rotation under HTTPS load: ${st.rotations} rotations of the Secret file (a fresh EC P-256 pair each, renamed over it every ${st.intervalMs[0]}-${st.intervalMs[1]} ms, the next one once the last applied), ` +
    `Flusso with ${st.workers} workers (file source), ${fmtTime(s.loadSeconds)} of load${st.quick ? ' (--quick)' : ''}\n` +
    `node ${meta.node}, commit ${meta.commit.slice(0, 12)}${meta.dirty ? '+dirty' : ''}, ${meta.machine.cpus}× ${meta.machine.cpu}; uWebSockets.js ${meta.tools.uws}; backend nginx ${meta.tools.nginx}; not pinned: ` +
    `the machine was ${f(s.machineBusyPct)} % busy of ${meta.machine.cpus * 100} % during the load (Flusso's process tree ${f(s.flussoCpuPct)} %)\n`;
  out += `\n| rotations | applied | time to apply: first new connection with the new certificate, median / p90 / max ms | every worker acked (/readyz), median / p90 / max ms | new connections after the apply seeing an older certificate | failed requests | worker restarts |\n|---:|---:|---:|---:|---:|---:|---:|\n`;
  out += `| ${s.rotations} | ${s.applied} | ${f(s.seenMs.median)} / ${f(s.seenMs.p90)} / ${f(s.seenMs.max)} | ${f(s.ackedMs.median)} / ${f(s.ackedMs.p90)} / ${f(s.ackedMs.max)} | ${s.staleNewConnections} | ${s.failedRequests} | ${Number.isFinite(s.restarts) ? s.restarts : '–'} |\n`;
  const L = s.load;
  const reasons = (b) => Object.entries(b ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') || '–';
  const certs = (c) => `${n(c.ok)} new, ${n(c.between)} old while the other worker had not applied yet, ${n(c.stale + c.unknown)} old or unknown after the apply`;
  out += `\n| load (all the time) | requests / connections | rate | p50 / p99 ms | failed (why) | connections opened | certificates seen |\n|---|---:|---:|---:|---:|---:|---|\n`;
  if (L.keepalive) out += `| keep-alive HTTPS, ${st.keepAliveConnections} connections, GET 100 B back to back | ${n(L.keepalive.requests)} | ${n(L.keepalive.rps)} req/s | ${f(L.keepalive.p50, 2)} / ${f(L.keepalive.p99, 2)} | ${L.keepalive.failed} (${reasons(L.keepalive.byReason)}) | ${L.keepalive.connectionsOpened} | rotation ${L.keepalive.certificatesOfConnections.join(', ')}${L.keepalive.connectionsOpened === st.keepAliveConnections ? ' (every connection open from before the first rotation to the end)' : ''} |\n`;
  if (L.newconn) out += `| one request per new connection (full handshake), ${st.newConnClients} loops | ${n(L.newconn.requests)} | ${n(L.newconn.rps)} req/s | ${f(L.newconn.p50, 2)} / ${f(L.newconn.p99, 2)} | ${L.newconn.failed} (${reasons(L.newconn.byReason)}) | ${n(L.newconn.connectionsOpened)} | ${certs(L.newconn.certificates)} |\n`;
  out += `| probes: new TLS connection, no request, ${st.probeClients} loops every ${st.probeEveryMs} ms | ${n(L.probes.connections)} | | | ${L.probes.errors} (${reasons(L.probes.errorReasons)}) | ${n(L.probes.connections)} | ${certs(L.probes.certificates)} |\n`;
  out += `\nWorkers ${s.pidsUnchanged ? 'kept their pids' : `changed pids (${s.pids.before.join(', ')} → ${s.pids.after.join(', ')})`}; worker RSS ${s.workerRssMiB.before.map((x) => f(x)).join(' + ')} MiB before → ${s.workerRssMiB.after.map((x) => f(x)).join(' + ')} MiB after; ` +
    `${Number.isFinite(s.keyFilesLeft) ? s.keyFilesLeft : '–'} files left in --tls-dir; /api/v1/certificates: ${s.certificatesApi ? `${s.certificatesApi.status}, serving ${s.certificatesApi.serving}, ${s.certificatesApi.fingerprintIsLast ? 'the last pair' : 'NOT the last pair'}` : 'no row'}; ` +
    `${s.flussoWarnLines} warn/error lines in Flusso's log${s.flussoWarnSamples.length ? ` (${s.flussoWarnSamples.map((w) => `${w.level}: ${w.msg}${w.code ? ` ${w.code}` : ''}`).join('; ')})` : ''}.\n`;
  if (s.failureSamples.length) out += `\nFirst failures: ${s.failureSamples.slice(0, 5).map((x) => `${x.reason}: ${x.detail}`).join('; ')}\n`;
  out += `\n| check | |\n|---|---|\n${s.checks.map((c) => `| ${c.name} | ${mark(c.ok)} |`).join('\n')}\n`;
  return out;
}

if (isMainThread) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  await loadThread(workerData);
}
