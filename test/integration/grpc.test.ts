/**
 * gRPC through the built CLI (issue 12 item 3, docs/http2.md): a @grpc/grpc-js client on the
 * HTTPS port (HTTP/2 by ALPN) and @grpc/grpc-js servers behind Ingresses with
 * `nginx.ingress.kubernetes.io/backend-protocol: GRPC` (h2c) and `GRPCS` (h2 over TLS): unary,
 * server-, client- and bidirectional streaming, status and trailers, deadlines, a cancelled
 * call, a 10 MiB message each way, UNAVAILABLE when no endpoint is ready. And a Service port with
 * appProtocol kubernetes.io/h2c (the Gateway API conformance base's `second-port`), on an
 * Ingress without the annotation, reached with plain HTTP/2 requests.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createH2cServer, connect as h2connect, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPki, tlsSecret } from '../helpers/certs.js';
import { pollUntil, startFlusso, type FlussoProcess } from '../helpers/flusso.js';
import { endpointSlice, ingressClass, manifestDir, type K8sObject } from '../helpers/manifests.js';

const NS = 'grpc';
const HOST = 'grpc.test';
const pki = testPki();
const MiB = 1024 * 1024;
const LIMITS = { 'grpc.max_receive_message_length': 32 * MiB, 'grpc.max_send_message_length': 32 * MiB };

const raw = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };
const method = (path: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/flusso.test.Echo/${path}`, requestStream, responseStream,
  requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize,
});
const SERVICE = {
  unary: method('Unary', false, false),
  serverStream: method('ServerStream', false, true),
  clientStream: method('ClientStream', true, false),
  bidi: method('Bidi', true, true),
};
type EchoClient = grpc.Client & {
  unary(req: Buffer, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientUnaryCall;
  serverStream(req: Buffer, md?: grpc.Metadata): grpc.ClientReadableStream<Buffer>;
  clientStream(cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientWritableStream<Buffer>;
  bidi(): grpc.ClientDuplexStream<Buffer, Buffer>;
};
const EchoClientCtor = grpc.makeGenericClientConstructor(SERVICE, 'Echo') as unknown as new (address: string, creds: grpc.ChannelCredentials, opts: grpc.ClientOptions) => EchoClient;

/** Seen is what the gRPC backend observed. */
interface Seen {
  metadata: grpc.Metadata | null;
  deadline: grpc.Deadline | null;
  cancelled: number;
  onCall: (() => void) | null;
  /** Unary calls received. */
  calls: number;
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function startGrpcBackend(credentials: grpc.ServerCredentials): Promise<{ port: number; seen: Seen; server: grpc.Server }> {
  const seen: Seen = { metadata: null, deadline: null, cancelled: 0, onCall: null, calls: 0 };
  const server = new grpc.Server(LIMITS);
  server.addService(SERVICE, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      seen.calls++;
      seen.metadata = call.metadata;
      seen.deadline = call.getDeadline();
      const text = call.request.toString();
      if (text === 'fail') {
        const trailer = new grpc.Metadata();
        trailer.set('x-why', 'asked to');
        cb({ code: grpc.status.INVALID_ARGUMENT, details: 'bad input: fail', metadata: trailer });
        return;
      }
      if (text === 'slow') {
        const t = setTimeout(() => cb(null, Buffer.from('late')), 5000);
        call.on('cancelled', () => clearTimeout(t));
        return;
      }
      const trailer = new grpc.Metadata();
      trailer.set('x-trailer', 'unary');
      cb(null, Buffer.concat([Buffer.from('echo:'), call.request]), trailer);
    },
    serverStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const [kind, n] = call.request.toString().split(':');
      if (kind === 'big') {
        call.write(Buffer.alloc(10 * MiB, 7));
        call.end();
        return;
      }
      if (kind === 'forever') {
        seen.onCall?.();
        const t = setInterval(() => call.write(Buffer.from('tick')), 10);
        call.on('cancelled', () => {
          clearInterval(t);
          seen.cancelled++;
        });
        return;
      }
      for (let i = 0; i < Number(n); i++) call.write(Buffer.from(`m${i}`));
      call.end();
    },
    clientStream: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const hash = createHash('sha256');
      let size = 0;
      let count = 0;
      call.on('data', (b: Buffer) => {
        count++;
        size += b.length;
        hash.update(b);
      });
      call.on('end', () => cb(null, Buffer.from(JSON.stringify({ count, size, sha: hash.digest('hex') }))));
    },
    bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (b: Buffer) => call.write(Buffer.concat([Buffer.from('re:'), b])));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))));
  return { port, seen, server };
}

function grpcIngress(name: string, host: string, serviceName: string, protocol?: string, more: Record<string, string> = {}): K8sObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: NS, annotations: { ...more, ...(protocol === undefined ? {} : { 'nginx.ingress.kubernetes.io/backend-protocol': protocol }) } },
    spec: {
      ingressClassName: 'flusso',
      tls: [{ hosts: [host], secretName: 'grpc-cert' }],
      rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: serviceName, port: { number: serviceName === 'h2c-echo' ? 8081 : 80 } } } }] } }],
    },
  };
}

function grpcService(name: string, targetPort: number): K8sObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { ports: [{ protocol: 'TCP', port: 80, targetPort }] } };
}

describe('gRPC through Flusso (backend-protocol GRPC and GRPCS)', () => {
  let plain: Awaited<ReturnType<typeof startGrpcBackend>>;
  let secure: Awaited<ReturnType<typeof startGrpcBackend>>;
  let h2c: Http2Server;
  let flusso: FlussoProcess;
  const clients: EchoClient[] = [];

  const client = (host: string): EchoClient => {
    const c = new EchoClientCtor(`127.0.0.1:${flusso.httpsPort}`, grpc.credentials.createSsl(Buffer.from(pki.caPem)), { ...LIMITS, 'grpc.ssl_target_name_override': host, 'grpc.default_authority': host });
    clients.push(c);
    return c;
  };
  const unary = (c: EchoClient, body: string, md = new grpc.Metadata(), opts: grpc.CallOptions = {}): Promise<{ err: grpc.ServiceError | null; res?: Buffer; trailers?: grpc.Metadata }> =>
    new Promise((resolve) => {
      let trailers: grpc.Metadata | undefined;
      const call = c.unary(Buffer.from(body), md, opts, (err, res) => setImmediate(() => resolve({ err, ...(res === undefined ? {} : { res }), ...(trailers === undefined ? {} : { trailers }) })));
      call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
    });

  beforeAll(async () => {
    plain = await startGrpcBackend(grpc.ServerCredentials.createInsecure());
    const leaf = pki.valid(['backend.grpc.test']);
    secure = await startGrpcBackend(grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(leaf.keyPem), cert_chain: Buffer.from(leaf.certPem) }]));
    // Plain HTTP/2 (not gRPC) on the h2c port: it answers what it was asked.
    h2c = createH2cServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url, version: req.httpVersion, authority: req.headers[':authority'] }));
    });
    await new Promise<void>((r) => h2c.listen(0, '127.0.0.1', r));
    const h2cPort = (h2c.address() as AddressInfo).port;
    const dir = await manifestDir();
    await dir.write('all.yaml', [
      ingressClass('flusso'),
      tlsSecret(NS, 'grpc-cert', pki.valid([HOST, 'secure.grpc.test', 'none.grpc.test', 'h2c.grpc.test', 'denied.grpc.test'])),
      grpcService('echo', plain.port),
      endpointSlice(NS, 'echo', ['127.0.0.1'], plain.port),
      grpcService('secure-echo', secure.port),
      endpointSlice(NS, 'secure-echo', ['127.0.0.1'], secure.port),
      grpcService('nobody', 1),
      endpointSlice(NS, 'nobody', ['127.0.0.1'], 1, { ready: false }),
      // The Gateway API conformance base's infra-backend-v1 ports (conformance/base/manifests.yaml
      // of kubernetes-sigs/gateway-api): second-port 8081 → 3001 has appProtocol kubernetes.io/h2c.
      {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'h2c-echo', namespace: NS },
        spec: { ports: [{ name: 'first-port', protocol: 'TCP', port: 8080, targetPort: 3000 }, { name: 'second-port', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c', port: 8081, targetPort: h2cPort }] },
      },
      endpointSlice(NS, 'h2c-echo', ['127.0.0.1'], h2cPort, { portName: 'second-port' }),
      grpcIngress('echo', HOST, 'echo', 'GRPC'),
      grpcIngress('secure', 'secure.grpc.test', 'secure-echo', 'GRPCS'),
      grpcIngress('none', 'none.grpc.test', 'nobody', 'GRPC'),
      grpcIngress('h2c', 'h2c.grpc.test', 'h2c-echo'),
      grpcIngress('denied', 'denied.grpc.test', 'echo', 'GRPC', { 'nginx.ingress.kubernetes.io/allowlist-source-range': '10.0.0.0/8' }),
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1 });
    await flusso.waitForGeneration(1);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await flusso?.stop();
    plain?.server.forceShutdown();
    secure?.server.forceShutdown();
    h2c?.close();
  });

  it('passes a unary call, its metadata both ways and its trailers', async () => {
    const md = new grpc.Metadata();
    md.set('x-client', 'hello');
    const r = await unary(client(HOST), 'ping', md);
    expect(r.err).toBeNull();
    expect(r.res?.toString()).toBe('echo:ping');
    expect(r.trailers?.get('x-trailer')).toEqual(['unary']);
    expect(plain.seen.metadata?.get('x-client')).toEqual(['hello']);
    expect(plain.seen.metadata?.get('x-forwarded-proto')).toEqual(['https']);
    expect(plain.seen.metadata?.get('x-forwarded-for')).toEqual(['127.0.0.1']);
  });

  it('passes an error status, its message and its trailers (grpc-status, grpc-message)', async () => {
    const r = await unary(client(HOST), 'fail');
    expect(r.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(r.err?.details).toBe('bad input: fail');
    expect(r.err?.metadata.get('x-why')).toEqual(['asked to']);
  });

  it('streams from the server, to the server, and both ways, in order', async () => {
    const c = client(HOST);
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = c.serverStream(Buffer.from('n:50'));
      s.on('data', (b: Buffer) => got.push(b.toString()));
      s.on('end', resolve);
      s.on('error', reject);
    });
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));

    const parts = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i));
    const summary = await new Promise<Buffer>((resolve, reject) => {
      const s = c.clientStream((err, res) => (err ? reject(err) : resolve(res as Buffer)));
      for (const p of parts) s.write(p);
      s.end();
    });
    expect(JSON.parse(summary.toString())).toEqual({ count: 40, size: parts.reduce((n, p) => n + p.length, 0), sha: sha(Buffer.concat(parts)) });

    const echoed: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = c.bidi();
      let i = 0;
      s.on('data', (b: Buffer) => {
        echoed.push(b.toString());
        // Each answer comes before the next message is sent: both directions are live at once.
        if (++i < 20) s.write(Buffer.from(`b${i}`));
        else s.end();
      });
      s.on('end', resolve);
      s.on('error', reject);
      s.write(Buffer.from('b0'));
    });
    expect(echoed).toEqual(Array.from({ length: 20 }, (_, i) => `re:b${i}`));
  });

  it('carries a 10 MiB message each way', async () => {
    const c = client(HOST);
    const big = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = c.serverStream(Buffer.from('big:1'));
      s.on('data', (b: Buffer) => chunks.push(b));
      s.on('end', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    });
    expect(big.length).toBe(10 * MiB);
    expect(sha(big)).toBe(sha(Buffer.alloc(10 * MiB, 7)));
    const up = randomBytes(10 * MiB);
    const summary = await new Promise<Buffer>((resolve, reject) => {
      const s = c.clientStream((err, res) => (err ? reject(err) : resolve(res as Buffer)));
      s.write(up);
      s.end();
    });
    expect(JSON.parse(summary.toString())).toEqual({ count: 1, size: up.length, sha: sha(up) });
  });

  it('passes the deadline on (grpc-timeout) and ends a call past it with DEADLINE_EXCEEDED', async () => {
    const r = await unary(client(HOST), 'slow', new grpc.Metadata(), { deadline: Date.now() + 400 });
    expect(r.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // The backend got a deadline of its own (grpc-timeout reached it), at most the client's.
    const deadline = Number(plain.seen.deadline);
    expect(Number.isFinite(deadline)).toBe(true);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 400);
  });

  it('cancels the upstream call when the client cancels', async () => {
    const before = plain.seen.cancelled;
    const started = new Promise<void>((r) => (plain.seen.onCall = r));
    const s = client(HOST).serverStream(Buffer.from('forever:0'));
    s.on('error', () => undefined);
    await started;
    await new Promise<void>((r) => s.once('data', () => r()));
    s.cancel();
    await pollUntil('the backend to see the call cancelled', async () => (plain.seen.cancelled > before ? true : undefined), 10_000, 20);
    plain.seen.onCall = null;
  });

  it('reaches a GRPCS backend over TLS', async () => {
    const r = await unary(client('secure.grpc.test'), 'tls');
    expect(r.err).toBeNull();
    expect(r.res?.toString()).toBe('echo:tls');
  });

  it('answers UNAVAILABLE (grpc-status 14), not an HTML or plain 503, when no endpoint is ready', async () => {
    const r = await unary(client('none.grpc.test'), 'anyone?');
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.err?.details).toBe('no endpoint is ready');
  });

  it('refuses a client outside the route\'s allowlist-source-range with PERMISSION_DENIED, before any upstream call', async () => {
    plain.seen.metadata = null;
    const r = await unary(client('denied.grpc.test'), 'let me in');
    expect(r.err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(plain.seen.metadata).toBeNull();
  });

  it('proxies HTTP/2 to a Service port with appProtocol kubernetes.io/h2c (no annotation)', async () => {
    const session = h2connect(`https://127.0.0.1:${flusso.httpsPort}`, { ca: pki.caPem, servername: 'h2c.grpc.test' });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const s = session.request({ ':path': '/h2c/echo?x=1', ':authority': 'h2c.grpc.test' });
        let text = '';
        s.on('data', (c: Buffer) => (text += c.toString()));
        s.on('end', () => resolve(text));
        s.on('error', reject);
      });
      expect(JSON.parse(body)).toEqual({ path: '/h2c/echo?x=1', version: '2.0', authority: 'h2c.grpc.test' });
    } finally {
      session.close();
    }
  });
});

describe('ingress-nginx annotations on routes to HTTP/2 backends (as on HTTP/1.1 routes)', () => {
  let main: Awaited<ReturnType<typeof startGrpcBackend>>;
  let canary: Awaited<ReturnType<typeof startGrpcBackend>>;
  let h2c: Http2Server;
  let h2cSecond: Http2Server;
  let h2cRequests = 0;
  let auth: HttpServer;
  /** What the auth service was asked: each check's Authorization field. */
  const authAsked: string[] = [];
  let flusso: FlussoProcess;
  const clients: EchoClient[] = [];
  const client = (host: string): EchoClient => {
    const c = new EchoClientCtor(`127.0.0.1:${flusso.httpsPort}`, grpc.credentials.createSsl(Buffer.from(pki.caPem)), { ...LIMITS, 'grpc.ssl_target_name_override': host, 'grpc.default_authority': host });
    clients.push(c);
    return c;
  };
  /** call makes one unary call; the answer, its error, and the response's initial metadata. */
  const call = (c: EchoClient, body: string, md = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; res?: Buffer; initial?: grpc.Metadata }> =>
    new Promise((resolve) => {
      let initial: grpc.Metadata | undefined;
      const x = c.unary(Buffer.from(body), md, {}, (err, res) => setImmediate(() => resolve({ err, ...(res === undefined ? {} : { res }), ...(initial === undefined ? {} : { initial }) })));
      x.on('metadata', (m: grpc.Metadata) => (initial = m));
    });
  /** h2 makes one plain HTTP/2 request through the HTTPS port. */
  const h2 = async (host: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: string }> => {
    const session = h2connect(`https://127.0.0.1:${flusso.httpsPort}`, { ca: pki.caPem, servername: host });
    try {
      return await new Promise((resolve, reject) => {
        const st = session.request({ ':authority': host, ...headers });
        let got: Record<string, unknown> = {};
        let body = '';
        st.on('response', (h) => (got = h));
        st.on('data', (c: Buffer) => (body += c.toString()));
        st.on('end', () => resolve({ status: Number(got[':status']), headers: got, body }));
        st.on('error', reject);
      });
    } finally {
      session.close();
    }
  };
  const N = 'nginx.ingress.kubernetes.io/';

  beforeAll(async () => {
    main = await startGrpcBackend(grpc.ServerCredentials.createInsecure());
    canary = await startGrpcBackend(grpc.ServerCredentials.createInsecure());
    // Plain HTTP/2 endpoints: one on 127.0.0.1, and one on 127.0.0.2 at the same port for the two-endpoint Service.
    const answer = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
      h2cRequests++;
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-team', 'from-the-backend');
      res.end(JSON.stringify({ path: req.url, via: req.headers['x-via'] ?? null, at: req.socket.localAddress }));
    };
    h2c = createH2cServer(answer);
    await new Promise<void>((r) => h2c.listen(0, '127.0.0.1', r));
    const h2cPort = (h2c.address() as AddressInfo).port;
    h2cSecond = createH2cServer(answer);
    await new Promise<void>((r) => h2cSecond.listen(h2cPort, '127.0.0.2', r));
    // auth-url's service: token "good" passes with X-User; anything else is 401.
    auth = createHttpServer((req, res) => {
      authAsked.push(String(req.headers.authorization ?? ''));
      if (req.headers.authorization === 'Bearer good') res.writeHead(200, { 'x-user': 'ann' }).end();
      else res.writeHead(401).end();
    });
    await new Promise<void>((r) => auth.listen(0, '127.0.0.1', r));
    const authPort = (auth.address() as AddressInfo).port;
    const hosts = ['shaped.grpc.test', 'limited.grpc.test', 'web.grpc.test', 'sticky.grpc.test', 'hashed.grpc.test', 'basic.grpc.test', 'external.grpc.test'];
    const configMap = (name: string, data: Record<string, string>): K8sObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: NS, name }, data });
    const dir = await manifestDir();
    await dir.write('all.yaml', [
      ingressClass('flusso'),
      tlsSecret(NS, 'grpc-cert', pki.valid(hosts)),
      configMap('hdrs', { 'X-Team': 'blue' }),
      configMap('proxy', { 'X-Via': 'flusso' }),
      grpcService('echo', main.port),
      endpointSlice(NS, 'echo', ['127.0.0.1'], main.port),
      grpcService('echo-canary', canary.port),
      endpointSlice(NS, 'echo-canary', ['127.0.0.1'], canary.port),
      {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'h2c-echo', namespace: NS },
        spec: { ports: [{ name: 'second-port', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c', port: 8081, targetPort: h2cPort }] },
      },
      endpointSlice(NS, 'h2c-echo', ['127.0.0.1'], h2cPort, { portName: 'second-port' }),
      {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'h2c-pair', namespace: NS },
        spec: { ports: [{ protocol: 'TCP', appProtocol: 'kubernetes.io/h2c', port: 80, targetPort: h2cPort }] },
      },
      endpointSlice(NS, 'h2c-pair', ['127.0.0.1', '127.0.0.2'], h2cPort),
      { apiVersion: 'v1', kind: 'Secret', metadata: { namespace: NS, name: 'users' }, type: 'Opaque', stringData: { auth: `ann:{PLAIN}ann-pass\nbob:${bcrypt.hashSync('bob-pass', 4)}\n` } },
      grpcIngress('basic', 'basic.grpc.test', 'echo', 'GRPC', { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'users' }),
      grpcIngress('external', 'external.grpc.test', 'echo', 'GRPC', { [`${N}auth-url`]: `http://127.0.0.1:${authPort}/check`, [`${N}auth-response-headers`]: 'X-User' }),
      grpcIngress('sticky', 'sticky.grpc.test', 'h2c-pair', undefined, { [`${N}affinity`]: 'cookie' }),
      grpcIngress('hashed', 'hashed.grpc.test', 'h2c-pair', undefined, { [`${N}upstream-hash-by`]: '$http_x_key' }),
      grpcIngress('shaped', 'shaped.grpc.test', 'echo', 'GRPC', { [`${N}custom-headers`]: `${NS}/hdrs` }),
      // The canary Ingress names no backend-protocol: its backend is spoken to in the main route's, as ingress-nginx does.
      grpcIngress('shaped-canary', 'shaped.grpc.test', 'echo-canary', undefined, { [`${N}canary`]: 'true', [`${N}canary-by-header`]: 'x-canary' }),
      grpcIngress('limited', 'limited.grpc.test', 'echo', 'GRPC', { [`${N}limit-rps`]: '1', [`${N}limit-burst-multiplier`]: '1' }),
      grpcIngress('web', 'web.grpc.test', 'h2c-echo', undefined, { [`${N}rewrite-target`]: '/inner', [`${N}enable-cors`]: 'true', [`${N}custom-headers`]: `${NS}/hdrs` }),
    ]);
    flusso = await startFlusso({ manifestsDir: dir.dir, workers: 1, args: ['--global-allowed-response-headers', 'X-Team', '--proxy-set-headers', `${NS}/proxy`] });
    await flusso.waitForGeneration(1);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await flusso?.stop();
    main?.server.forceShutdown();
    canary?.server.forceShutdown();
    h2c?.close();
    h2cSecond?.close();
    auth?.close();
  });

  it('gRPC: auth-type basic lets a call with the right password through without its Authorization; others get UNAUTHENTICATED before the backend', async () => {
    const basic = (user: string, password: string): grpc.Metadata => {
      const md = new grpc.Metadata();
      md.set('authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
      return md;
    };
    const c = client('basic.grpc.test');
    // {PLAIN} is checked at once, bcrypt on the worker's verifier thread (the call waits for it).
    for (const [user, password] of [['ann', 'ann-pass'], ['bob', 'bob-pass']] as const) {
      const ok = await call(c, `hi ${user}`, basic(user, password));
      expect([user, ok.err, ok.res?.toString()]).toEqual([user, null, `echo:hi ${user}`]);
      expect(main.seen.metadata?.get('authorization')).toEqual([]);
    }
    const before = main.seen.calls;
    for (const md of [basic('ann', 'wrong'), basic('bob', 'wrong'), new grpc.Metadata()]) {
      const r = await call(c, 'let me in', md);
      expect([r.err?.code, r.err?.details]).toEqual([grpc.status.UNAUTHENTICATED, '401 Unauthorized']);
    }
    expect(main.seen.calls).toBe(before);
  });

  it('gRPC: auth-url asks the auth service; allowed calls carry its auth-response-headers, refused ones get UNAUTHENTICATED', async () => {
    const token = (t: string): grpc.Metadata => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${t}`);
      md.set('x-user', 'forged');
      return md;
    };
    const c = client('external.grpc.test');
    const ok = await call(c, 'in', token('good'));
    expect([ok.err, ok.res?.toString(), main.seen.metadata?.get('x-user')]).toEqual([null, 'echo:in', ['ann']]);
    const before = main.seen.calls;
    const refused = await call(c, 'out', token('bad'));
    expect(refused.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(main.seen.calls).toBe(before);
    expect(authAsked.slice(-2)).toEqual(['Bearer good', 'Bearer bad']);
  });

  it('gRPC: custom-headers in the response metadata, proxy-set-headers to the backend, canary-by-header to the canary', async () => {
    const plain = await call(client('shaped.grpc.test'), 'main');
    expect(plain.err).toBeNull();
    expect(plain.res?.toString()).toBe('echo:main');
    expect(plain.initial?.get('x-team')).toEqual(['blue']);
    // Flusso's Server field, as on every other answer of the port.
    expect(plain.initial?.get('server')).toEqual(['flusso']);
    expect(main.seen.metadata?.get('x-via')).toEqual(['flusso']);
    const md = new grpc.Metadata();
    md.set('x-canary', 'always');
    const before = main.seen.calls;
    const toCanary = await call(client('shaped.grpc.test'), 'canary', md);
    expect(toCanary.err).toBeNull();
    expect([canary.seen.calls, main.seen.calls - before]).toEqual([1, 0]);
    expect(canary.seen.metadata?.get('x-via')).toEqual(['flusso']);
  });

  it('gRPC: limit-rps refuses calls over the limit with UNAVAILABLE before the backend', async () => {
    const c = client('limited.grpc.test');
    const before = main.seen.calls;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => call(c, `n${i}`)));
    const ok = results.filter((r) => r.err === null).length;
    const refused = results.filter((r) => r.err?.code === grpc.status.UNAVAILABLE && r.err.details === '503 Service Unavailable');
    expect(ok).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(ok + refused.length).toBe(10);
    expect(main.seen.calls - before).toBe(ok);
  });

  it('HTTP/2 (h2c): rewrite-target, CORS with a preflight Flusso answers itself, and custom-headers in place of the backend\'s', async () => {
    const got = await h2('web.grpc.test', { ':path': '/some/where?x=1', origin: 'https://app.example' });
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body)).toMatchObject({ path: '/inner?x=1', via: 'flusso' });
    expect([got.headers['x-team'], got.headers['access-control-allow-origin'], got.headers.server]).toEqual(['blue', '*', 'flusso']);
    // HSTS (on by default) as on every HTTPS answer.
    expect(got.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const seen = h2cRequests;
    const pre = await h2('web.grpc.test', { ':method': 'OPTIONS', ':path': '/some/where', origin: 'https://app.example', 'access-control-request-method': 'PUT' });
    expect([pre.status, pre.headers['access-control-allow-origin'], pre.headers['x-team'], pre.headers['content-length'], h2cRequests - seen]).toEqual([204, '*', 'blue', undefined, 0]);
    expect(String(pre.headers['access-control-allow-methods'])).toContain('PUT');
  });

  it('HTTP/2 (h2c): affinity: cookie keeps a client on its endpoint; upstream-hash-by sends one key to one endpoint', async () => {
    const at = async (host: string, headers: Record<string, string> = {}): Promise<{ at: string; cookie: unknown }> => {
      const got = await h2(host, { ':path': '/', ...headers });
      return { at: (JSON.parse(got.body) as { at: string }).at, cookie: got.headers['set-cookie'] };
    };
    // Without a cookie or a key the two endpoints take turns.
    const turns = new Set<string>();
    for (let i = 0; i < 4; i++) turns.add((await at('sticky.grpc.test')).at);
    expect([...turns].sort()).toEqual(['127.0.0.1', '127.0.0.2']);
    const first = await at('sticky.grpc.test');
    const cookie = String(([] as unknown[]).concat(first.cookie)[0]).split(';')[0]!;
    expect(cookie).toMatch(/^INGRESSCOOKIE=[0-9a-f]{32}$/);
    const kept = new Set<string>();
    for (let i = 0; i < 6; i++) kept.add((await at('sticky.grpc.test', { cookie })).at);
    expect([...kept]).toEqual([first.at]);
    for (const key of ['alpha', 'beta']) {
      const hashed = new Set<string>();
      for (let i = 0; i < 6; i++) hashed.add((await at('hashed.grpc.test', { 'x-key': key })).at);
      expect([key, hashed.size]).toEqual([key, 1]);
    }
  });
});
