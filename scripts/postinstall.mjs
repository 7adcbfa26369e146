/**
 * postinstall: what `npm ci` runs after installing the dependencies, so that a fresh machine
 * runs Flusso with the README's commands alone (docs/runtime.md).
 *
 * 1. Node.js: when the node that runs npm is older than 24, install the pinned Node.js 24 LTS
 *    from the npm registry (scripts/runtime/, pinned by integrity in its own lockfile) into
 *    node_modules/.flusso-runtime and link it as node_modules/.bin/node. npm puts that folder
 *    first on PATH for every script (`npm test`, `npm run demo`, `npm run bench`), and
 *    bin/flusso prefers it. A machine with Node.js 24 or newer keeps its own.
 * 2. uWebSockets.js: on glibc 2.36 and 2.37, write a rewritten copy of each of its binaries for
 *    this platform beside the original, which Flusso loads instead (scripts/glibc-compat.mjs).
 *    On glibc 2.38 and newer nothing is written.
 * 3. Check that the node Flusso will run on loads the native binding.
 *
 * Plain JavaScript on purpose: it runs before any build, on whatever Node.js runs npm.
 * Output stays quiet on success (npm shows it with --foreground-scripts); a failure explains
 * itself and fails the install, because Flusso could not start anyway.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compatCopyPath, GlibcCompatError, writeCompatCopy } from './glibc-compat.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNTIME_SPEC = path.join(ROOT, 'scripts', 'runtime');
const RUNTIME_DIR = path.join(ROOT, 'node_modules', '.flusso-runtime');
const NODE_LINK = path.join(ROOT, 'node_modules', '.bin', 'node');
/** MIN_NODE_MAJOR is the oldest Node.js major Flusso runs on (package.json engines). */
const MIN_NODE_MAJOR = 24;
/** The glibc the uWS binaries are built for, and the oldest the rewrite can bridge (arc4random is 2.36). */
const UWS_GLIBC = [2, 38];
const REWRITE_FLOOR = [2, 36];

const say = (msg) => process.stdout.write(`flusso postinstall: ${msg}\n`);
function fail(msg) {
  process.stderr.write(`flusso postinstall: ${msg}\n`);
  process.exit(1);
}

const major = (version) => Number(version.replace(/^v/, '').split('.')[0]);
/** pinnedVersion is the Node.js version scripts/runtime/ pins for this architecture. */
const pinnedVersion = () => JSON.parse(readFileSync(path.join(RUNTIME_SPEC, 'package.json'), 'utf8')).optionalDependencies[`node-linux-${process.arch}`];

function versionOf(node) {
  const r = spawnSync(node, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** runtimeBinary is where the pinned package puts its node for this machine's architecture. */
function runtimeBinary() {
  return path.join(RUNTIME_DIR, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');
}

/** npm runs npm again for the nested install: the same CLI that runs us, on the same node. */
function runNpm(args) {
  const cli = process.env.npm_execpath;
  const r = cli !== undefined && cli.endsWith('.js')
    ? spawnSync(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
    : spawnSync('npm', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) fail(`npm ${args.join(' ')} failed:\n${r.stderr || r.stdout}`);
}

/** ensureRuntime returns the node Flusso will run on, installing the pinned one if needed. */
function ensureRuntime() {
  const pinned = `v${pinnedVersion()}`;
  const ours = existsSync(runtimeBinary()) ? realpathSync(runtimeBinary()) : null;
  // npm may run us on the pinned node already (its .bin/node is on PATH for a second install).
  const running = realpathSync(process.execPath);
  if (ours === null || running !== ours) {
    if (major(process.version) >= MIN_NODE_MAJOR) {
      say(`Node.js ${process.version} runs npm: Flusso uses it`);
      return process.execPath;
    }
    if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch))
      fail(`Node.js ${process.version} is older than ${MIN_NODE_MAJOR} and no pinned Node.js exists for ${process.platform}-${process.arch}: install Node.js ${MIN_NODE_MAJOR}`);
  }
  if (ours === null || versionOf(ours) !== pinned) {
    say(`Node.js ${process.version} is older than ${MIN_NODE_MAJOR}: installing the pinned Node.js ${pinned} from the npm registry`);
    rmSync(RUNTIME_DIR, { recursive: true, force: true });
    mkdirSync(RUNTIME_DIR, { recursive: true });
    for (const f of ['package.json', 'package-lock.json']) cpSync(path.join(RUNTIME_SPEC, f), path.join(RUNTIME_DIR, f));
    runNpm(['ci', '--prefix', RUNTIME_DIR, '--no-audit', '--no-fund', '--loglevel=error']);
    const got = existsSync(runtimeBinary()) ? versionOf(runtimeBinary()) : null;
    if (got !== pinned) fail(`the pinned Node.js did not install (found ${got ?? 'nothing'} at ${runtimeBinary()})`);
  }
  const target = path.relative(path.dirname(NODE_LINK), runtimeBinary());
  const current = existsSync(NODE_LINK) ? readlinkSafe(NODE_LINK) : null;
  if (current !== target) {
    mkdirSync(path.dirname(NODE_LINK), { recursive: true });
    rmSync(NODE_LINK, { force: true });
    symlinkSync(target, NODE_LINK);
  }
  say(`npm scripts and bin/flusso run on Node.js ${pinned} (${NODE_LINK})`);
  return NODE_LINK;
}

function readlinkSafe(file) {
  try {
    return readlinkSync(file);
  } catch {
    return null;
  }
}

/** glibcVersion is the running libc's version as [major, minor], or null when it is not glibc. */
function glibcVersion() {
  const v = process.report?.getReport?.().header?.glibcVersionRuntime;
  return typeof v === 'string' ? v.split('.').map(Number) : null;
}

const older = (a, b) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

/** uwsDir is the installed uWebSockets.js package (its exports map hides package.json). */
function uwsDir() {
  return path.dirname(createRequire(path.join(ROOT, 'package.json')).resolve('uWebSockets.js'));
}

/** adaptUws writes rewritten copies of this platform's uWS binaries when the local glibc needs them. */
function adaptUws() {
  if (process.platform !== 'linux') return;
  const glibc = glibcVersion();
  if (glibc === null) {
    say('this libc is not glibc: uWebSockets.js ships glibc binaries only, so Flusso will refuse to start here');
    return;
  }
  const text = glibc.join('.');
  if (!older(glibc, UWS_GLIBC)) return; // the binaries load as they are: never rewrite
  if (older(glibc, REWRITE_FLOOR)) fail(`glibc ${text} is older than ${REWRITE_FLOOR.join('.')}: uWebSockets.js needs at least that (docs/runtime.md)`);
  const dir = uwsDir();
  const prefix = `uws_linux_${process.arch}_`;
  const files = readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.node') && !f.endsWith('.glibc-compat.node'));
  if (files.length === 0) fail(`no uWebSockets.js binary for linux-${process.arch} in ${dir}`);
  for (const f of files) {
    try {
      const r = writeCompatCopy(path.join(dir, f));
      if (r !== null) say(`${path.basename(compatCopyPath(f))}: ${r.written ? 'written' : 'already there'} for glibc ${text} (${r.patches.map((p) => p.what).join('; ')})`);
    } catch (err) {
      if (err instanceof GlibcCompatError) fail(`${f}: refused (${err.code}): ${err.message}`);
      throw err;
    }
  }
}

/**
 * checkLoads loads uWS in `node` as Flusso does (src/shared/uws-native.ts: the rewritten copy
 * for this ABI when there is one, else the package), and fails the install if that cannot work.
 */
function checkLoads(node) {
  const probe = [
    `const dir = ${JSON.stringify(uwsDir())};`,
    "const copy = require('path').join(dir, `uws_${process.platform}_${process.arch}_${process.versions.modules}.glibc-compat.node`);",
    "const u = require('fs').existsSync(copy) ? require(copy) : require(dir);",
    "if (typeof u.SSLApp !== 'function') throw new Error('SSLApp missing');",
    'process.stdout.write(process.version);',
  ].join('\n');
  const r = spawnSync(node, ['-e', probe], { encoding: 'utf8' });
  if (r.status !== 0) fail(`uWebSockets.js does not load on ${node}:\n${r.stderr}`);
  say(`uWebSockets.js loads on Node.js ${r.stdout}`);
}

const node = ensureRuntime();
adaptUws();
checkLoads(node);
