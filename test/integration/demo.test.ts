/**
 * The README's first command: the demo launcher starts its echo pods and Flusso on a copy of
 * demo/manifests, prints what to try (with the GUI URL and token), serves those routes, and
 * stops cleanly on Ctrl-C (SIGINT). The token is never on a command line.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pollUntil, REPO_ROOT } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { freePorts } from '../helpers/ports.js';

describe('npm run demo', () => {
  it('serves the demo routes, prints the URLs to try, and stops on SIGINT', async () => {
    const [httpPort = 0, adminPort = 0, httpsPort = 0] = await freePorts(3);
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/demo/run.js'), '--http-port', String(httpPort), '--https-port', String(httpsPort), '--admin-port', String(adminPort), '--workers', '1'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Flusso runs in its own process group: a launcher killed outright would leave it running, so
    // a test that fails early asks the launcher to stop it (SIGTERM is forwarded), then kills.
    onTestFinished(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    });

    await pollUntil('the demo to say it is ready', async () => (out.includes('Press Ctrl-C to stop.') ? true : undefined), 30_000);
    expect(out).toContain(`curl -H 'Host: shop.localtest.me' http://127.0.0.1:${httpPort}/api/orders`);
    const token = /#token=([A-Za-z0-9_-]+)/.exec(out)?.[1];
    expect(token).toBeDefined();
    // The token reaches Flusso in its environment, not its arguments: no command line `ps` can
    // show (the launcher's, Flusso's or a worker's) holds it.
    const commandLines = readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .flatMap((pid) => {
        try {
          return [readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')];
        } catch {
          return []; // gone meanwhile
        }
      });
    expect(commandLines.filter((c) => c.includes('bin/flusso')).length).toBeGreaterThan(0);
    expect(commandLines.filter((c) => c.includes(token as string))).toEqual([]);

    const api = await httpRequest({ port: httpPort, host: 'shop.localtest.me', path: '/api/orders' });
    expect([api.status, api.json?.service]).toEqual([200, 'shop-api']);
    expect(out).toContain(`curl -k -H 'Host: shop.localtest.me' https://127.0.0.1:${httpsPort}/api/orders`);
    const secure = await httpRequest({ port: httpsPort, host: 'shop.localtest.me', path: '/api/orders', tls: {} });
    expect([secure.status, secure.json?.service, secure.peerCertificate?.subject?.CN]).toEqual([200, 'shop-api', 'Flusso Default Certificate']);
    const blog = await httpRequest({ port: httpPort, host: 'alice.blog.localtest.me', path: '/' });
    expect([blog.status, blog.json?.service]).toEqual([200, 'blog']);
    // The demo caches the blog: asked again, a worker answers from its cache (each worker has its
    // own cache and connections spread over the workers, so ask until one has it).
    expect(['MISS', 'HIT']).toContain(blog.headers['x-cache-status']);
    let hit: Awaited<ReturnType<typeof httpRequest>> | undefined;
    for (let i = 0; i < 20 && hit === undefined; i++) {
      const again = await httpRequest({ port: httpPort, host: 'alice.blog.localtest.me', path: '/' });
      // Every answer counts: a 200 from the blog, from the cache or filling it.
      expect([again.status, again.json?.service]).toEqual([200, 'blog']);
      expect(['MISS', 'HIT']).toContain(again.headers['x-cache-status']);
      if (again.headers['x-cache-status'] === 'HIT') hit = again;
    }
    expect(hit?.json?.service).toBe('blog');
    const fallback = await httpRequest({ port: httpPort, host: 'nothing.localtest.me', path: '/' });
    expect([fallback.status, fallback.json?.service]).toEqual([200, 'shop-web']);
    const routes = await fetch(`http://127.0.0.1:${adminPort}/api/v1/routes`, { headers: { authorization: `Bearer ${token}` } });
    expect(routes.status).toBe(200);

    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
