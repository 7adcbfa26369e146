/**
 * The CLI surface of the built `bin/flusso`: --help, flag validation (exit 2), configuration
 * precedence (flag > FLUSSO_* env > --config file > default) and graceful SIGTERM drain.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startEchoPods } from '../helpers/echo.js';
import { FLUSSO_BIN, pollUntil, REPO_ROOT, startFlusso, type FlussoProcess, type LogLine } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service } from '../helpers/manifests.js';
import { freePorts } from '../helpers/ports.js';

/** runCli runs `bin/flusso args` (of this checkout, or of the app copy in `root`) to completion (30 s cap) and returns its exit and output. */
function runCli(args: readonly string[], env: Record<string, string> = {}, root = REPO_ROOT): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const bin = root === REPO_ROOT ? FLUSSO_BIN : join(root, 'bin', 'flusso');
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the uWebSockets.js native binding', () => {
  /**
   * appWithUws copies the built app (bin/, dist/, gui/, package.json) into a temporary directory whose
   * node_modules links every installed package but uWebSockets.js, which is replaced by `uwsJs`:
   * the same app, with a binding that fails the way a real one can.
   */
  async function appWithUws(uwsJs: string): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), 'flusso-uws-'));
    onTestFinished(() => rm(root, { recursive: true, force: true }));
    for (const part of ['bin', 'dist', 'gui', 'package.json']) await cp(join(REPO_ROOT, part), join(root, part), { recursive: true });
    await mkdir(join(root, 'node_modules', 'uWebSockets.js'), { recursive: true });
    for (const name of await readdir(join(REPO_ROOT, 'node_modules')))
      if (name !== 'uWebSockets.js' && name !== '.bin') await symlink(join(REPO_ROOT, 'node_modules', name), join(root, 'node_modules', name));
    await writeFile(join(root, 'node_modules', 'uWebSockets.js', 'package.json'), JSON.stringify({ name: 'uWebSockets.js', main: 'uws.js' }));
    await writeFile(join(root, 'node_modules', 'uWebSockets.js', 'uws.js'), uwsJs);
    return root;
  }

  async function runApp(root: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    // Every port its own: the default HTTPS port may be held by another Flusso on this machine.
    const [httpPort, adminPort, httpsPort] = await freePorts(3);
    const manifests = await manifestDir();
    return runCli(['--manifests', manifests.dir, '--http-port', String(httpPort), '--admin-port', String(adminPort), '--https-port', String(httpsPort)], {}, root);
  }

  // What the package's own loader throws when no binary fits (here: a glibc older than the
  // binary needs, as on Debian 12 without the install step's rewrite; docs/runtime.md).
  it('refuses to start when the binary does not load: exit 1, ING_ERR_UWS_NATIVE_MISSING and the reason', async () => {
    const root = await appWithUws(
      "throw new Error('This version of uWS.js (v20.57.0) supports only Node.js versions 20, 22, 24 and 25 on (glibc) Linux.\\n\\nError: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38\\' not found (required by uws_linux_x64_137.node)');\n",
    );
    const { code, stdout, stderr } = await runApp(root);
    expect(code, stderr).toBe(1);
    const out = stdout + stderr;
    expect(out).toContain('ING_ERR_UWS_NATIVE_MISSING');
    expect(out).toContain('native uWebSockets.js binding did not load');
    expect(out).toContain("version `GLIBC_2.38' not found");
    expect(out).toContain('docs/runtime.md');
  });

  // A module that loads but is not the native binding (no SSLApp) is refused as well.
  it('refuses a stand-in without SSLApp', async () => {
    const root = await appWithUws('module.exports = { App() { throw new Error("stand-in"); } };\n');
    const { code, stdout, stderr } = await runApp(root);
    expect(code, stderr).toBe(1);
    expect(stdout + stderr).toContain('ING_ERR_UWS_NATIVE_MISSING');
    expect(stdout + stderr).toContain('lacks SSLApp');
  });
});

describe('--help', () => {
  // flag -> its documented default (undefined: the default is not a fixed string, e.g. = cores).
  const flags: Record<string, string | undefined> = {
    '--source': undefined,
    '--manifests': undefined,
    '--http-port': '8080',
    '--http-address': '0.0.0.0',
    '--admin-port': '8081',
    '--admin-address': '127.0.0.1',
    '--workers': undefined,
    '--ingress-class': 'flusso',
    '--controller-name': 'flusso.dev/ingress-controller',
    '--watch-ingress-without-class': undefined,
    '--upstream-connect-timeout': undefined,
    '--upstream-response-timeout': undefined,
    '--upstream-idle-timeout': undefined,
    '--drain-timeout': '30s',
    '--log-level': 'info',
    '--config': undefined,
  };

  it('exits 0 and lists every flag with its default', async () => {
    const { code, stdout, stderr } = await runCli(['--help']);
    expect(code, stderr).toBe(0);
    const lines = stdout.split('\n');
    for (const [flag, def] of Object.entries(flags)) {
      const at = lines.findIndex((l) => new RegExp(`${flag}(?![\\w-])`).test(l));
      expect(at, `--help mentions ${flag}\n${stdout}`).toBeGreaterThanOrEqual(0);
      if (def === undefined) continue;
      // The flag's entry: its line plus any wrapped lines up to the next flag.
      const end = lines.findIndex((l, i) => i > at && /^\s*--/.test(l));
      const entry = lines.slice(at, end < 0 ? undefined : end).join('\n');
      expect(entry, `default of ${flag}`).toContain(def);
    }
  });

  it('-h prints the same help and exits 0', async () => {
    const [short, long] = await Promise.all([runCli(['-h']), runCli(['--help'])]);
    expect(short.code, short.stderr).toBe(0);
    expect(short.stdout).toBe(long.stdout);
    expect(short.stdout).toMatch(/^ {2}-h, --help$/m);
  });
});

describe('invalid values exit 2 naming the flag', () => {
  it.each([
    { args: ['--http-port', 'abc'], flag: 'http-port' },
    { args: ['--source', 'nope'], flag: 'source', allowed: ['file', 'kubernetes'] },
  ])('$args', async ({ args, flag, allowed }) => {
    const { code, stderr } = await runCli(args);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain(flag);
    for (const a of allowed ?? []) expect(stderr).toContain(a);
  });
});

describe('configuration precedence: flag > env > config file > default', () => {
  async function setup() {
    const dir = await manifestDir();
    await dir.write('class.yaml', [ingressClass('flusso')]);
    const [fileAdmin, envAdmin, flagAdmin, httpPort, httpsPort] = (await freePorts(5)) as [number, number, number, number, number];
    const config = join(dir.dir, '..', 'flusso.yaml');
    await writeFile(config, `adminPort: ${fileAdmin}\nhttpPort: ${httpPort}\nhttpsPort: ${httpsPort}\nworkers: 1\n`);
    return { dir, config, fileAdmin, envAdmin, flagAdmin, httpPort };
  }
  /** startedWith returns the effective configuration from the "flusso started" log line. */
  const startedWith = async (f: FlussoProcess): Promise<LogLine> => f.waitForLog((l) => l.msg === 'flusso started');

  it('the --config file applies', async () => {
    const s = await setup();
    const f = await startFlusso({ manifestsDir: s.dir.dir, bareArgs: true, adminPort: s.fileAdmin, httpPort: s.httpPort, args: ['--config', s.config] });
    onTestFinished(() => f.kill());
    expect((await f.readyz()).status).toBe(200);
    expect(await startedWith(f)).toMatchObject({ adminPort: s.fileAdmin, httpPort: s.httpPort, workers: 1 });
  });

  it('an env var beats the config file', async () => {
    const s = await setup();
    const f = await startFlusso({
      manifestsDir: s.dir.dir,
      bareArgs: true,
      adminPort: s.envAdmin,
      httpPort: s.httpPort,
      args: ['--config', s.config],
      env: { FLUSSO_ADMIN_PORT: String(s.envAdmin) },
    });
    onTestFinished(() => f.kill());
    expect((await f.readyz()).status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${s.fileAdmin}/readyz`)).rejects.toThrow();
    expect(await startedWith(f)).toMatchObject({ adminPort: s.envAdmin, httpPort: s.httpPort });
  });

  it('a flag beats the env var and the config file; FLUSSO_CONFIG names the file', async () => {
    const s = await setup();
    const f = await startFlusso({
      manifestsDir: s.dir.dir,
      bareArgs: true,
      adminPort: s.flagAdmin,
      httpPort: s.httpPort,
      args: ['--admin-port', String(s.flagAdmin)],
      env: { FLUSSO_ADMIN_PORT: String(s.envAdmin), FLUSSO_CONFIG: s.config },
    });
    onTestFinished(() => f.kill());
    expect((await f.readyz()).status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${s.envAdmin}/readyz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${s.fileAdmin}/readyz`)).rejects.toThrow();
    expect(await startedWith(f)).toMatchObject({ adminPort: s.flagAdmin, httpPort: s.httpPort });
    // The config file's httpPort still applies where nothing overrides it.
    expect((await httpRequest({ port: s.httpPort, host: 'nothing.test' })).status).toBe(404);
  });
});

describe('SIGTERM', () => {
  it('readyz goes 503, the in-flight request completes with 200, and the process exits 0', async () => {
    const slow = await startEchoPods('slow', ['127.0.0.1'], 0, { namespace: 'cli', responseDelayMs: 1000 });
    const dir = await manifestDir();
    await dir.write('all.yaml', [
      ingressClass('flusso'),
      ingress('cli', 'slow', { host: 'slow.test', paths: [{ path: '/', service: 'slow', port: 80 }] }),
      service('cli', 'slow', [{ port: 80, targetPort: slow.port }]),
      endpointSlice('cli', 'slow', slow.addresses, slow.port),
    ]);
    const f = await startFlusso({ manifestsDir: dir.dir, workers: 2 });
    onTestFinished(() => f.kill());
    await f.waitForGeneration(1);

    const inFlight = httpRequest({ port: f.httpPort, host: 'slow.test', path: '/slow' });
    await pollUntil('the request to reach the upstream', async () => (slow.requests() >= 1 ? true : undefined), 10_000, 10);
    const exited = f.stop('SIGTERM');
    const notReady = await pollUntil(
      '/readyz 503 after SIGTERM',
      async () => {
        const r = await f.readyz().catch(() => undefined);
        return r?.status === 503 ? r.body : undefined;
      },
      10_000,
      20,
    );
    expect(notReady.ready).toBe(false);
    const res = await inFlight;
    expect(res.status, res.body).toBe(200);
    expect(res.json?.service).toBe('slow');
    expect(await exited).toEqual({ code: 0, signal: null });
  });
});
