// Helpers of the TLS load benches (tls.mjs, tls-rotation.mjs, issue #11): a throwaway CA and
// EC P-256 leaves written with Flusso's own X.509 writer (dist/primary/tls/x509.js, so build
// first), the manifests of one TLS Ingress (its Secret in a file of its own, so a rotation
// rewrites only that file), and the nginx `server` block ingress-nginx would render for it.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './lib.mjs';
import { singleBackendManifests } from './manifests.mjs';

const DAY_MS = 86_400_000;

/**
 * makePki creates a CA (EC P-256) and returns it with `issue(hosts)`, which writes a CA-signed
 * EC P-256 leaf for the hosts: `{ certPem (leaf + CA), keyPem, fingerprint256 }`.
 */
export async function makePki(now = new Date()) {
  const { createCertificate, generateKeyPair } = await import(pathToFileURL(path.join(ROOT, 'dist/primary/tls/x509.js')).href);
  const at = (days) => new Date(now.getTime() + days * DAY_MS);
  const ca = generateKeyPair('ec');
  const caPem = createCertificate({ subjectKey: ca.privateKey, issuer: 'self', commonName: 'Flusso Bench CA', notBefore: at(-1), notAfter: at(3650), isCA: true }).pem;
  const issue = (hosts) => {
    const key = generateKeyPair('ec');
    const leaf = createCertificate({
      subjectKey: key.publicKey,
      issuer: { certificate: caPem, key: ca.privateKey },
      commonName: hosts[0],
      dnsNames: hosts,
      notBefore: at(-1),
      notAfter: at(90),
    }).pem;
    return { certPem: leaf + caPem, keyPem: key.keyPem, fingerprint256: new X509Certificate(leaf).fingerprint256 };
  };
  return { caPem, issue };
}

/** tlsSecretYaml renders the kubernetes.io/tls Secret that carries `pair`. */
export function tlsSecretYaml({ namespace = 'default', name, pair }) {
  const b64 = (s) => Buffer.from(s).toString('base64');
  return `apiVersion: v1
kind: Secret
type: kubernetes.io/tls
metadata: { name: ${name}, namespace: ${namespace} }
data:
  tls.crt: ${b64(pair.certPem)}
  tls.key: ${b64(pair.keyPem)}
`;
}

/**
 * tlsIngressManifests renders our IngressClass, one Ingress for `host` (every path to the
 * backend on 127.0.0.1:port) whose spec.tls names Secret `secretName`, its Service and
 * EndpointSlice. The Secret itself goes in another file (tlsSecretYaml).
 */
export function tlsIngressManifests({ port, host, secretName, namespace = 'default', name = 'backend' }) {
  return singleBackendManifests({ port, host, namespace, name, tlsSecretName: secretName });
}

/**
 * nginxTlsServer is the `server` block (plus upstream) ingress-nginx renders for one TLS host,
 * reduced to what touches this path: TLS 1.2/1.3 with Flusso's cipher list, a shared session
 * cache and tickets, HSTS, the X-Forwarded-* headers, and HTTP/1.1 upstream keep-alive with
 * proxy_buffering off (as bench/load/run.mjs configures nginx for plain HTTP).
 */
export function nginxTlsServer({ listenPort, backendPort, host, certFile, keyFile, ciphers }) {
  return `  upstream backend { server 127.0.0.1:${backendPort}; keepalive 64; keepalive_requests 100000000; }
  ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers ${ciphers}; ssl_prefer_server_ciphers on;
  ssl_session_cache shared:SSL:10m; ssl_session_timeout 10m; ssl_session_tickets on; ssl_buffer_size 4k; ssl_ecdh_curve auto;
  server { listen 127.0.0.1:${listenPort} ssl reuseport; server_name ${host};
    ssl_certificate ${certFile}; ssl_certificate_key ${keyFile};
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $http_host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https; proxy_set_header X-Forwarded-Port ${listenPort};
      add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
      proxy_buffering off; } } }
`;
}

/** DEFAULT_SSL_CIPHERS reads Flusso's default --ssl-ciphers from the build (so both servers get the same list). */
export async function defaultSslCiphers() {
  const { OPTIONS } = await import(pathToFileURL(path.join(ROOT, 'dist/primary/options.js')).href);
  const opt = OPTIONS.find((o) => o.key === 'sslCiphers');
  if (typeof opt?.default !== 'string') throw new Error('no default sslCiphers in dist/primary/options.js');
  return opt.default;
}

/** httpsGet GETs url trusting `ca` (SNI and Host from the URL) and resolves { status, body, fingerprint256 }. */
export function httpsGet(url, { ca, timeoutMs = 5000, agent = false } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, agent, timeout: timeoutMs }, (res) => {
      const fingerprint256 = res.socket.getPeerCertificate?.()?.fingerprint256 ?? '';
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks), fingerprint256 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * flussoHealth reads /readyz on the admin port: { ready, generation, listening (every worker),
 * restarts (summed over workers), pids }, or null when the admin port does not answer.
 */
export async function flussoHealth(adminPort) {
  try {
    const r = await fetch(`http://127.0.0.1:${adminPort}/readyz`, { signal: AbortSignal.timeout(2000) });
    const b = await r.json();
    return {
      ready: r.status === 200 && b.ready === true,
      generation: b.generation,
      listening: b.workers.every((w) => w.listening),
      restarts: b.workers.reduce((a, w) => a + w.restarts, 0),
      pids: b.workers.map((w) => w.pid),
    };
  } catch {
    return null;
  }
}

/**
 * sTime runs `clients` parallel `openssl s_time -connect 127.0.0.1:port -time S ...extra` (on
 * cpu0 when pinned) and sums their connections over the longest wall time: s_time connects one
 * connection at a time, and times whole seconds with time(2), so its own rate is coarse. A
 * client that stops early (s_time gives up at the first failed connection) is counted as failed.
 */
export async function sTime(port, { seconds, clients, extra, pinned }) {
  const argv = ['s_time', '-connect', `127.0.0.1:${port}`, '-time', String(seconds), ...extra];
  const runs = await Promise.all(
    Array.from({ length: clients }, () => new Promise((resolve) => {
      const t0 = performance.now();
      const child = spawn(pinned ? 'taskset' : 'openssl', pinned ? ['-c', '0', 'openssl', ...argv] : argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 15) * 1000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        const m = /(\d+) connections in [\d.]+s;/.exec(out);
        resolve({ connections: m ? Number(m[1]) : 0, wallS: (performance.now() - t0) / 1000, failed: code !== 0 || !m, out: out.slice(-400) });
      });
    })),
  );
  const connections = runs.reduce((a, r) => a + r.connections, 0);
  const wallS = Math.max(...runs.map((r) => r.wallS));
  return { rps: connections / wallS, requests: connections, wallS, failedClients: runs.filter((r) => r.failed).length, errors: runs.filter((r) => r.failed).length, sample: runs.find((r) => r.failed)?.out ?? '' };
}

/**
 * h2load runs `taskset -c 0 h2load -t1 -c CLIENTS -m STREAMS -D SECONDS ...args URL` and parses its
 * summary: req/s, requests that succeeded, errors (failed + errored), 2xx answers, mean request
 * time in ms and the negotiated protocol.
 */
export function h2load(url, { clients, streams, seconds, args = [] }) {
  const argv = ['-c', '0', 'h2load', '-t1', '-c', String(clients), '-m', String(streams), '-D', String(seconds), ...args, url];
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', () => {
      const rps = /finished in [\d.]+s, ([\d.]+) req\/s/.exec(out);
      const reqs = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
      const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out);
      const status = /status codes: (\d+) 2xx/.exec(out);
      const proto = /Application protocol: (\S+)/.exec(out);
      if (!rps || !reqs) return reject(new Error(`h2load failed on ${url}:\n${out.slice(-2000)}`));
      const toMs = (v) => (v?.endsWith('us') ? Number(v.slice(0, -2)) / 1000 : v?.endsWith('ms') ? Number(v.slice(0, -2)) : Number(v?.slice(0, -1)) * 1000);
      resolve({ rps: Number(rps[1]), requests: Number(reqs[2]), ok2xx: Number(status?.[1] ?? 0), errors: Number(reqs[3]) + Number(reqs[4]), meanMs: toMs(mean?.[1]), protocol: proto?.[1] ?? '?' });
    });
  });
}
