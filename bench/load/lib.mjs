// Helpers shared by the wrk-driven load benchmarks (run.mjs, cache.mjs, cache-memory.mjs):
// arguments, prerequisites, a scratch directory whose child processes are cleaned up on exit,
// /proc accounting (CPU ticks and RSS of a process tree), taskset pinning, wrk, results files.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const NCPU = os.availableParallelism();
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
export const PAGE_BYTES = Number(execFileSync('getconf', ['PAGESIZE']).toString().trim()) || 4096;

export function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(1);
}

/** parseArgs reads `--name` and `--name=value` flags into a Map (a bare flag is 'true'). */
export function parseArgs(argv = process.argv.slice(2)) {
  return new Map(
    argv.map((a) => {
      const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
      if (!m) die(`unknown argument ${a}`);
      return [m[1], m[2] ?? 'true'];
    }),
  );
}

// --- prerequisites ------------------------------------------------------------------------

export function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`]).toString().trim();
  } catch {
    return '';
  }
}

/** requireTools dies naming the Debian packages of missing commands; with install, apt-get installs them first. */
export function requireTools(need, { install = false } = {}) {
  let missing = Object.keys(need).filter((c) => !which(c));
  if (missing.length > 0 && install) {
    execFileSync('apt-get', ['install', '-y', ...missing.map((c) => need[c])], { stdio: 'inherit' });
    missing = Object.keys(need).filter((c) => !which(c));
  }
  if (missing.length > 0) die(`missing ${missing.join(', ')}: apt-get install -y ${missing.map((c) => need[c]).join(' ')} (or run with --install)`);
}

export function requireBuild() {
  if (!existsSync(path.join(ROOT, 'dist/primary/main.js'))) die('no build: run npm run build first (npm run bench does)');
}

// --- scratch directory and child processes ---------------------------------------------------

/**
 * Workspace is a temp directory plus the servers started in it. Every child is killed (TERM,
 * then KILL after 3 s) and the directory removed when the process exits, also on SIGINT/SIGTERM.
 */
export class Workspace {
  constructor(prefix) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    chmodSync(this.dir, 0o755); // nginx workers may run as nobody
    this.children = [];
    this.cleaned = false;
    this.extraDirs = [];
    process.on('exit', () => this.cleanup());
    for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
  }

  path(...parts) {
    return path.join(this.dir, ...parts);
  }

  /** ownDir registers another directory (e.g. under /dev/shm) to remove at exit. */
  ownDir(dir) {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    this.extraDirs.push(dir);
    return dir;
  }

  logOf(name) {
    return this.path(`${name}.log`);
  }

  start(name, cmd, argv, env = process.env) {
    const out = this.logOf(name);
    writeFileSync(out, '');
    const fd = openSync(out, 'a');
    const child = spawn(cmd, argv, { stdio: ['ignore', fd, fd], cwd: ROOT, env });
    child.on('exit', (code, sig) => {
      if (!this.cleaned && !child.expectedExit) console.error(`bench: ${name} exited (${code ?? sig}); log:\n${safeRead(out)}`);
    });
    this.children.push(child);
    return child;
  }

  /** stop ends one child started here (TERM, KILL after 3 s) and waits for it. */
  async stop(child) {
    child.expectedExit = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }

  cleanup() {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const c of this.children) {
      try {
        process.kill(c.pid, 'SIGTERM');
      } catch {}
    }
    const deadline = Date.now() + 3000;
    while (this.children.some((c) => alive(c.pid)) && Date.now() < deadline) execFileSync('sleep', ['0.05']);
    for (const c of this.children) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {}
    }
    rmSync(this.dir, { recursive: true, force: true });
    for (const d of this.extraDirs) rmSync(d, { recursive: true, force: true });
  }
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function safeRead(f) {
  try {
    return readFileSync(f, 'utf8').slice(-4000);
  } catch {
    return '';
  }
}

/** portsFree dies when a port is taken: SO_REUSEPORT servers would silently share the load. */
export async function portsFree(list) {
  for (const p of list) {
    const busy = await new Promise((resolve) => {
      const s = net.connect(p, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (busy) die(`port ${p} is in use (a leftover bench run? another BASE_PORT?)`);
  }
}

/** nginxCommon is the head of every nginx config: foreground, files in dir, no access log. */
export function nginxCommon(dir, name, workers) {
  return `worker_processes ${workers}; daemon off; pid ${dir}/${name}.pid; error_log ${dir}/${name}.err warn;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 100000000; client_body_temp_path ${dir}/tmp-${name}-body; proxy_temp_path ${dir}/tmp-${name}-proxy;
  fastcgi_temp_path ${dir}/tmp-${name}-fcgi; uwsgi_temp_path ${dir}/tmp-${name}-uwsgi; scgi_temp_path ${dir}/tmp-${name}-scgi;`;
}

// --- /proc accounting -------------------------------------------------------------------------

export function procStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), rssBytes: Number(f[21]) * PAGE_BYTES };
  } catch {
    return null;
  }
}

/** tree returns pid and every descendant (node:cluster workers, nginx workers). */
export function tree(root) {
  const kids = childrenMap();
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(kids.get(out[i]) ?? []));
  return out;
}

/** childPids returns the direct children of pid. */
export function childPids(pid) {
  return childrenMap().get(pid) ?? [];
}

function childrenMap() {
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = procStat(d);
    if (st === null) continue;
    const list = kids.get(st.ppid) ?? [];
    list.push(Number(d));
    kids.set(st.ppid, list);
  }
  return kids;
}

export const treeTicks = (pids) => pids.reduce((sum, p) => sum + (procStat(p)?.ticks ?? 0), 0);

export function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  return { busy: f.reduce((a, b) => a + b, 0) - idle, total: f.reduce((a, b) => a + b, 0) };
}

/**
 * waitQuiet waits (at most maxS seconds) until the whole machine is below busyPct percent busy
 * (out of 100 × cores) over a 0.5 s window: other users' builds on a shared box skew a run.
 * Returns the last window's busy percentage and the seconds waited.
 */
export async function waitQuiet({ busyPct = 25, maxS = 20 } = {}) {
  const t0 = Date.now();
  for (;;) {
    const a = machineTicks();
    await sleep(500);
    const b = machineTicks();
    const busy = ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * 100 * NCPU;
    const waited = (Date.now() - t0) / 1000;
    if (busy < busyPct || waited >= maxS) return { busyPct: busy, waitedS: waited };
  }
}

/** memOf reads VmRSS and VmHWM (peak RSS) of one process from /proc/<pid>/status, in bytes. */
export function memOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/** pin moves every thread of a process tree to the cpu list (taskset -a). */
export function pin(pids, cpus) {
  for (const p of pids) {
    try {
      execFileSync('taskset', ['-a', '-cp', cpus, String(p)], { stdio: 'ignore' });
    } catch {}
  }
}

// --- wrk ----------------------------------------------------------------------------------------

export function toMs(v) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2]];
}

/** wrk runs `wrk -t1 -cN -dS --latency url` (on cpu0 when pinned) and parses its summary. */
export function wrk(url, { seconds, connections, pinned = false, headers = [] }) {
  const argv = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url];
  return new Promise((resolve, reject) => {
    const child = spawn(pinned ? 'taskset' : 'wrk', pinned ? ['-c', '0', 'wrk', ...argv] : argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000);
    child.on('exit', () => {
      clearTimeout(timer);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const total = /(\d+) requests in/.exec(out);
      if (!rps || !total) return reject(new Error(`wrk failed on ${url}:\n${out}`));
      const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      resolve({
        rps: Number(rps[1]),
        requests: Number(total[1]),
        p50: toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
        p99: toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
        errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
        non2xx: non2xx ? Number(non2xx[1]) : 0,
      });
    });
  });
}

/** waitReady polls url until it answers 200 (10 s) and returns the body; dies with the log otherwise. */
export async function waitReady(name, url, logFile) {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url);
      const body = Buffer.from(await r.arrayBuffer());
      if (r.status === 200) return body;
    } catch {}
    await sleep(50);
  }
  die(`${name} does not serve ${url}${logFile ? `; log:\n${safeRead(logFile)}` : ''}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- results ------------------------------------------------------------------------------------

export function gitInfo() {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench'], { cwd: ROOT }).toString().trim() !== '';
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: true };
  }
}

export function toolVersion(cmd, argv, re) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return re.exec(text)?.[1] ?? 'unknown';
}

export function machineInfo() {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: NCPU,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    hostname: os.hostname(),
  };
}

export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const fmtTime = (s) => (s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`);

/** writeResults writes bench/results/<stem>.json and .md and returns the relative stem. */
export function writeResults(stem, data, md) {
  const resultsDir = path.join(ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, `${stem}.json`), JSON.stringify({ ...data, markdown: md }, null, 2));
  writeFileSync(path.join(resultsDir, `${stem}.md`), md);
  return `bench/results/${stem}`;
}

/** resultStem names a results file: start time, short commit, and a suffix. */
export const resultStem = (startedAt, commit, suffix = '') => `${startedAt.replace(/[:.]/g, '-')}-${commit.slice(0, 8)}${suffix}`;

/**
 * interleavedCells is the measuring order of the load benches: mode → size → (warm-up of every
 * setup, rep 0) → repetitions, the setup order reversed on every other repetition, so no setup
 * always runs first or right after the same neighbour.
 */
export function interleavedCells(modes, sizes, setupsFor, reps) {
  const cells = [];
  for (const mode of modes) for (const size of sizes) {
    const setups = setupsFor(mode);
    for (const s of setups) cells.push({ mode, size, setup: s, rep: 0 });
    for (let r = 1; r <= reps; r++) for (const s of r % 2 ? setups : [...setups].reverse()) cells.push({ mode, size, setup: s, rep: r });
  }
  return cells;
}

/**
 * loadKnobs reads the knobs every wrk-driven bench shares: `--quick` (1 repetition, 2 s runs)
 * and DURATION, WARMUP, REPS, CONNECTIONS, BASE_PORT from the environment.
 */
export function loadKnobs(args, basePort) {
  const quick = args.has('quick');
  return {
    QUICK: quick,
    DURATION: Number(process.env.DURATION ?? (quick ? 2 : 5)),
    WARMUP: Number(process.env.WARMUP ?? 1),
    REPS: Number(process.env.REPS ?? (quick ? 1 : 3)),
    CONNECTIONS: Number(process.env.CONNECTIONS ?? 50),
    BASE_PORT: Number(process.env.BASE_PORT ?? basePort),
  };
}
