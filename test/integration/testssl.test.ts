/**
 * testssl.sh (the Debian package) against Flusso's HTTPS port (issue #11): no protocol, cipher or
 * TLS vulnerability finding rated above LOW. Every finding is printed, so the CI log keeps the
 * whole scan. Certificate findings that belong to the test's own CA (not publicly trusted, no
 * revocation URL, no CAA record) and the application's security headers are printed but not
 * judged here: they are properties of the certificate an operator brings and of the backend.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPki, tlsSecret } from '../helpers/certs.js';
import { startEchoPods, type EchoPods } from '../helpers/echo.js';
import { startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { endpointSlice, ingressClass, manifestDir, service } from '../helpers/manifests.js';

const NS = 'scan';
const HOST = 'scan.tls.test';

interface Finding {
  readonly id: string;
  readonly severity: string;
  readonly finding: string;
}

/** What the scan judges: everything but the certificate an operator brings and the backend's headers. */
const NOT_JUDGED = /^(?:cert|certs_|certificate_transparency|OCSP_|DNS_CAArecord|HTTP_|HSTS|HPKP|banner_|cookie_|security_headers|service|scanTime)/;
const ALLOWED = new Set(['OK', 'INFO', 'LOW']);

/**
 * clientRace: testssl.sh's ticket resumption check could not run because of its own client. When
 * its certificate probe (TLS 1.3) happened to read the server's NewSessionTicket, it tests
 * resumption on TLS 1.3 with `openssl s_client </dev/null`, which hangs up right after the
 * handshake; TLS 1.3 sends tickets after it, so the client often leaves before one arrives, saves
 * an empty session and reports "connect problem". Whether the probe read the ticket is a race
 * too, so this comes and goes with the machine's load, for any TLS 1.3 server. Resumption itself
 * is judged by 'resumes sessions by ticket on TLS 1.2 and TLS 1.3' below, whose client waits for
 * the ticket.
 */
function clientRace(f: Finding): boolean {
  return f.id.startsWith('sessionresumption_') && f.severity === 'WARN' && /connect problem/.test(f.finding);
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024, timeout: 300_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('testssl.sh against the HTTPS port', () => {
  let echo: EchoPods;
  let flusso: FlussoProcess;
  let findings: Finding[] = [];

  beforeAll(async () => {
    const pki = testPki();
    echo = await startEchoPods('web', ['127.0.0.1'], 0, { namespace: NS, ingress: 'scan' });
    const dir = await manifestDir();
    await dir.write('app.yaml', [
      ingressClass('flusso'),
      service(NS, 'web', [{ name: 'http', port: 80, targetPort: echo.port }]),
      endpointSlice(NS, 'web', echo.addresses, echo.port, { portName: 'http' }),
      tlsSecret(NS, 'scan-cert', pki.valid([HOST])),
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: { name: 'scan', namespace: NS },
        spec: {
          ingressClassName: 'flusso',
          tls: [{ hosts: [HOST], secretName: 'scan-cert' }],
          rules: [{ host: HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
        },
      },
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
    await flusso.waitForGeneration(1);

    const work = await mkdtemp(join(tmpdir(), 'flusso-testssl-'));
    const json = join(work, 'findings.json');
    const ca = join(work, 'ca.pem');
    await writeFile(ca, pki.caPem);
    // Protocols, cipher categories, server cipher preference, forward secrecy, server defaults
    // (certificate, resumption) and the vulnerability checks; --ip keeps it on loopback.
    const scan = async (): Promise<Finding[]> => {
      const out = await run('testssl', [
        '--quiet', '--color', '0', '--warnings', 'off', '--sneaky', '--add-ca', ca,
        '--protocols', '--std', '--server-preference', '--fs', '--server-defaults', '--vulnerable',
        '--jsonfile', json, '--ip', '127.0.0.1', `https://${HOST}:${flusso.httpsPort}/`,
      ]);
      // The scan's own report, for the CI log.
      console.log(out.stdout);
      if (out.stderr.trim() !== '') console.log(out.stderr);
      const found = JSON.parse(await readFile(json, 'utf8')) as Finding[];
      await rm(json, { force: true });
      console.log(found.map((f) => `${f.severity.padEnd(8)} ${f.id}: ${f.finding}`).join('\n'));
      return found;
    };
    findings = await scan();
    // A check testssl.sh could not run ("connect problem": its openssl client gave up) says
    // nothing about the server: scan once more. A second one stays a finding. The session
    // resumption checks are the exception (clientRace): they are judged by the test below.
    if (findings.some((f) => f.severity === 'WARN' && /connect problem/.test(f.finding) && !clientRace(f))) {
      console.log('testssl.sh reported a connect problem; scanning once more');
      findings = await scan();
    }
  }, 360_000);

  afterAll(async () => {
    await flusso?.stop();
    await echo?.close();
  });

  it('scanned the protocols, the ciphers and the vulnerability checks', () => {
    const ids = new Set(findings.map((f) => f.id));
    for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1', 'TLS1_2', 'TLS1_3', 'cipherlist_NULL', 'cipherlist_LOW', 'cipherlist_3DES_IDEA', 'cipherlist_AVERAGE', 'cipherlist_STRONG', 'cipher_order', 'PFS', 'heartbleed', 'ROBOT', 'LOGJAM', 'SWEET32', 'BEAST', 'LUCKY13', 'RC4']) {
      expect(ids, id).toContain(id);
    }
  });

  it('offers TLS 1.2 and 1.3 only', () => {
    const offered = (id: string): string => findings.find((f) => f.id === id)?.finding ?? 'missing';
    expect({ SSLv2: offered('SSLv2'), SSLv3: offered('SSLv3'), TLS1: offered('TLS1'), TLS1_1: offered('TLS1_1') }).toEqual({
      SSLv2: 'not offered', SSLv3: 'not offered', TLS1: 'not offered', TLS1_1: 'not offered',
    });
    expect(offered('TLS1_2')).toMatch(/^offered/);
    expect(offered('TLS1_3')).toMatch(/^offered/);
  });

  it('offers strong ciphers only: every weaker category is not offered', () => {
    const of = (id: string): string => findings.find((f) => f.id === id)?.finding ?? 'missing';
    expect(['NULL', 'aNULL', 'EXPORT', 'LOW', '3DES_IDEA', 'AVERAGE', 'STRONG'].map((c) => `${c}: ${of(`cipherlist_${c}`)}`)).toEqual([
      'NULL: not offered', 'aNULL: not offered', 'EXPORT: not offered', 'LOW: not offered', '3DES_IDEA: not offered', 'AVERAGE: not offered', 'STRONG: offered',
    ]);
  });

  // testssl.sh 3.0 rates a server without its own cipher order HIGH. The HTTPS port runs on
  // node:http2 by default (--http2 on, docs/http2.md), whose TLS (OpenSSL) keeps the server's
  // order of the offered suites, so nothing is rated above LOW. With --http2 off the port runs on
  // uWebSockets.js, which has no switch for SSL_OP_CIPHER_SERVER_PREFERENCE: the client then
  // picks among the strong suites (Mozilla's "intermediate"), rated HIGH (docs/tls.md).
  it('rates no protocol, cipher or vulnerability finding above LOW, and the server keeps its cipher order', () => {
    const judged = findings.filter((f) => !NOT_JUDGED.test(f.id) && !clientRace(f));
    expect(judged.length).toBeGreaterThan(30);
    const above = judged.filter((f) => !ALLOWED.has(f.severity)).map((f) => `${f.severity} ${f.id}: ${f.finding}`);
    expect(above).toEqual([]);
    expect(findings.find((f) => f.id === 'cipher_order')).toMatchObject({ severity: 'OK', finding: 'server' });
  });

  // node would allow a few client-initiated renegotiations and then close ("mitigated"), which
  // testssl.sh rates by timing and, on a busy machine, as a DoS threat: the front refuses them all.
  it('refuses client-initiated renegotiation outright', () => {
    expect(findings.find((f) => f.id === 'secure_client_renego')).toMatchObject({ severity: 'OK', finding: 'not vulnerable' });
  });

  it('offers h2 and http/1.1 by ALPN (issue 12)', () => {
    expect(findings.find((f) => f.id === 'ALPN_HTTP2')?.finding).toBe('h2');
    expect(findings.find((f) => f.id === 'ALPN')?.finding).toBe('http/1.1');
  });

  it('trusts the chain once the test CA is added, and sees the host certificate by SNI', () => {
    expect(findings.find((f) => f.id === 'cert_chain_of_trust')?.severity).toBe('OK');
    expect(findings.find((f) => f.id === 'cert_commonName')?.finding).toBe(HOST);
  });
});
