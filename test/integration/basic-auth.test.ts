/**
 * ingress-nginx `auth-type: basic` through the built CLI (issue 15 group 6): htpasswd Secrets
 * (auth-file and auth-map) in the manifests, every supported hash format made by an independent
 * tool at test time (openssl passwd, bcryptjs, node:crypto). The right password lets the request
 * through without its Authorization field (as ingress-nginx clears it); no credentials, an unknown
 * user or a wrong password get 401 with `WWW-Authenticate: Basic realm="…"`; a missing Secret or
 * digest refuses every request (503); a line Flusso cannot check is a diagnostic; a Secret change
 * applies without a restart; the backend is asked only for authenticated requests.
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { httpRequest } from '../helpers/http.js';
import { endpointSlice, ingress, ingressClass, manifestDir, service, type K8sObject, type ManifestDir } from '../helpers/manifests.js';

const NS = 'ba';
const N = 'nginx.ingress.kubernetes.io/';
const openssl = (...args: string[]): string => execFileSync('openssl', ['passwd', ...args], { encoding: 'utf8' }).trim();

/** The users of the auth-file Secret: one per format, each with its own password. */
const USERS: Record<string, [string, string]> = {
  bcrypt: ['b-pass', bcrypt.hashSync('b-pass', 10)],
  apr1: ['a-pass', openssl('-apr1', 'a-pass')],
  md5: ['m-pass', openssl('-1', 'm-pass')],
  sha256: ['s5-pass', openssl('-5', 's5-pass')],
  sha512: ['s6-pass', openssl('-6', 's6-pass')],
  sha: ['sha-pass', `{SHA}${createHash('sha1').update('sha-pass').digest('base64')}`],
  plain: ['p-pass', '{PLAIN}p-pass'],
};

function authed(name: string, annotations: Record<string, string>, to = 'web'): K8sObject {
  const ing = ingress(NS, name, { host: `${name}.test`, paths: [{ path: '/', service: to, port: 'http' }] });
  (ing.metadata as { annotations?: Record<string, string> }).annotations = annotations;
  return ing;
}
const secret = (name: string, stringData: Record<string, string>): K8sObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { namespace: NS, name }, type: 'Opaque', stringData });
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let web: EchoPods;
let flusso: FlussoProcess;
let dir: ManifestDir;
/** A WebSocket backend: the fields of each upgrade it accepted. */
let wsBackend: http.Server;
const wsUpgrades: http.IncomingHttpHeaders[] = [];
const htpasswd = `${Object.entries(USERS).map(([u, [, h]]) => `${u}:${h}`).join('\n')}\nold:abJnggxhB/yWI\n`;

beforeAll(async () => {
  web = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, ingress: 'file' });
  wsBackend = http.createServer((_req, res) => res.end());
  new WebSocketServer({ server: wsBackend }).on('connection', (_ws, req) => wsUpgrades.push(req.headers));
  await new Promise<void>((resolve) => wsBackend.listen(0, '127.0.0.1', resolve));
  const wsPort = (wsBackend.address() as AddressInfo).port;
  dir = await manifestDir();
  await dir.write('00-class.yaml', [ingressClass('flusso')]);
  await dir.write('10-web.yaml', [
    service(NS, 'web', [{ name: 'http', port: 80, targetPort: web.port }]),
    endpointSlice(NS, 'web', web.addresses, web.port, { portName: 'http' }),
    service(NS, 'ws', [{ name: 'http', port: 80, targetPort: wsPort }]),
    endpointSlice(NS, 'ws', ['127.0.0.1'], wsPort, { portName: 'http' }),
  ]);
  await dir.write('20-secrets.yaml', [secret('users', { auth: htpasswd }), secret('map', { ann: openssl('-apr1', 'ann-pass'), bob: bcrypt.hashSync('bob-pass', 4) })]);
  await dir.write('30-ingresses.yaml', [
    authed('file', { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'users', [`${N}auth-realm`]: 'Authentication Required - file' }),
    authed('map', { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: `${NS}/map`, [`${N}auth-secret-type`]: 'auth-map' }),
    authed('missing', { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'nope' }),
    authed('wsbasic', { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'users', [`${N}auth-realm`]: 'ws' }, 'ws'),
    authed('digest', { [`${N}auth-type`]: 'digest', [`${N}auth-secret`]: 'users' }),
  ]);
  flusso = await startFlusso({ manifestsDir: dir.dir, workers: 2 });
});

afterAll(async () => {
  await flusso?.stop();
  await web?.close();
  wsBackend?.closeAllConnections();
  wsBackend?.close();
});

const send = (host: string, authorization?: string, path = '/x') => httpRequest({ port: flusso.httpPort, host, path, headers: authorization === undefined ? {} : { authorization } });

describe('auth-type basic through the CLI', () => {
  it.each(Object.keys(USERS))('lets %s through with its password, without the Authorization field upstream', async (user) => {
    const [password] = USERS[user]!;
    // Twice: the second answer comes from the worker's kept result (or another worker's thread).
    for (let i = 0; i < 2; i++) {
      const r = await send('file.test', basic(user, password));
      expect(r.status, user).toBe(200);
      expect(r.json?.headers.Authorization).toBeUndefined();
    }
  });

  it('answers 401 with the realm for no credentials, another scheme, an unknown user, a wrong password, never asking the backend', async () => {
    const before = web.requests();
    for (const authorization of [undefined, 'Bearer x', basic('nobody', 'x'), basic('bcrypt', 'wrong'), basic('apr1', 'b-pass'), basic('sha512', ''), 'Basic !!!', basic('old', 'anything')]) {
      const r = await send('file.test', authorization);
      expect(r.status, String(authorization)).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic realm="Authentication Required - file"');
    }
    expect(web.requests()).toBe(before);
  });

  it('reads an auth-map Secret (users as keys), with "basic" in any case', async () => {
    expect((await send('map.test', basic('ann', 'ann-pass'))).status).toBe(200);
    expect((await send('map.test', basic('bob', 'bob-pass').replace('Basic', 'bASIC'))).status).toBe(200);
    const refused = await send('map.test', basic('bob', 'ann-pass'));
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Basic realm=""');
  });

  it('refuses every request (503) when the Secret is missing or auth-type is digest, with a diagnostic each; reports a line it cannot check', async () => {
    const diagnostics = await pollUntil('the basic-auth diagnostics', async () => {
      const all = (await flusso.diagnostics()).diagnostics.filter((d) => d.object.startsWith(`Ingress ${NS}/`));
      return all.length >= 3 ? all : undefined;
    });
    expect(diagnostics.map((d) => [d.object, d.message])).toEqual(
      expect.arrayContaining([
        [`Ingress ${NS}/missing`, `the auth-secret Secret ${NS}/nope does not exist: every request to this Ingress is refused (503) until it does`],
        [`Ingress ${NS}/digest`, `annotation ${N}auth-type is "digest", expected "basic" (Flusso does not do digest authentication); every request to this Ingress is refused (503) until it is fixed, as ingress-nginx denies the location`],
        [`Ingress ${NS}/file`, `line 8 of the auth-secret Secret ${NS}/users for user "old" has a hash format Flusso does not check (supported: bcrypt $2a$/$2b$/$2y$, $apr1$, $1$, $5$, $6$, {SHA}, {SSHA}, {PLAIN}); that line is skipped`],
      ]),
    );
    expect((await send('missing.test', basic('plain', 'p-pass'))).status).toBe(503);
    expect((await send('digest.test', basic('plain', 'p-pass'))).status).toBe(503);
  });

  it('checks a WebSocket upgrade like any request: 401 without credentials, opened with them (checked at once or on the thread), without Authorization upstream', async () => {
    const upgrade = (authorization?: string): Promise<{ status: number; challenge?: string }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${flusso.httpPort}/ws`, { headers: { Host: 'wsbasic.test', ...(authorization === undefined ? {} : { Authorization: authorization }) } });
        ws.on('open', () => {
          ws.terminate();
          resolve({ status: 101 });
        });
        ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, challenge: res.headers['www-authenticate'] ?? '' }));
        ws.on('error', reject);
      });
    const before = wsUpgrades.length;
    expect(await upgrade()).toEqual({ status: 401, challenge: 'Basic realm="ws"' });
    expect(await upgrade(basic('md5', 'wrong'))).toEqual({ status: 401, challenge: 'Basic realm="ws"' });
    expect(wsUpgrades.length).toBe(before);
    expect(await upgrade(basic('plain', USERS.plain![0]))).toEqual({ status: 101 });
    expect(await upgrade(basic('md5', USERS.md5![0]))).toEqual({ status: 101 });
    expect(wsUpgrades.slice(before).map((h) => h.authorization)).toEqual([undefined, undefined]);
  });

  it('applies a changed Secret without a restart: a new password works, the old one no longer', async () => {
    await dir.write('20-secrets.yaml', [secret('users', { auth: 'plain:{PLAIN}new-pass\n' }), secret('map', { ann: openssl('-apr1', 'ann-pass') })]);
    await pollUntil('the new password', async () => ((await send('file.test', basic('plain', 'new-pass'))).status === 200 ? true : undefined));
    expect((await send('file.test', basic('plain', 'p-pass'))).status).toBe(401);
    expect((await send('file.test', basic('bcrypt', 'b-pass'))).status).toBe(401);
  });
});
