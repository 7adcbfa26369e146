#!/usr/bin/env node
/**
 * Worker replacement (issue 14 item 8): how long after a SIGKILL the replacement worker serves
 * its first request. Flusso runs with ONE worker, so any 200 after the kill came from the
 * replacement; a client opens a new connection every PROBE_MS (open loop, never waiting for the
 * last one) from just before the kill until one is answered 200. Repeated ROUNDS times, each
 * round waiting for /readyz and for the next spare ("spare worker ready" in the log; it is forked
 * after the restart back-off, which grows while workers die within a minute of their start)
 * before the next kill: every round is one kill with a spare ready, not a crash loop.
 *
 * Reported per round and as min / median / max: kill → first 200 on the proxy port, kill →
 * /readyz 200 again, and where the replacement's start went (the primary's "worker exited" log
 * line → the replacement's "listening" line, read from the JSON log). Target: first 200 < 1 s.
 *
 *   npm run bench:worker-replacement
 *   node bench/load/worker-replacement.mjs --rounds=10 --spare=false   # without the pre-forked spare
 *
 * Options: --rounds=N (default 8), --spare=true|false (passed as --spare-worker; default: Flusso's
 * default), --help. Environment: PROBE_MS (default 5), BASE_PORT (default 18760), FLUSSO_ROOT (a
 * checkout whose bin/flusso runs, e.g. a baseline worktree).
 * Needs: a build (npm run build). Loopback only; every process it starts is stopped at exit.
 * Output: a Markdown table plus bench/results/<time>-<commit>-worker-replacement.{json,md}.
 */
import http from 'node:http';
import path from 'node:path';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { exitOnHelp } from './help.mjs';
import { die, gitInfo, machineInfo, median, memOf, parseArgs, portsFree, resultStem, ROOT, safeRead, sleep, Workspace, writeResults } from './lib.mjs';
import { singleBackendManifests } from './manifests.mjs';

exitOnHelp(import.meta.url);
const args = parseArgs();
const ROUNDS = Number(args.get('rounds') ?? 8);
const SPARE = args.get('spare');
const PROBE_MS = Number(process.env.PROBE_MS ?? 5);
const BASE_PORT = Number(process.env.BASE_PORT ?? 18760);
const FLUSSO_ROOT = path.resolve(process.env.FLUSSO_ROOT ?? ROOT);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) die('--rounds must be a positive integer');
if (SPARE !== undefined && SPARE !== 'true' && SPARE !== 'false') die('--spare must be true or false');
if (!existsSync(path.join(FLUSSO_ROOT, 'dist/primary/main.js'))) die(`no build in ${FLUSSO_ROOT}: run npm run build first`);

const [backendPort, httpPort, adminPort] = [BASE_PORT, BASE_PORT + 1, BASE_PORT + 2];
await portsFree([backendPort, httpPort, adminPort]);
const ws = new Workspace('flusso-replace-');
const backend = http.createServer((req, res) => res.end('ok\n'));
await new Promise((r) => backend.listen(backendPort, '127.0.0.1', r));
mkdirSync(ws.path('manifests'));
writeFileSync(ws.path('manifests/app.yaml'), singleBackendManifests({ port: backendPort, host: 'app.test' }));

const flussoArgs = [path.join(FLUSSO_ROOT, 'bin/flusso'), '--source', 'file', '--manifests', ws.path('manifests'), '--workers', '1',
  '--http-address', '127.0.0.1', '--http-port', String(httpPort), '--admin-port', String(adminPort), '--log-level', 'info', '--admin-public-read', 'true'];
if (SPARE !== undefined) flussoArgs.push('--spare-worker', SPARE);
const flusso = ws.start('flusso', process.execPath, flussoArgs);

/** get answers { status, ms } on a new connection; status 0 on a connection error. */
const get = (port, urlPath, headers = {}) =>
  new Promise((resolve) => {
    const t = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t, body: '' }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t }));
  });

const readyz = () =>
  new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: adminPort, path: '/readyz', agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(body) });
        } catch {
          resolve({ status: res.statusCode, body: null });
        }
      });
    }).on('error', () => resolve({ status: 0, body: null }));
  });

async function waitReadyWorker(notPid) {
  for (let i = 0; i < 400; i++) {
    const r = await readyz();
    const w = r.body?.workers?.[0];
    if (r.status === 200 && w?.listening && w.pid !== notPid && (await get(httpPort, '/', { host: 'app.test' })).status === 200) return w.pid;
    await sleep(25);
  }
  die(`Flusso did not become ready; log:\n${safeRead(ws.logOf('flusso'))}`);
}

/** firstServed fires a request every PROBE_MS until one is answered 200; resolves ms since t0. */
function firstServed(t0) {
  return new Promise((resolve) => {
    let done = false;
    const timer = setInterval(() => {
      void get(httpPort, '/', { host: 'app.test' }).then((r) => {
        if (done || r.status !== 200) return;
        done = true;
        clearInterval(timer);
        resolve(performance.now() - t0);
      });
    }, PROBE_MS);
  });
}

async function readyAgain(t0, notPid) {
  for (;;) {
    const r = await readyz();
    const w = r.body?.workers?.[0];
    if (r.status === 200 && w?.listening && w.pid !== notPid) return performance.now() - t0;
    await sleep(PROBE_MS);
  }
}

/** logGap finds, in the primary's log, the time from the n-th "worker exited" to the next "listening". */
function logGap(n) {
  const lines = logLines();
  const exits = lines.filter((l) => l.msg?.startsWith('worker exited'));
  const exit = exits[n];
  if (exit === undefined) return null;
  const listen = lines.find((l) => Date.parse(l.time) >= Date.parse(exit.time) && l.msg === 'worker listening');
  return listen === undefined ? null : Date.parse(listen.time) - Date.parse(exit.time);
}

/** logLines parses the primary's JSON log. */
function logLines() {
  return readFileSync(ws.logOf('flusso'), 'utf8').split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
}

/**
 * waitSpare waits for the n-th "spare worker ready" line (a spare is forked after the restart
 * back-off, which grows while workers die within a minute of their start: each round measures
 * one kill with a spare ready, not a crash loop). Without a spare: a settle pause.
 */
async function waitSpare(n) {
  if (SPARE === 'false') return sleep(1000);
  for (let i = 0; i < 1200; i++) {
    if (logLines().filter((l) => l.msg === 'spare worker ready').length >= n) return;
    await sleep(25);
  }
  die(`no spare worker became ready; log:\n${safeRead(ws.logOf('flusso'))}`);
}

let pid = await waitReadyWorker(-1);
await waitSpare(1);
// What the spare costs: its resident memory while it waits (and the serving worker's, to compare).
const spareLine = logLines().find((l) => l.msg === 'spare worker ready');
const spareRssMiB = spareLine === undefined ? null : memOf(spareLine.pid).rss / 2 ** 20;
const workerRssMiB = memOf(pid).rss / 2 ** 20;
const rounds = [];
for (let i = 0; i < ROUNDS; i++) {
  const t0 = performance.now();
  const served = firstServed(t0);
  process.kill(pid, 'SIGKILL');
  const [firstMs, readyMs] = await Promise.all([served, readyAgain(t0, pid)]);
  const gapMs = logGap(i);
  rounds.push({ round: i + 1, firstMs, readyMs, exitToListeningMs: gapMs });
  console.log(`round ${i + 1}: first 200 after ${firstMs.toFixed(0)} ms, /readyz 200 after ${readyMs.toFixed(0)} ms, log exit→listening ${gapMs ?? '?'} ms`);
  pid = await waitReadyWorker(pid);
  await waitSpare(i + 2);
}
await ws.stop(flusso);
backend.close();

const stat = (k) => {
  const xs = rounds.map((r) => r[k]).filter((x) => typeof x === 'number');
  return xs.length === 0 ? '—' : `${Math.min(...xs).toFixed(0)} / ${median(xs).toFixed(0)} / ${Math.max(...xs).toFixed(0)}`;
};
const git = gitInfo();
const md = [
  `Worker replacement after SIGKILL, ${ROUNDS} rounds, 1 worker, spare: ${SPARE ?? 'default'} (commit ${git.commit.slice(0, 8)}, Node ${process.version})`,
  '',
  '| measure | min / median / max ms |',
  '|---|---:|',
  `| kill → first request served (200) | ${stat('firstMs')} |`,
  `| kill → /readyz 200 | ${stat('readyMs')} |`,
  `| log: worker exited → worker listening | ${stat('exitToListeningMs')} |`,
  '',
  spareRssMiB === null ? 'No spare.' : `RSS of the waiting spare: ${spareRssMiB.toFixed(1)} MiB (the serving worker, after start-up: ${workerRssMiB.toFixed(1)} MiB).`,
].join('\n');
console.log(`\n${md}`);
const startedAt = new Date().toISOString();
writeResults(resultStem(startedAt, git.commit, '-worker-replacement'), { startedAt, git, machine: machineInfo(), spare: SPARE ?? 'default', spareRssMiB, workerRssMiB, rounds }, md);
process.exit(0);
