/**
 * A fake kube-apiserver for tests: real HTTP on 127.0.0.1 speaking the list/watch wire protocol
 * of the Kubernetes API (lists with resourceVersion, chunked newline-delimited
 * watch streams, BOOKMARK, ERROR 410 then close, status subresource writes with optimistic
 * concurrency, Leases), plus fault knobs. Every server started here is closed after the test file.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { jsonPatch, mergePatch, selectorOf } from './fake-apiserver-rules.js';

/** ApiObject is a stored object as plain JSON. */
export type ApiObject = Record<string, unknown> & { metadata: Record<string, unknown> };

interface Resource {
  readonly plural: string;
  readonly prefix: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespaced: boolean;
}

/** RESOURCES are the collections the fake serves, by plural. */
const RESOURCES: readonly Resource[] = [
  { plural: 'ingressclasses', prefix: '/apis/networking.k8s.io/v1', kind: 'IngressClass', apiVersion: 'networking.k8s.io/v1', namespaced: false },
  { plural: 'ingresses', prefix: '/apis/networking.k8s.io/v1', kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', namespaced: true },
  { plural: 'services', prefix: '/api/v1', kind: 'Service', apiVersion: 'v1', namespaced: true },
  { plural: 'endpointslices', prefix: '/apis/discovery.k8s.io/v1', kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', namespaced: true },
  { plural: 'configmaps', prefix: '/api/v1', kind: 'ConfigMap', apiVersion: 'v1', namespaced: true },
  { plural: 'secrets', prefix: '/api/v1', kind: 'Secret', apiVersion: 'v1', namespaced: true },
  { plural: 'leases', prefix: '/apis/coordination.k8s.io/v1', kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', namespaced: true },
];
const BY_KIND = new Map(RESOURCES.map((r) => [r.kind, r]));
const PATH = /^(\/api\/v1|\/apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?(?:\/(status))?$/;

/** Faults are the failure modes a test can switch on. */
export interface Faults {
  /** Answer every list (not watch) with this HTTP status. */
  listStatus?: number;
  /** Hold watches open but send nothing (events are not delivered to them, as over a half-open connection). */
  silent?: boolean;
}

/** RecordedRequest is one request the server saw. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
  /** The bearer token sent, if any (tells replicas apart when each has its own kubeconfig). */
  readonly token: string | undefined;
}

interface Watcher {
  readonly res: ServerResponse;
  readonly resource: Resource;
  readonly namespace: string | undefined;
  readonly match: (o: ApiObject) => boolean;
  readonly bookmarks: boolean;
  silent: boolean;
}

interface HistoryEntry {
  readonly rv: number;
  readonly resource: Resource;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: ApiObject;
}

/** FakeApiServerOptions configures startFakeApiServer. */
export interface FakeApiServerOptions {
  /** Bearer token required on every request (default `test-token`); null accepts any request. */
  readonly token?: string | null;
  /** Events kept for watches from an old resourceVersion (default 1000). */
  readonly historySize?: number;
}

/** FakeApiServer is a running fake kube-apiserver. */
export interface FakeApiServer {
  readonly url: string;
  readonly port: number;
  /** apply creates or replaces an object (kind and apiVersion set) and returns the stored copy. */
  apply(obj: Record<string, unknown>): ApiObject;
  /** remove deletes an object; it returns whether one was there. */
  remove(kind: string, namespace: string | undefined, name: string): boolean;
  get(kind: string, namespace: string | undefined, name: string): ApiObject | undefined;
  list(kind: string): ApiObject[];
  setFault(faults: Faults): void;
  /** dropConnections destroys every open connection (watches included). */
  dropConnections(): void;
  /** expireAll makes every resourceVersion so far too old: open watches get ERROR 410 and close. */
  expireAll(): void;
  /** bookmark sends a BOOKMARK to every watch that asked for them. */
  bookmark(): void;
  /** down closes the listener and every connection; up listens again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  requests(): RecordedRequest[];
  /** watchCount is the number of open watch streams. */
  watchCount(): number;
  /** kubeconfigFile writes a kubeconfig for this server (with `token`, default the server's) and returns its path. */
  kubeconfigFile(token?: string): Promise<string>;
  close(): Promise<void>;
}

const open = new Set<FakeApiServer>();
afterAll(async () => {
  await Promise.all([...open].map((s) => s.close()));
});

/** startFakeApiServer listens on 127.0.0.1, port 0. */
export async function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const token = opts.token === undefined ? 'test-token' : opts.token;
  const historySize = opts.historySize ?? 1000;
  const store = new Map<string, Map<string, ApiObject>>(RESOURCES.map((r) => [r.plural, new Map()]));
  const history: HistoryEntry[] = [];
  const watchers = new Set<Watcher>();
  const sockets = new Set<Socket>();
  const recorded: RecordedRequest[] = [];
  let rv = 1;
  /** Watches from a resourceVersion below this one get 410. */
  let oldestRv = 1;
  let faults: Faults = {};
  let port = 0;
  let server: Server | undefined;
  let dir: string | undefined;

  const keyOf = (ns: string | undefined, name: string): string => (ns === undefined ? name : `${ns}/${name}`);
  const resourceOf = (kind: string): Resource => {
    const r = BY_KIND.get(kind);
    if (r === undefined) throw new Error(`fake apiserver: unknown kind ${kind}`);
    return r;
  };

  /**
   * record tells the watchers of a change. As the real watch cache does, a change that makes an
   * object match a watch's selectors is ADDED for it, and one that makes it stop matching is
   * DELETED (the previous object at the new resourceVersion).
   */
  const record = (resource: Resource, type: HistoryEntry['type'], object: ApiObject, previous?: ApiObject): void => {
    history.push({ rv, resource, type, object });
    if (history.length > historySize) oldestRv = (history.shift() as HistoryEntry).rv;
    for (const w of watchers) {
      if (w.resource !== resource || w.silent || faults.silent === true) continue;
      if (w.namespace !== undefined && object.metadata.namespace !== w.namespace) continue;
      const now = w.match(object);
      const before = type === 'MODIFIED' && previous !== undefined ? w.match(previous) : now;
      if (now && before) send(w.res, type, object);
      else if (now) send(w.res, 'ADDED', object);
      else if (before) send(w.res, 'DELETED', { ...(previous as ApiObject), metadata: { ...(previous as ApiObject).metadata, resourceVersion: object.metadata.resourceVersion } });
    }
  };

  /** write stores `obj` under a new resourceVersion and tells the watchers. */
  const write = (resource: Resource, obj: ApiObject, type: 'ADDED' | 'MODIFIED'): ApiObject => {
    rv++;
    const stored: ApiObject = { ...obj, kind: resource.kind, apiVersion: resource.apiVersion, metadata: { ...obj.metadata, resourceVersion: String(rv) } };
    const ns = resource.namespaced ? (stored.metadata.namespace as string | undefined) ?? 'default' : undefined;
    if (ns !== undefined) stored.metadata.namespace = ns;
    const key = keyOf(ns, stored.metadata.name as string);
    const previous = store.get(resource.plural)?.get(key);
    store.get(resource.plural)?.set(key, stored);
    record(resource, type, stored, previous);
    return stored;
  };

  const create = (resource: Resource, obj: ApiObject): ApiObject =>
    write(resource, { ...obj, metadata: { uid: randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), generation: 1, ...obj.metadata } }, 'ADDED');

  const del = (resource: Resource, ns: string | undefined, name: string): ApiObject | undefined => {
    const objects = store.get(resource.plural) as Map<string, ApiObject>;
    const key = keyOf(resource.namespaced ? ns ?? 'default' : undefined, name);
    const old = objects.get(key);
    if (old === undefined) return undefined;
    objects.delete(key);
    rv++;
    const last = { ...old, metadata: { ...old.metadata, resourceVersion: String(rv) } };
    record(resource, 'DELETED', last);
    return last;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const text = await readBody(req);
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      return status(res, 400, 'BadRequest', 'body is not JSON');
    }
    const sentToken = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    recorded.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body, token: sentToken });
    if (token !== null && req.headers.authorization !== `Bearer ${token}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    const m = PATH.exec(url.pathname);
    const resource = m && RESOURCES.find((r) => r.plural === m[3] && r.prefix === m[1]);
    if (!m || !resource || (m[2] !== undefined && !resource.namespaced)) return status(res, 404, 'NotFound', `the server could not find the requested resource ${url.pathname}`);
    const ns = m[2];
    const name = m[4] !== undefined ? decodeURIComponent(m[4]) : undefined;
    const sub = m[5];
    const objects = store.get(resource.plural) as Map<string, ApiObject>;
    const key = name === undefined ? undefined : keyOf(resource.namespaced ? ns : undefined, name);
    const current = key === undefined ? undefined : objects.get(key);
    const notFound = (): void => status(res, 404, 'NotFound', `${resource.plural} "${name}" not found`);
    const method = req.method ?? 'GET';

    if (name === undefined && method === 'GET') {
      const match = selectorOf(url.searchParams);
      if (match === undefined) return status(res, 400, 'BadRequest', 'unsupported selector');
      const watch = url.searchParams.get('watch');
      if (watch === 'true' || watch === '1') return startWatch(res, resource, ns, match, url.searchParams);
      if (faults.listStatus !== undefined) return status(res, faults.listStatus, 'InternalError', 'injected list failure');
      const items = [...objects.values()]
        .filter((o) => (ns === undefined || o.metadata.namespace === ns) && match(o))
        .map(({ kind: _k, apiVersion: _a, ...item }) => item);
      return json(res, 200, { kind: `${resource.kind}List`, apiVersion: resource.apiVersion, metadata: { resourceVersion: String(rv) }, items });
    }
    if (name === undefined && method === 'POST') {
      const obj = body as ApiObject | undefined;
      const objName = obj?.metadata?.name;
      if (obj === undefined || typeof objName !== 'string') return status(res, 422, 'Invalid', 'metadata.name is required');
      if (objects.has(keyOf(resource.namespaced ? ns : undefined, objName))) return status(res, 409, 'AlreadyExists', `${resource.plural} "${objName}" already exists`);
      return json(res, 201, create(resource, { ...obj, metadata: { ...obj.metadata, ...(ns === undefined ? {} : { namespace: ns }) } }));
    }
    if (name === undefined) return status(res, 405, 'MethodNotAllowed', 'method not allowed');
    if (current === undefined) return notFound();
    if (method === 'GET') return json(res, 200, current);
    if (method === 'DELETE' && sub === undefined) return json(res, 200, del(resource, ns, name));
    if (method !== 'PUT' && method !== 'PATCH') return status(res, 405, 'MethodNotAllowed', 'method not allowed');

    let next: ApiObject;
    if (method === 'PUT') {
      const obj = body as ApiObject | undefined;
      if (obj?.metadata === undefined) return status(res, 422, 'Invalid', 'metadata is required');
      const given = obj.metadata.resourceVersion;
      if (given !== undefined && given !== current.metadata.resourceVersion) return conflict(res, resource, name);
      next = obj;
    } else {
      const type = req.headers['content-type']?.split(';')[0]?.trim();
      try {
        if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') next = mergePatch(current, body) as ApiObject;
        else if (type === 'application/json-patch+json') next = jsonPatch(current, body);
        else return status(res, 415, 'UnsupportedMediaType', `unsupported patch type ${String(type)}`);
      } catch (err) {
        return status(res, 422, 'Invalid', (err as Error).message);
      }
      const given = (next.metadata as Record<string, unknown> | undefined)?.resourceVersion;
      if (given !== undefined && given !== current.metadata.resourceVersion) return conflict(res, resource, name);
    }
    // The status subresource persists only .status; the main resource everything but .status.
    const merged: ApiObject =
      sub === 'status'
        ? { ...current, status: next.status }
        : { ...next, metadata: { ...current.metadata, ...next.metadata, namespace: current.metadata.namespace, name }, ...(current.status === undefined ? {} : { status: current.status }) };
    if (sub === undefined && resource.kind !== 'Lease' && resource.kind !== 'Secret')
      merged.metadata.generation = Number(current.metadata.generation ?? 1) + 1;
    return json(res, 200, write(resource, merged, 'MODIFIED'));
  };

  const startWatch = (res: ServerResponse, resource: Resource, ns: string | undefined, match: (o: ApiObject) => boolean, q: URLSearchParams): void => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const from = q.get('resourceVersion');
    const inScope = (o: ApiObject): boolean => (ns === undefined || o.metadata.namespace === ns) && match(o);
    if (from !== null && from !== '' && from !== '0' && Number(from) < oldestRv) {
      send(res, 'ERROR', expiredStatus(from, rv));
      res.end();
      return;
    }
    const w: Watcher = { res, resource, namespace: ns, match, bookmarks: q.get('allowWatchBookmarks') === 'true', silent: faults.silent === true };
    if (!w.silent) {
      if (from === null || from === '' || from === '0') {
        for (const o of store.get(resource.plural)?.values() ?? []) if (inScope(o)) send(res, 'ADDED', o);
      } else {
        for (const e of history) if (e.rv > Number(from) && e.resource === resource && inScope(e.object)) send(res, e.type, e.object);
      }
    }
    watchers.add(w);
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on('close', () => {
      clearTimeout(timer);
      watchers.delete(w);
    });
  };

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          if (!res.headersSent) status(res, 500, 'InternalError', String(err));
          else res.destroy();
        });
      });
      s.on('connection', (sock) => {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
      });
      s.once('error', reject);
      s.listen({ host: '127.0.0.1', port }, () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });

  const dropConnections = (): void => {
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    watchers.clear();
  };

  const down = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (s === undefined) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    dropConnections();
    await closed;
  };

  await listen();
  const api: FakeApiServer = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    apply(obj) {
      const resource = resourceOf(String(obj.kind));
      const meta = (obj.metadata ?? {}) as Record<string, unknown>;
      const ns = resource.namespaced ? (meta.namespace as string | undefined) ?? 'default' : undefined;
      const current = store.get(resource.plural)?.get(keyOf(ns, String(meta.name)));
      const copy = structuredClone(obj) as ApiObject;
      if (current === undefined) return create(resource, copy);
      return write(resource, { ...copy, metadata: { ...current.metadata, ...copy.metadata, generation: Number(current.metadata.generation ?? 1) + 1 } }, 'MODIFIED');
    },
    remove: (kind, namespace, name) => del(resourceOf(kind), namespace, name) !== undefined,
    get: (kind, namespace, name) => {
      const resource = resourceOf(kind);
      return store.get(resource.plural)?.get(keyOf(resource.namespaced ? namespace ?? 'default' : undefined, name));
    },
    list: (kind) => [...(store.get(resourceOf(kind).plural)?.values() ?? [])],
    setFault(f) {
      faults = { ...f };
      if (f.silent !== true) for (const w of watchers) w.silent = false;
    },
    dropConnections,
    expireAll() {
      // A watch from the current resourceVersion (what a relist returns) is still answerable.
      oldestRv = rv;
      history.length = 0;
      for (const w of [...watchers]) {
        send(w.res, 'ERROR', expiredStatus('0', rv));
        w.res.end();
        watchers.delete(w);
      }
    },
    bookmark() {
      for (const w of watchers) if (w.bookmarks && !w.silent && faults.silent !== true) send(w.res, 'BOOKMARK', { kind: w.resource.kind, apiVersion: w.resource.apiVersion, metadata: { resourceVersion: String(rv) } });
    },
    down,
    up: listen,
    requests: () => [...recorded],
    watchCount: () => watchers.size,
    async kubeconfigFile(as) {
      dir ??= await mkdtemp(join(tmpdir(), 'flusso-kubeconfig-'));
      const file = join(dir, `kubeconfig-${randomUUID()}.json`);
      await writeFile(file, JSON.stringify(kubeconfigFor(`http://127.0.0.1:${port}`, as ?? token)));
      return file;
    },
    async close() {
      open.delete(api);
      await down();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
  open.add(api);
  return api;
}

/** kubeconfigFor is a kubeconfig (JSON is valid YAML) for a plain-HTTP loopback server. */
export function kubeconfigFor(server: string, token: string | null): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: token === null ? {} : { token } }],
    contexts: [{ name: 'c', context: { cluster: 'fake', user: 'u', namespace: 'default' } }],
    'current-context': 'c',
  };
}

function send(res: ServerResponse, type: string, object: unknown): void {
  if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
}

function expiredStatus(requested: string, current: number): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${requested} (${current})`, reason: 'Expired', code: 410 };
}

function json(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

function conflict(res: ServerResponse, resource: Resource, name: string): void {
  status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${resource.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (text += d));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}
