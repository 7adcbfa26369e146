/**
 * --ssl-session-ticket-key through the built CLI (docs/tls.md, "Session resumption"): two
 * Flusso processes given the same key file resume each other's TLS session tickets, as replicas
 * behind one load balancer would (ingress-nginx's ssl-session-ticket-key); a process with its own
 * random key does not; a bad key file stops the start with exit 2 and says why.
 */
import { writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPki, tlsSecret } from '../helpers/certs.js';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { endpointSlice, ingressClass, manifestDir, service, type ManifestDir } from '../helpers/manifests.js';

const NS = 'tickets';
const HOST = 'a.tickets.test';
const pki = testPki();

describe('--ssl-session-ticket-key', () => {
  let echo: EchoPods;
  let dir: ManifestDir;
  let keyFile: string;
  let first: FlussoProcess;
  let second: FlussoProcess;
  let other: FlussoProcess;

  beforeAll(async () => {
    echo = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS });
    dir = await manifestDir();
    await dir.write('00.yaml', [
      ingressClass('flusso'),
      service(NS, 'web', [{ name: 'http', port: 80, targetPort: echo.port }]),
      endpointSlice(NS, 'web', echo.addresses, echo.port, { portName: 'http' }),
      tlsSecret(NS, 'a-cert', pki.valid([HOST])),
      {
        apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'main', namespace: NS },
        spec: { ingressClassName: 'flusso', tls: [{ hosts: [HOST], secretName: 'a-cert' }], rules: [{ host: HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
      },
    ]);
    // The form a Secret holds it in: base64, with a newline.
    keyFile = join(dir.dir, '..', 'ticket.key');
    await writeFile(keyFile, `${randomBytes(48).toString('base64')}\n`);
    [first, second, other] = await Promise.all([
      startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--ssl-session-ticket-key', keyFile] }),
      startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--ssl-session-ticket-key', keyFile] }),
      startFlusso({ manifestsDir: dir.dir, workers: 1 }),
    ]);
    await Promise.all([first, second, other].map((f) => f.waitForGeneration(1)));
  });

  afterAll(async () => {
    await Promise.all([first, second, other].map((f) => f?.stop()));
    await echo?.close();
  });

  it.each(['TLSv1.2', 'TLSv1.3'] as const)('a %s ticket from one process resumes on another with the same key, not on one with its own', async (version) => {
    const options = (port: number) => ({ host: '127.0.0.1', port, servername: HOST, ca: pki.caPem, minVersion: version, maxVersion: version });
    const ticket = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect(options(first.httpsPort));
      socket.once('session', (session: Buffer) => {
        resolve(session);
        socket.end();
      });
      socket.on('error', reject);
    });
    const resumedOn = (f: FlussoProcess): Promise<boolean> =>
      new Promise((resolve, reject) => {
        const socket = connect({ ...options(f.httpsPort), session: ticket }, () => {
          resolve(socket.isSessionReused());
          socket.end();
        });
        socket.on('error', reject);
      });
    expect([await resumedOn(first), await resumedOn(second), await resumedOn(other)]).toEqual([true, true, false]);
  });

  it('a key file that is not 48 bytes or their base64 stops the start (exit 2), naming the file, never its content', async () => {
    const bad = join(dir.dir, '..', 'bad.key');
    await writeFile(bad, `${randomBytes(80).toString('base64')}\n`);
    const f = await startFlusso({ manifestsDir: dir.dir, workers: 1, waitReady: false, args: ['--ssl-session-ticket-key', bad] });
    const exit = await f.exited();
    expect(exit.code).toBe(2);
    expect(f.stderr()).toContain(`--ssl-session-ticket-key ${bad}: its base64 decodes to 80 bytes, not 48`);
    expect(f.stderr()).toContain('[ING_ERR_CONFIG_INVALID]');
  });
});
