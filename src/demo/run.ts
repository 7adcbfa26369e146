/**
 * The demo launcher (`npm run demo`): starts an echo server for every pod listed in
 * demo/manifests, copies the manifests to a temp dir, runs Flusso on them with the file source,
 * and prints what to try once Flusso is ready. Extra arguments go to Flusso unchanged
 * (`npm run demo -- --http-port 9080`). This is a CLI for humans, so it writes plain text to
 * stdout rather than log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startEchoServer, type EchoServer } from './echo-server.js';
import { formatLogLine } from '../shared/log-format.js';
import { listDemoPods, readManifestObjects, type DemoPod } from './pods.js';
import { dialableAddress, resolveDemoSettings, type DemoSettings } from './settings.js';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEMO_MANIFESTS = join(PACKAGE_ROOT, 'demo', 'manifests');
const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 100;

const say = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

class DemoError extends Error {}

/** portIsFree tries to bind address:port and releases it at once. */
function portIsFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host: address, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

async function startPods(pods: readonly DemoPod[], started: EchoServer[]): Promise<void> {
  for (const pod of pods) {
    try {
      started.push(await startEchoServer({ host: pod.address, port: pod.port, identity: pod.identity }));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${code ?? String(err)})`;
      throw new DemoError(`demo port ${pod.address}:${pod.port} (echo pod ${pod.identity.pod}) ${why}; stop whatever holds it and retry`);
    }
  }
}

async function waitForReady(settings: DemoSettings, flusso: ChildProcess): Promise<void> {
  const url = `http://${dialableAddress(settings.adminAddress)}:${settings.adminPort}/readyz`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    // If Flusso exits, the caller's race on its exit wins; stop polling.
    if (flusso.exitCode !== null || flusso.signalCode !== null) return;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  throw new DemoError(`Flusso was not ready after ${READY_TIMEOUT_MS / 1000} s (${url} never answered 200); see its output above`);
}

function printWelcome(settings: DemoSettings, manifestsDir: string, pods: number, token: string): void {
  const http = `http://${dialableAddress(settings.httpAddress)}:${settings.httpPort}`;
  const https = `https://${dialableAddress(settings.httpsAddress)}:${settings.httpsPort}`;
  const admin = `http://${dialableAddress(settings.adminAddress)}:${settings.adminPort}`;
  const port = settings.httpPort;
  say(`
Flusso is ready: proxy on ${http}, admin on ${admin}, ${pods} echo pods behind it.

Try these (each answer is JSON saying which service and pod served it):
  curl -H 'Host: shop.localtest.me' ${http}/               # shop-web, round-robin over 3 pods
  curl -H 'Host: shop.localtest.me' ${http}/api/orders     # shop-api (longest prefix wins)
  curl -H 'Host: shop.localtest.me' ${http}/healthz        # shop-web (Exact path)
  curl -H 'Host: alice.blog.localtest.me' ${http}/         # blog (wildcard host)
  curl -sI -H 'Host: alice.blog.localtest.me' ${http}/     # blog is cached: X-Cache-Status MISS, then HIT (per worker)
  curl -H 'Host: nothing.localtest.me' ${http}/            # fallback Ingress (default backend)
  curl -k -H 'Host: shop.localtest.me' ${https}/api/orders  # HTTPS (-k: no Ingress here has TLS, so the generated default certificate)

*.localtest.me resolves to 127.0.0.1 on public DNS, so with a resolver you can also run:
  curl http://shop.localtest.me:${port}/api/orders

GUI (live charts, routes, backends with drain and weight controls, route explainer):
  ${admin}/#token=${token}

Admin API and metrics (bearer token):
  curl ${admin}/readyz
  curl -H 'Authorization: Bearer ${token}' ${admin}/api/v1/routes
  curl -H 'Authorization: Bearer ${token}' ${admin}/metrics

Change routes live: edit ${manifestsDir}/*.yaml and save.
Press Ctrl-C to stop.
`);
}

async function main(): Promise<number> {
  const extraArgs = process.argv.slice(2);
  const settings = resolveDemoSettings(extraArgs, process.env);
  // The demo picks the admin token (unless given) so it can print the GUI URL with it. It reaches
  // Flusso in the environment (FLUSSO_ADMIN_TOKEN), never on the command line, which `ps` shows
  // to every user of the machine.
  const token = settings.adminToken ?? randomBytes(18).toString('base64url');
  const tokenEnv = settings.adminToken === undefined ? { FLUSSO_ADMIN_TOKEN: token } : {};
  const { files, objects } = await readManifestObjects(DEMO_MANIFESTS);
  const pods = listDemoPods(objects);
  const echoes: EchoServer[] = [];
  let tmp: string | undefined;
  let flusso: ChildProcess | undefined;
  const cleanup = async (): Promise<void> => {
    await Promise.all(echoes.map((e) => e.close()));
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  };
  try {
    for (const [what, flag, address, port] of [
      ['proxy', 'http', settings.httpAddress, settings.httpPort],
      ['HTTPS proxy', 'https', settings.httpsAddress, settings.httpsPort],
      ['admin', 'admin', settings.adminAddress, settings.adminPort],
    ] as const)
      if (!(await portIsFree(address, port)))
        throw new DemoError(`demo port ${address}:${port} (Flusso ${what}) is already in use; stop whatever holds it or pass --${flag}-port`);
    await startPods(pods, echoes);
    tmp = await mkdtemp(join(tmpdir(), 'flusso-demo-'));
    for (const f of files) await copyFile(join(DEMO_MANIFESTS, f), join(tmp, f));

    // Own process group: a terminal Ctrl-C reaches only this launcher, which forwards it once.
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin', 'flusso'), '--source', 'file', '--manifests', tmp, ...extraArgs], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, ...tokenEnv },
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    flusso = child;
    const exited = new Promise<number>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1))),
    );
    if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => say(formatLogLine(line)));
    // npm forwards the terminal's signal too, so the same Ctrl-C can arrive twice: pass it on
    // once, and only a signal given a second later (a deliberate repeat) again.
    let lastForwardMs = 0;
    const forward = (signal: NodeJS.Signals): void => {
      if (child.exitCode !== null || child.signalCode !== null || Date.now() - lastForwardMs < 1000) return;
      lastForwardMs = Date.now();
      child.kill(signal);
    };
    process.on('SIGINT', () => forward('SIGINT'));
    process.on('SIGTERM', () => forward('SIGTERM'));
    process.on('SIGHUP', () => forward('SIGTERM'));

    await Promise.race([waitForReady(settings, child), exited]);
    if (child.exitCode === null && child.signalCode === null) printWelcome(settings, tmp, pods.length, token);
    const code = await exited;
    flusso = undefined;
    return code;
  } catch (err) {
    if (!(err instanceof DemoError)) throw err;
    process.stderr.write(`flusso demo: ${err.message}\n`);
    return 1;
  } finally {
    if (flusso && flusso.exitCode === null && flusso.signalCode === null) flusso.kill('SIGKILL');
    await cleanup();
  }
}

process.exitCode = await main();
