#!/usr/bin/env node
/**
 * One huge Ingress against the primary (issue 14 item 4): Flusso runs with a small steady table;
 * then one Ingress with PATHS paths on one host arrives (through the file source: a manifest
 * written into the directory; through the kubernetes source: created at the in-repo fake API
 * server), stays a few seconds, and is deleted. Meanwhile a probe asks the admin server for
 * /healthz every PROBE_MS on a new connection (open loop, as a kubelet does: a stalled primary
 * makes probes pile up rather than be skipped), and the primary's RSS is sampled every 100 ms.
 *
 * Reported per source and size: /healthz latency p50 / p99 / max while the Ingress is applied
 * (target p99 < 100 ms) and while it is deleted, probes slower than 1 s (a kubelet probe's
 * default timeout), how long /readyz answered non-200, the time from the write to every worker
 * serving the last path (and to 404 after the delete), and the primary's RSS before, at its peak,
 * with the Ingress applied, and SETTLE_S seconds after the delete (memory bounded and returned).
 *
 *   npm run bench:huge-ingress                      # 15,000 and 50,000 paths, file and kubernetes
 *   npm run bench:huge-ingress -- --paths=15000 --sources=file
 *   FLUSSO_ROOT=/path/to/other/checkout node bench/load/huge-ingress.mjs   # another build (baseline)
 *
 * Output: a Markdown table plus bench/results/<time>-<commit>-huge-ingress.{json,md}.
 */
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { die, gitInfo, machineInfo, memOf, parseArgs, portsFree, resultStem, ROOT, safeRead, sleep, Workspace, writeResults } from './lib.mjs';

const HELP = `usage: node bench/load/huge-ingress.mjs [--paths=15000,50000] [--sources=file,kubernetes] [--workers=2] [--help]

One Ingress with N paths applied to and deleted from a running Flusso, through the file source
and through the kubernetes source (the in-repo fake API server). Records /healthz latency
p50/p99/max during the apply and the delete (probe every PROBE_MS on a new connection), time to
apply and to delete, /readyz non-200 time, and the primary's RSS before, peak, applied and after.

environment:
  FLUSSO_ROOT   checkout whose bin/flusso and dist/ run (default: this one), e.g. a baseline worktree
  PROBE_MS      /healthz probe interval in ms (default 10)
  SETTLE_S      seconds after the delete before the "after" RSS (default 10)
  HOLD_S        seconds the Ingress stays applied (default 3)
  BASE_PORT     first port used (default 18680)
  NODE_ARGS     extra node options for Flusso, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
`;

const args = parseArgs();
if (args.has('help')) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (process.env.HUGE_INGRESS_API_CHILD === '1') await serveApi();
else await main();

/** hugeIngress is the one Ingress: host huge.test, paths /p-00000 … each a Prefix to Service app. */
function hugeIngress(paths) {
  const list = [];
  for (let i = 0; i < paths; i++) list.push({ path: pathOf(i), pathType: 'Prefix', backend: { service: { name: 'app', port: { number: 80 } } } });
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'huge', namespace: 'bench' }, spec: { ingressClassName: 'flusso', rules: [{ host: 'huge.test', http: { paths: list } }] } };
}

function pathOf(i) {
  return `/p-${String(i).padStart(5, '0')}`;
}

/** hugeYaml renders hugeIngress as a manifest (flow-style paths, about 95 bytes each). */
function hugeYaml(paths) {
  const lines = ['apiVersion: networking.k8s.io/v1', 'kind: Ingress', 'metadata: { name: huge, namespace: bench }', 'spec:', '  ingressClassName: flusso', '  rules:', '  - host: huge.test', '    http:', '      paths:'];
  for (let i = 0; i < paths; i++) lines.push(`      - { path: ${pathOf(i)}, pathType: Prefix, backend: { service: { name: app, port: { number: 80 } } } }`);
  return `${lines.join('\n')}\n`;
}

/** baseObjects: our IngressClass, Service app (one endpoint: the local backend) and a steady Ingress. */
function baseObjects(backendPort) {
  return [
    { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'flusso' }, spec: { controller: 'flusso.dev/ingress-controller' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'app', namespace: 'bench' }, spec: { ports: [{ protocol: 'TCP', port: 80, targetPort: backendPort }] } },
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'app-1', namespace: 'bench', labels: { 'kubernetes.io/service-name': 'app' } }, addressType: 'IPv4', ports: [{ name: '', port: backendPort, protocol: 'TCP' }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }] },
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'steady', namespace: 'bench' }, spec: { ingressClassName: 'flusso', rules: [{ host: 'steady.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'app', port: { number: 80 } } } }] } }] } },
  ];
}

/**
 * serveApi is the child process that runs the fake API server, so that building and sending a
 * 5 MiB watch event never stalls the bench's own probe. Messages: apply { paths }, remove.
 */
async function serveApi() {
  const { loadFakeApiServer } = await import('./fake-api.mjs');
  const startFakeApiServer = await loadFakeApiServer();
  const api = await startFakeApiServer({});
  for (const o of baseObjects(Number(process.env.BACKEND_PORT))) api.apply(o);
  process.on('message', (m) => {
    if (m.op === 'apply') api.apply(hugeIngress(m.paths));
    else if (m.op === 'remove') api.remove('Ingress', 'bench', 'huge');
    process.send({ done: m.op });
  });
  process.on('disconnect', () => void api.close().then(() => process.exit(0)));
  process.send({ kubeconfig: await api.kubeconfigFile() });
}

async function main() {
  const FLUSSO_ROOT = path.resolve(process.env.FLUSSO_ROOT ?? ROOT);
  if (!existsSync(path.join(FLUSSO_ROOT, 'dist/primary/main.js'))) die(`no build in ${FLUSSO_ROOT}: run npm run build first`);
  const SIZES = (args.get('paths') ?? '15000,50000').split(',').map(Number);
  const SOURCES = (args.get('sources') ?? 'file,kubernetes').split(',');
  const WORKERS = Number(args.get('workers') ?? 2);
  const PROBE_MS = Number(process.env.PROBE_MS ?? 10);
  const SETTLE_S = Number(process.env.SETTLE_S ?? 10);
  const HOLD_S = Number(process.env.HOLD_S ?? 3);
  const BASE_PORT = Number(process.env.BASE_PORT ?? 18680);
  if (SIZES.some((n) => !Number.isInteger(n) || n < 1) || SOURCES.some((s) => s !== 'file' && s !== 'kubernetes')) die('bad --paths or --sources (see --help)');
  const [backendPort, httpPort, adminPort] = [BASE_PORT, BASE_PORT + 1, BASE_PORT + 2];
  await portsFree([backendPort, httpPort, adminPort]);
  const ws = new Workspace('flusso-huge-');
  const backend = http.createServer((req, res) => res.end('ok\n'));
  await new Promise((r) => backend.listen(backendPort, '127.0.0.1', r));
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });

  /** get answers { status, body, ms }; status 0 on a connection error. */
  const get = (port, urlPath, { host, agent = keepAlive, timeoutMs = 30_000 } = {}) =>
    new Promise((resolve) => {
      const t = performance.now();
      const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent, headers: host === undefined ? {} : { host } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body, ms: performance.now() - t }));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve({ status: 0, body: '', ms: performance.now() - t }));
    });

  /** startProbe fires GET /healthz every PROBE_MS on a new connection, never waiting for the last one. */
  const startProbe = () => {
    const samples = [];
    const pending = new Set();
    const timer = setInterval(() => {
      const at = performance.now();
      const p = get(adminPort, '/healthz', { agent: false }).then((r) => {
        samples.push({ at, ms: r.status === 200 ? r.ms : Infinity });
        pending.delete(p);
      });
      pending.add(p);
    }, PROBE_MS);
    return { samples, stop: async () => (clearInterval(timer), await Promise.all(pending)) };
  };

  /** startRss samples the primary's RSS every 100 ms. */
  const startRss = (pid) => {
    const samples = [];
    const timer = setInterval(() => samples.push({ at: performance.now(), rss: memOf(pid).rss }), 100);
    return { samples, stop: () => clearInterval(timer) };
  };

  /** watchReady polls /readyz every 20 ms: the newest state, and how long it answered non-200. */
  const watchReady = () => {
    const state = { body: null, unreadyMs: 0, stop: false };
    state.done = (async () => {
      let last = performance.now();
      while (!state.stop) {
        const r = await get(adminPort, '/readyz');
        const now = performance.now();
        if (r.status !== 200) state.unreadyMs += now - last;
        last = now;
        try {
          state.body = JSON.parse(r.body);
        } catch {}
        await sleep(20);
      }
    })();
    return state;
  };

  /** until waits (120 s at most) for every worker to have acked a generation above `before` and `served` to hold. */
  const until = async (ready, before, served) => {
    const t0 = performance.now();
    while (performance.now() - t0 < 120_000) {
      const b = ready.body;
      if (b !== null && b.generation > before && b.workers.every((w) => w.generation >= b.generation)) {
        let all = true;
        // Several tries: each request may land on another worker (SO_REUSEPORT).
        for (let i = 0; i < WORKERS * 3 && all; i++) all = served((await get(httpPort, pathOf(0), { host: 'huge.test' })).status) && served((await get(httpPort, `${pathOf(sizeNow - 1)}/x`, { host: 'huge.test' })).status);
        if (all) return performance.now();
      }
      await sleep(10);
    }
    return NaN;
  };

  let sizeNow = 0;
  const rows = [];
  for (const source of SOURCES) {
    for (const paths of SIZES) {
      sizeNow = paths;
      say(`${source}, ${paths.toLocaleString('en-US')} paths …`);
      let api;
      let sourceArgs;
      let manifests;
      if (source === 'kubernetes') {
        api = fork(new URL(import.meta.url).pathname, [], { env: { ...process.env, HUGE_INGRESS_API_CHILD: '1', BACKEND_PORT: String(backendPort) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        ws.children.push(api);
        const kubeconfig = await new Promise((r) => api.once('message', (m) => r(m.kubeconfig)));
        sourceArgs = ['--source', 'kubernetes', '--kubeconfig', kubeconfig];
      } else {
        manifests = ws.path(`manifests-${paths}`);
        mkdirSync(manifests);
        writeFileSync(path.join(manifests, 'base.yaml'), baseObjects(backendPort).map((o) => JSON.stringify(o)).join('\n---\n'));
        sourceArgs = ['--source', 'file', '--manifests', manifests];
      }
      const apiDo = (op, extra = {}) => new Promise((r) => (api.once('message', r), api.send({ op, ...extra })));
      const name = `flusso-${source}-${paths}`;
      const flusso = ws.start(name, process.execPath, [...(process.env.NODE_ARGS ?? '').split(' ').filter(Boolean), path.join(FLUSSO_ROOT, 'bin/flusso'), ...sourceArgs, '--workers', String(WORKERS), '--http-address', '127.0.0.1', '--http-port', String(httpPort), '--admin-port', String(adminPort), '--admin-token', 'bench-token-0123456789abcdef', '--log-level', 'warn']);
      const ready = watchReady();
      const t0 = performance.now();
      while (ready.body?.workers?.length !== WORKERS || !ready.body.workers.every((w) => w.generation >= ready.body.generation) || ready.body.generation < 1) {
        if (performance.now() - t0 > 60_000) die(`flusso (${source}) not ready; log:\n${safeRead(ws.logOf(name))}`);
        await sleep(50);
      }
      await sleep(3000);
      const rssBefore = memOf(flusso.pid).rss;
      const probe = startProbe();
      const rss = startRss(flusso.pid);
      ready.unreadyMs = 0;
      await sleep(1000);

      const genBefore = ready.body.generation;
      const applyStart = performance.now();
      if (source === 'kubernetes') await apiDo('apply', { paths });
      else {
        writeFileSync(ws.path('huge.tmp'), hugeYaml(paths));
        renameSync(ws.path('huge.tmp'), path.join(manifests, 'huge.yaml'));
      }
      const applied = await until(ready, genBefore, (s) => s === 200);
      const unreadyApplyMs = ready.unreadyMs;
      await sleep(HOLD_S * 1000);
      const rssApplied = memOf(flusso.pid).rss;

      ready.unreadyMs = 0;
      const genApplied = ready.body.generation;
      const deleteStart = performance.now();
      if (source === 'kubernetes') await apiDo('remove');
      else rmSync(path.join(manifests, 'huge.yaml'));
      const deleted = await until(ready, genApplied, (s) => s === 404);
      const unreadyDeleteMs = ready.unreadyMs;
      await sleep(SETTLE_S * 1000);
      const rssAfter = memOf(flusso.pid).rss;
      await probe.stop();
      rss.stop();
      ready.stop = true;
      await ready.done;
      await ws.stop(flusso);
      if (api !== undefined) {
        api.disconnect();
        await new Promise((r) => api.on('exit', r));
      }

      const window = (from, to) => probe.samples.filter((s) => s.at >= from && s.at <= to).map((s) => s.ms);
      const applyProbes = window(applyStart, applied);
      const deleteProbes = window(deleteStart, deleted);
      const row = {
        source,
        paths,
        applyMs: applied - applyStart,
        deleteMs: deleted - deleteStart,
        healthzApply: stats(applyProbes),
        healthzDelete: stats(deleteProbes),
        probesOver1s: [...applyProbes, ...deleteProbes].filter((ms) => ms > 1000).length,
        unreadyApplyMs,
        unreadyDeleteMs,
        rssMiB: { before: mib(rssBefore), peak: mib(Math.max(...rss.samples.map((s) => s.rss))), applied: mib(rssApplied), after: mib(rssAfter) },
      };
      rows.push(row);
      say(`  apply ${row.applyMs.toFixed(0)} ms, /healthz p50 ${fmt(row.healthzApply.p50)} p99 ${fmt(row.healthzApply.p99)} max ${fmt(row.healthzApply.max)} ms; delete ${row.deleteMs.toFixed(0)} ms, /healthz p99 ${fmt(row.healthzDelete.p99)} max ${fmt(row.healthzDelete.max)} ms; RSS ${row.rssMiB.before} → ${row.rssMiB.peak} (peak) → ${row.rssMiB.applied} → ${row.rssMiB.after} MiB`);
    }
  }
  backend.close();
  keepAlive.destroy();

  const git = gitInfo();
  const flussoCommit = FLUSSO_ROOT === ROOT ? git.commit : execFileSync('git', ['rev-parse', 'HEAD'], { cwd: FLUSSO_ROOT }).toString().trim();
  const machine = machineInfo();
  let md = `One Ingress with N paths applied, held ${HOLD_S} s, deleted; ${WORKERS} workers; /healthz every ${PROBE_MS} ms on a new connection; node ${process.version}, flusso ${flussoCommit.slice(0, 8)}${FLUSSO_ROOT === ROOT && git.dirty ? ' (dirty)' : ''}, ${machine.cpu} × ${machine.cpus}\n\n`;
  md += '| source | paths | apply ms | /healthz during apply p50 / p99 / max ms | delete ms | /healthz during delete p50 / p99 / max ms | probes > 1 s | /readyz non-200 ms (apply / delete) | primary RSS MiB before / peak / applied / after |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  for (const r of rows)
    md += `| ${r.source} | ${r.paths.toLocaleString('en-US')} | ${r.applyMs.toFixed(0)} | ${fmt(r.healthzApply.p50)} / ${fmt(r.healthzApply.p99)} / ${fmt(r.healthzApply.max)} | ${r.deleteMs.toFixed(0)} | ${fmt(r.healthzDelete.p50)} / ${fmt(r.healthzDelete.p99)} / ${fmt(r.healthzDelete.max)} | ${r.probesOver1s} | ${r.unreadyApplyMs.toFixed(0)} / ${r.unreadyDeleteMs.toFixed(0)} | ${r.rssMiB.before} / ${r.rssMiB.peak} / ${r.rssMiB.applied} / ${r.rssMiB.after} |\n`;
  say(`\n${md}`);
  const startedAt = new Date().toISOString();
  const stem = writeResults(resultStem(startedAt, flussoCommit, '-huge-ingress'), { node: process.version, commit: flussoCommit, flussoRoot: FLUSSO_ROOT, machine, workers: WORKERS, probeMs: PROBE_MS, holdS: HOLD_S, settleS: SETTLE_S, rows }, md);
  say(`written: ${stem}.json`);
}

function stats(xs) {
  if (xs.length === 0) return { p50: NaN, p99: NaN, max: NaN, n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: q(0.5), p99: q(0.99), max: s[s.length - 1], n: s.length };
}

function mib(bytes) {
  return Math.round(bytes / 2 ** 20);
}

function fmt(ms) {
  return Number.isFinite(ms) ? (ms < 10 ? ms.toFixed(1) : ms.toFixed(0)) : '∞';
}

function say(s) {
  process.stdout.write(`${s}\n`);
}
