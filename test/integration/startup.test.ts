/**
 * Start-up that fails safe, through the built CLI (issue 16 item 1; docs/errors.md
 * ING_ERR_LISTEN_FAILED): every listener (HTTP, HTTPS, admin) that cannot be bound ends the
 * start with exit 1, the address, the flags that set it and the OS reason, before any worker is
 * forked, before readiness and before an admin token is made or logged; a second Flusso cannot
 * join a running one's port; and /healthz fails while workers cannot serve (a listener they
 * cannot bind, a proxy port another process shares).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { FLUSSO_BIN, pollUntil, REPO_ROOT, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type ManifestDir } from '../helpers/manifests.js';
import { freePorts } from '../helpers/ports.js';

const NS = 'startup';
/** An address of TEST-NET-3 (RFC 5737): no host has it. */
const NOT_HERE = '203.0.113.77';

/** HeldPort is a port another program holds. */
interface HeldPort {
  readonly pid: number;
  close(): Promise<void>;
}

/**
 * holdPort runs another program (a node process) that listens on host:port, retrying while the
 * port is still taken, and resolves once it listens. With `reusePort` it binds as uWS does, so
 * it can join a port Flusso's workers hold.
 */
async function holdPort(host: string, port: number, opts: { reusePort?: boolean } = {}): Promise<HeldPort> {
  const script = `
    const net = require('node:net');
    const deadline = Date.now() + 15000;
    const attempt = () => {
      const s = net.createServer((c) => c.destroy());
      s.once('error', (e) => { if (e.code === 'EADDRINUSE' && Date.now() < deadline) setTimeout(attempt, 5); else { console.log('error ' + e.code); process.exit(1); } });
      s.listen({ host: ${JSON.stringify(host)}, port: ${port}, exclusive: true, reusePort: ${opts.reusePort === true} }, () => console.log('held'));
    };
    attempt();`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  onTestFinished(close);
  const line = await new Promise<string>((resolve) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    void exited.then(() => resolve('exited'));
  });
  if (line !== 'held') throw new Error(`could not hold ${host}:${port}: ${line}`);
  return { pid: child.pid as number, close };
}

/** failedStart runs Flusso expecting it to exit, and returns its exit code, stderr and log. */
async function failedStart(dir: ManifestDir, ports: { httpPort: number; httpsPort: number; adminPort: number }, args: string[] = []): Promise<{ code: number | null; stderr: string; flusso: FlussoProcess }> {
  const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, waitReady: false, ...ports, args });
  onTestFinished(() => flusso.kill());
  const exit = await flusso.exited();
  return { code: exit.code, stderr: flusso.stderr(), flusso };
}

/** assertRefusedEarly checks what a refused start must not have done: no worker, no token, never started. */
function assertRefusedEarly(flusso: FlussoProcess): void {
  const messages = flusso.logs().map((l) => l.msg);
  expect(messages, flusso.output()).toContain('cannot start');
  expect(messages).not.toContain('admin token');
  expect(messages).not.toContain('worker listening');
  expect(messages).not.toContain('flusso started');
  expect(flusso.logs().find((l) => l.msg === 'cannot start')).toMatchObject({ level: 60, code: 'ING_ERR_LISTEN_FAILED' });
}

describe('start-up fails safe', () => {
  let dir: ManifestDir;
  let pods: EchoPods;

  beforeAll(async () => {
    pods = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, ingress: 'web' });
    dir = await manifestDir();
    await dir.write('00-class.yaml', [ingressClass('flusso')]);
    await dir.write('10-web.yaml', [
      ingress(NS, 'web', { host: 'web.test', paths: [{ path: '/', service: 'web', port: 'http' }] }),
      service(NS, 'web', [{ name: 'http', port: 80, targetPort: pods.port }]),
      endpointSlice(NS, 'web', pods.addresses, pods.port, { portName: 'http' }),
    ]);
  });
  afterAll(async () => {
    await pods.close();
  });

  describe('a port taken by another program: exit 1 naming the listener, the reason and the holder', () => {
    it.each([
      { listener: 'HTTP', taken: 'httpPort', address: '0.0.0.0', flags: '--http-port / --http-address' },
      { listener: 'HTTPS', taken: 'httpsPort', address: '0.0.0.0', flags: '--https-port / --https-address' },
      { listener: 'admin', taken: 'adminPort', address: '127.0.0.1', flags: '--admin-port / --admin-address' },
    ] as const)('$listener', async ({ listener, taken, address, flags }) => {
      const [httpPort = 0, httpsPort = 0, adminPort = 0] = await freePorts(3);
      const ports = { httpPort, httpsPort, adminPort };
      // Held on the loopback address: Flusso's wildcard address overlaps it.
      const holder = await holdPort('127.0.0.1', ports[taken]);
      const { code, stderr, flusso } = await failedStart(dir, ports);
      expect(code, flusso.output()).toBe(1);
      expect(stderr).toContain(
        `flusso: cannot bind the ${listener} listener ${address}:${ports[taken]} (${flags}): address already in use: another process listens on it (EADDRINUSE); held by pid ${holder.pid} (node -e) [ING_ERR_LISTEN_FAILED]`,
      );
      assertRefusedEarly(flusso);
    });
  });

  it('a second Flusso on a running one\'s ports exits 1 naming it; the first keeps serving', async () => {
    const first = await startFlusso({ manifestsDir: dir.dir, workers: 2 });
    onTestFinished(async () => {
      await first.stop();
    });
    const before = (await first.readyz()).body.workers.map((w) => w.pid);
    const [adminPort = 0] = await freePorts(1);
    const { code, stderr, flusso } = await failedStart(dir, { httpPort: first.httpPort, httpsPort: first.httpsPort, adminPort });
    expect(code, flusso.output()).toBe(1);
    const lines = stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('flusso: cannot bind 2 listeners:');
    const workers = `another Flusso (primary pid ${first.pid}, worker pids ${[...before].sort((a, b) => a - b).join(', ')})`;
    expect(lines[1]).toBe(`  cannot bind the HTTP listener 0.0.0.0:${first.httpPort} (--http-port / --http-address): address already in use: another process listens on it (EADDRINUSE); held by ${workers}`);
    expect(lines[2]).toBe(`  cannot bind the HTTPS listener 0.0.0.0:${first.httpsPort} (--https-port / --https-address): address already in use: another process listens on it (EADDRINUSE); held by ${workers} [ING_ERR_LISTEN_FAILED]`);
    assertRefusedEarly(flusso);

    // The first one's workers were never disturbed, and every request still reaches it.
    const after = await first.readyz();
    expect([after.status, after.body.workers.map((w) => w.pid), after.body.workers.map((w) => w.restarts)]).toEqual([200, before, [0, 0]]);
    for (let i = 0; i < 10; i++) {
      const r = await httpRequest({ port: first.httpPort, host: 'web.test', path: '/' });
      expect([r.status, r.json?.service]).toEqual([200, 'web']);
    }
  });

  describe('an address this host does not have: exit 1 with EADDRNOTAVAIL', () => {
    it.each([
      { listener: 'HTTP', flag: '--http-address', port: 'httpPort', flags: '--http-port / --http-address' },
      { listener: 'HTTPS', flag: '--https-address', port: 'httpsPort', flags: '--https-port / --https-address' },
      { listener: 'admin', flag: '--admin-address', port: 'adminPort', flags: '--admin-port / --admin-address' },
    ] as const)('$flag', async ({ listener, flag, port, flags }) => {
      const [httpPort = 0, httpsPort = 0, adminPort = 0] = await freePorts(3);
      const ports = { httpPort, httpsPort, adminPort };
      const { code, stderr, flusso } = await failedStart(dir, ports, [flag, NOT_HERE]);
      expect(code, flusso.output()).toBe(1);
      expect(stderr).toBe(`flusso: cannot bind the ${listener} listener ${NOT_HERE}:${ports[port]} (${flags}): address not available: no network interface of this host has it (EADDRNOTAVAIL) [ING_ERR_LISTEN_FAILED]\n`);
      assertRefusedEarly(flusso);
    });
  });

  // Root may bind any port: run without CAP_NET_BIND_SERVICE then (setpriv), else as ourselves.
  const root = process.getuid?.() === 0;
  it.runIf(process.platform === 'linux')('a privileged port without the privilege: exit 1 with EACCES', async () => {
    const [httpsPort = 0, adminPort = 0] = await freePorts(2);
    const args = ['--source', 'file', '--manifests', dir.dir, '--http-port', '80', '--https-port', String(httpsPort), '--admin-port', String(adminPort), '--workers', '1'];
    // As root, drop only the capability to bind low ports (root keeps reading the checkout, which
    // may sit in a 0700 directory such as mktemp -d makes).
    const [cmd, argv] = root ? ['setpriv', ['--bounding-set=-net_bind_service', '--inh-caps=-net_bind_service', process.execPath, FLUSSO_BIN, ...args]] : [process.execPath, [FLUSSO_BIN, ...args]];
    const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => void child.kill('SIGKILL'));
    let stderr = '';
    let stdout = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, stdout + stderr).toBe(1);
    expect(stderr).toBe('flusso: cannot bind the HTTP listener 0.0.0.0:80 (--http-port / --http-address): permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE (EACCES) [ING_ERR_LISTEN_FAILED]\n');
    expect(stdout).not.toContain('admin token');
  });

  describe('/healthz once running', () => {
    /** healthz returns the status and body of GET /healthz. */
    const healthz = async (f: FlussoProcess): Promise<{ status: number; body: string }> => {
      const res = await fetch(`http://127.0.0.1:${f.adminPort}/healthz`, { signal: AbortSignal.timeout(5000) });
      return { status: res.status, body: await res.text() };
    };
    const until = (f: FlussoProcess, what: string, status: number): Promise<{ status: number; body: string }> =>
      pollUntil(`/healthz ${status} (${what})`, async () => {
        const h = await healthz(f);
        return h.status === status ? h : undefined;
      });

    it('fails while a worker cannot bind its listener, with the address and the reason, and recovers when it can', async () => {
      const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
      onTestFinished(() => flusso.kill());
      expect(await healthz(flusso)).toEqual({ status: 200, body: 'ok\n' });
      const worker = (await flusso.readyz()).body.workers[0]!.pid;
      // Freeze the primary so it cannot restart the worker before another program takes the port.
      process.kill(flusso.pid, 'SIGSTOP');
      let frozen = true;
      onTestFinished(() => {
        if (frozen) process.kill(flusso.pid, 'SIGCONT');
      });
      process.kill(worker, 'SIGKILL');
      const holder = await holdPort('0.0.0.0', flusso.httpPort);
      process.kill(flusso.pid, 'SIGCONT');
      frozen = false;

      const sick = await until(flusso, 'worker cannot bind', 503);
      expect(sick.body).toBe(`unhealthy:\n  worker 1 cannot serve: cannot listen on 0.0.0.0:${flusso.httpPort}: address already in use: another process listens on it (EADDRINUSE)\n`);
      expect((await flusso.readyz()).status).toBe(503);
      await holder.close();
      // The worker's next restart binds: /healthz and /readyz recover, and it serves.
      expect(await until(flusso, 'worker listening again', 200)).toEqual({ status: 200, body: 'ok\n' });
      await flusso.waitForGeneration(1);
      const r = await httpRequest({ port: flusso.httpPort, host: 'web.test', path: '/' });
      expect([r.status, r.json?.service]).toEqual([200, 'web']);
    });

    it('fails while another process shares a proxy port (SO_REUSEPORT), and recovers when it leaves', async () => {
      const flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
      onTestFinished(() => flusso.kill());
      // A program that binds as uWS does can join the port of a running worker: the kernel lets it.
      const intruder = await holdPort('0.0.0.0', flusso.httpPort, { reusePort: true });
      const worker = (await flusso.readyz()).body.workers[0]!.pid;
      // A worker that listens again (here after a crash) makes the primary look at the port.
      process.kill(worker, 'SIGKILL');
      const sick = await until(flusso, 'shared port found', 503);
      expect(sick.body).toBe(
        `unhealthy:\n  the HTTP listener 0.0.0.0:${flusso.httpPort} (--http-port / --http-address) is shared with another process (pid ${intruder.pid} (node -e)): with SO_REUSEPORT the kernel would split the connections between us\n`,
      );
      expect(await flusso.waitForLog((l) => l.msg === 'proxy port shared with another process; /healthz fails')).toMatchObject({ code: 'ING_ERR_LISTEN_FAILED' });
      await intruder.close();
      expect(await until(flusso, 'intruder gone', 200)).toEqual({ status: 200, body: 'ok\n' });
    });
  });
});
