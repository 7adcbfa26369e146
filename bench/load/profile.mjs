#!/usr/bin/env node
/**
 * Profile one Flusso worker under load: nginx backend, Flusso (1 worker) started with
 * `node --cpu-prof` (cluster workers inherit the primary's execArgv; Node 20 refuses
 * --cpu-prof in NODE_OPTIONS), wrk for DURATION seconds,
 * then SIGTERM (the worker exits cleanly and V8 writes the profile). Prints the top functions
 * by self time and keeps the .cpuprofile (open it in Chrome DevTools or speedscope).
 *
 *   npm run build && node bench/load/profile.mjs            # 100 B
 *   SIZE=16k DURATION=8 node bench/load/profile.mjs
 *   ANNOTATIONS=rewrite,cors,limit,allow node bench/load/profile.mjs   # the annotated route (docs/annotations.md)
 *
 * Pinned like the load bench: Flusso on cpu1, wrk and the backend on cpu0.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { annotatedBackendManifests, singleBackendManifests } from './manifests.mjs';
import { exitOnHelp } from './help.mjs';

exitOnHelp(import.meta.url);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DURATION = Number(process.env.DURATION ?? 5);
const SIZE = process.env.SIZE ?? '100b';
const PATHS = { '100b': '/small', '16k': '/16k.bin', '1m': '/1m.bin' };
const BACKEND = Number(process.env.BASE_PORT ?? 18280);
const PROXY = BACKEND + 1;
const ADMIN = BACKEND + 2;
const HTTPS = BACKEND + 3; // never the default 8443 another Flusso may hold
const work = mkdtempSync(path.join(os.tmpdir(), 'flusso-prof-'));
chmodSync(work, 0o755);
const profDir = path.join(ROOT, 'bench/results/profiles');
mkdirSync(profDir, { recursive: true });
mkdirSync(path.join(work, 'www'));
mkdirSync(path.join(work, 'manifests'));
writeFileSync(path.join(work, 'www/16k.bin'), randomBytes(16384));
writeFileSync(path.join(work, 'www/1m.bin'), randomBytes(1 << 20));
for (const f of ['www', 'www/16k.bin', 'www/1m.bin']) chmodSync(path.join(work, f), 0o755);
writeFileSync(
  path.join(work, 'backend.conf'),
  `worker_processes 1; daemon off; pid ${work}/b.pid; error_log ${work}/b.err warn; events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000000; sendfile on; tcp_nopush on; tcp_nodelay on; default_type application/octet-stream;
  client_body_temp_path ${work}/t1; proxy_temp_path ${work}/t2; fastcgi_temp_path ${work}/t3; uwsgi_temp_path ${work}/t4; scgi_temp_path ${work}/t5;
  server { listen 127.0.0.1:${BACKEND} reuseport; root ${work}/www; location = /small { return 200 "${'x'.repeat(99)}\\n"; } } }
`,
);
// ANNOTATIONS=rewrite,cors,limit,allow profiles the annotated route of the hot-path cost figures (docs/annotations.md).
const ANNOTATIONS = process.env.ANNOTATIONS;
writeFileSync(path.join(work, 'manifests/bench.yaml'), ANNOTATIONS ? annotatedBackendManifests({ port: BACKEND, groups: ANNOTATIONS }) : singleBackendManifests({ port: BACKEND }));

const backend = spawn('taskset', ['-c', '0', 'nginx', '-p', work, '-e', `${work}/b.err`, '-c', `${work}/backend.conf`], { stdio: 'ignore' });
const flusso = spawn(
  'taskset',
  ['-c', '1', process.execPath, '--cpu-prof', `--cpu-prof-dir=${work}/prof`, 'bin/flusso', '--source', 'file', '--manifests', `${work}/manifests`, '--workers', '1',
    '--http-address', '127.0.0.1', '--http-port', String(PROXY), '--https-address', '127.0.0.1', '--https-port', String(HTTPS), '--admin-port', String(ADMIN), '--log-level', 'warn'],
  { cwd: ROOT, stdio: 'inherit' },
);
process.on('exit', () => {
  for (const c of [backend, flusso]) if (c.exitCode === null) c.kill('SIGKILL');
});

const url = `http://127.0.0.1:${PROXY}${PATHS[SIZE]}`;
for (let i = 0; ; i++) {
  try {
    if ((await fetch(url)).status === 200) break;
  } catch {}
  if (i > 200) throw new Error('flusso does not serve');
  await new Promise((r) => setTimeout(r, 50));
}
execFileSync('taskset', ['-c', '0', 'wrk', '-t1', '-c50', '-d1s', url], { stdio: 'ignore' }); // warm-up
const out = execFileSync('taskset', ['-c', '0', 'wrk', '-t1', '-c50', `-d${DURATION}s`, '--latency', url]).toString();
console.log(out.split('\n').filter((l) => /Requests\/sec|50%|99%/.test(l)).join('\n'));
flusso.kill('SIGTERM');
await new Promise((r) => flusso.on('exit', r));
backend.kill('SIGTERM');

// The worker is the profile with the most samples (the primary idles).
await new Promise((r) => setTimeout(r, 1000));
const files = readdirSync(`${work}/prof`).map((f) => path.join(work, 'prof', f));
console.log(`profiles: ${files.map((x) => path.basename(x)).join(', ')}`);
const profiles = files.map((f) => ({ f, p: JSON.parse(readFileSync(f, 'utf8')) }));
const busy = (p) => {
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  return p.samples.filter((id) => !idle.has(id)).length;
};
profiles.sort((a, b) => busy(b.p) - busy(a.p));
const { f, p } = profiles[0];
const dest = path.join(profDir, `worker-${SIZE}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
writeFileSync(dest, JSON.stringify(p));

const self = new Map();
const dt = (p.endTime - p.startTime) / p.samples.length;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
let total = 0;
for (const [id, c] of counts) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const key = `${cf.functionName || '(anonymous)'} ${cf.url ? `${cf.url.replace(/^.*\/(node_modules|dist|node:)/, '$1')}:${cf.lineNumber + 1}` : ''}`;
  self.set(key, (self.get(key) ?? 0) + c);
  total += c;
}
console.log(`\nself time, top 30 of ${total} samples (${(dt / 1000).toFixed(2)} ms each), ${path.basename(f)} → ${path.relative(ROOT, dest)}`);
for (const [k, c] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${((c / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
