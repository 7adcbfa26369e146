/**
 * The admin JSON API under /api/v1/: reads (routes, backends, workers, diagnostics, overrides,
 * the route explainer, the response cache, the TLS certificates) and mutations (drain/undrain
 * an endpoint, override a weight, purge caches). It is a plain function from a parsed request to
 * a status and a JSON body, so it is tested without sockets; app.ts does authentication and the
 * uWS plumbing. Only the purge answers asynchronously: it waits for every worker.
 */
import type { ClientAddressSettings } from '../../shared/client-address.js';
import type { Diagnostic } from '../../shared/errors.js';
import { overrideKey, splitObjectKey } from '../../shared/keys.js';
import type { CachePurgeSelector } from '../../shared/messages.js';
import type { RoutingTable } from '../../shared/snapshot.js';
import { explainRoute } from '../explain.js';
import { annotationsInForce } from '../explain-annotations.js';
import type { CacheFigures } from '../metrics/cache.js';
import { MAX_WEIGHT, type OverrideStore } from '../overrides.js';
import type { CertificateStatus } from '../tls/manager.js';
import type { CachePurgeResult, WorkerStatus } from '../workers.js';
import { parsePurgeRequest } from './cache-purge.js';
import { cacheView } from './cache-view.js';
import { certificatesView } from './certificates-view.js';

/** PURGE_TIMEOUT_MS bounds how long a purge waits for the workers' answers. */
export const PURGE_TIMEOUT_MS = 2000;

/** ServiceFigures are live traffic figures of one backend Service, for the backends view. */
export interface ServiceFigures {
  readonly requests: number;
  readonly errors: number;
  /** Proxied WebSockets: upgrades the backend accepted, open now, messages client → backend (in) and back (out). */
  readonly websocketsOpened?: number;
  readonly websocketsOpen?: number;
  readonly websocketMessagesIn?: number;
  readonly websocketMessagesOut?: number;
}

/** AdminContext is everything the API reads and changes; the composition root provides it. */
export interface AdminContext {
  ready(): boolean;
  /** health lists why the process cannot serve (workers that cannot bind a listener, …); empty: /healthz 200. */
  health?(): readonly string[];
  generation(): number;
  workers(): readonly WorkerStatus[];
  diagnostics(): readonly Diagnostic[];
  table(): RoutingTable | null;
  readonly overrides: OverrideStore;
  /** publishOverrides sends a snapshot with the current overrides to every worker; returns its generation. */
  publishOverrides(): number;
  serviceFigures(): ReadonlyMap<string, ServiceFigures>;
  /** purgeCache drops matching cached responses in every worker (WorkerPool.purgeCache). */
  purgeCache(selector: CachePurgeSelector, timeoutMs: number): Promise<CachePurgeResult>;
  /** cacheFigures are the response-cache figures the workers reported. */
  cacheFigures(): CacheFigures;
  /** certificates are the TLS manager's rows (TlsManager.certificates): never any key material. */
  certificates(): readonly CertificateStatus[];
  /** The trusted-proxy settings (docs/client-address.md), for the explainer; absent or null: none. */
  readonly clientAddress?: ClientAddressSettings | null;
}

/** ApiRequest is a parsed admin request. */
export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
}

/** ApiResponse is what the handler answers. */
export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

const ok = (body: unknown): ApiResponse => ({ status: 200, body });
const fail = (status: number, error: string): ApiResponse => ({ status, body: { error } });

/** MUTATIONS are the POST endpoints; everything else is a read. */
export const MUTATIONS: ReadonlySet<string> = new Set(['/api/v1/endpoints/drain', '/api/v1/endpoints/undrain', '/api/v1/endpoints/weight', '/api/v1/cache/purge']);

/** handleApi answers one /api/v1/ request; a cache purge answers once the workers have. */
export function handleApi(ctx: AdminContext, req: ApiRequest): ApiResponse | Promise<ApiResponse> {
  const mutation = MUTATIONS.has(req.path);
  if (mutation && req.method !== 'POST') return fail(405, 'use POST for this endpoint');
  if (!mutation && req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'this endpoint only reads; use GET');
  switch (req.path) {
    case '/api/v1/routes':
      return ok(routes(ctx, req.query.get('search') ?? ''));
    case '/api/v1/backends':
      return ok(backends(ctx));
    case '/api/v1/workers':
      return ok({ generation: ctx.generation(), ready: ctx.ready(), workers: ctx.workers() });
    case '/api/v1/diagnostics':
      return ok({ generation: ctx.generation(), diagnostics: ctx.diagnostics() });
    case '/api/v1/overrides':
      return ok(ctx.overrides.current());
    case '/api/v1/explain': {
      const table = ctx.table();
      if (table === null) return fail(503, 'no snapshot published yet');
      const host = req.query.get('host');
      const path = req.query.get('path') ?? '/';
      if (!host) return fail(400, 'give ?host=NAME&path=/PATH (and optionally &method=OPTIONS&origin=URL&scheme=https&client=ADDRESS&header=NAME:VALUE&cookie=COOKIES)');
      const method = req.query.get('method') ?? 'GET';
      const origin = req.query.get('origin') ?? '';
      // header=NAME:VALUE (repeatable) and cookie=COOKIE-FIELD: what a canary decides on (issue 15 group 5).
      const headers = Object.fromEntries(req.query.getAll('header').map((h) => [h.slice(0, Math.max(0, h.indexOf(':'))).trim().toLowerCase(), h.slice(h.indexOf(':') + 1).trim()]));
      return ok(explainRoute(table, host, path, { method: method.toUpperCase(), origin, scheme: req.query.get('scheme') === 'https' ? 'https' : 'http', clientAddress: req.query.get('client') ?? '', trust: ctx.clientAddress ?? null, headers, cookie: req.query.get('cookie') ?? '' }));
    }
    case '/api/v1/endpoints/drain':
    case '/api/v1/endpoints/undrain':
    case '/api/v1/endpoints/weight':
      return mutateEndpoint(ctx, req);
    case '/api/v1/cache':
      return ok({ generation: ctx.generation(), ...cacheView(ctx.table(), ctx.cacheFigures()) });
    case '/api/v1/cache/purge':
      return purge(ctx, req.body);
    case '/api/v1/certificates':
      return ok({ generation: ctx.generation(), certificates: certificatesView(ctx.certificates(), new Date()) });
    default:
      return fail(404, 'no such admin endpoint');
  }
}

function routes(ctx: AdminContext, search: string): unknown {
  const table = ctx.table();
  const needle = search.trim().toLowerCase();
  const rows = [];
  for (const vh of table?.hosts ?? [])
    for (const r of vh.routes) {
      const annotations = annotationsInForce(r);
      const row = { host: vh.host, match: r.match, path: r.path, backend: r.backend, source: r.source, cache: r.cache ? { ttlSeconds: r.cache.ttlSeconds } : null, ...(annotations.length === 0 ? {} : { annotations }) };
      if (needle === '' || `${row.host} ${row.path} ${row.backend} ${row.source}`.toLowerCase().includes(needle)) rows.push(row);
    }
  const db = table?.defaultBackend ?? null;
  return { generation: ctx.generation(), routes: rows, defaultBackend: db && { ...db, cache: db.cache ? { ttlSeconds: db.cache.ttlSeconds } : null } };
}

async function purge(ctx: AdminContext, body: unknown): Promise<ApiResponse> {
  const req = parsePurgeRequest(body);
  if (!req.ok) return fail(400, req.error);
  const r = await ctx.purgeCache(req.selector, PURGE_TIMEOUT_MS);
  if (r.workers === 0) return fail(503, 'no worker is running: nothing to purge');
  return ok({ purged: r.purged, workers: r.workers, answered: r.answered, selector: req.selector });
}

function backends(ctx: AdminContext): unknown {
  const figures = ctx.serviceFigures();
  const overrides = ctx.overrides;
  return {
    generation: ctx.generation(),
    backends: (ctx.table()?.backends ?? []).map((c) => {
      const f = figures.get(c.service);
      return {
        id: c.id,
        service: c.service,
        namespace: splitObjectKey(c.service).namespace,
        servicePort: c.servicePort,
        loadBalancer: c.loadBalancer,
        requests: f?.requests ?? 0,
        errors: f?.errors ?? 0,
        websockets: { open: f?.websocketsOpen ?? 0, opened: f?.websocketsOpened ?? 0, messagesIn: f?.websocketMessagesIn ?? 0, messagesOut: f?.websocketMessagesOut ?? 0 },
        endpoints: c.endpoints.map((e) => {
          const key = overrideKey(c.id, e.address, e.port);
          const drained = overrides.isDrained(key);
          const weightOverride = overrides.weight(key) ?? null;
          return {
            key,
            address: e.address,
            port: e.port,
            ready: e.ready,
            terminating: e.terminating,
            zone: e.zone ?? null,
            weight: e.weight,
            weightOverride,
            drained,
            effectiveWeight: drained ? 0 : (weightOverride ?? e.weight),
          };
        }),
      };
    }),
  };
}

function mutateEndpoint(ctx: AdminContext, req: ApiRequest): ApiResponse {
  const body = req.body;
  if (typeof body !== 'object' || body === null) return fail(400, 'send a JSON object: {"backend": "ns/svc:port", "endpoint": "ip:port"}');
  const { backend, endpoint, weight } = body as { backend?: unknown; endpoint?: unknown; weight?: unknown };
  // The field was called "cluster" before issue 16 item 5 (docs/architecture.md, "Words"): say so rather than only that it is missing.
  if (backend === undefined && 'cluster' in body) return fail(400, '"cluster" is now "backend": send {"backend": "ns/svc:port", "endpoint": "ip:port"}');
  if (typeof backend !== 'string' || typeof endpoint !== 'string') return fail(400, '"backend" and "endpoint" must be strings');
  const c = ctx.table()?.backends.find((x) => x.id === backend);
  const ep = c?.endpoints.find((e) => overrideKey(c.id, e.address, e.port) === `${backend}|${endpoint}`);
  if (c === undefined || ep === undefined) return fail(404, `no endpoint ${endpoint} in backend ${backend}`);
  const key = overrideKey(c.id, ep.address, ep.port);
  let changed: boolean;
  if (req.path.endsWith('/drain')) changed = ctx.overrides.drain(key);
  else if (req.path.endsWith('/undrain')) changed = ctx.overrides.undrain(key);
  else {
    if (weight !== null && (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT))
      return fail(400, `"weight" must be an integer from 0 to ${MAX_WEIGHT}, or null to clear the override`);
    changed = ctx.overrides.setWeight(key, weight as number | null);
  }
  const generation = changed ? ctx.publishOverrides() : ctx.generation();
  return ok({ changed, generation, overrides: ctx.overrides.current() });
}
